/**
 * What serve() adds on one runtime, loaded before the server listens and only on that runtime:
 *
 * - Node: the fast Response, a global Request that takes srvx's lazy requests, srvx's request URL
 *   without its costliest steps, and one-write sending (node.ts, with src/node/*);
 * - Bun and Deno: nothing.
 *
 * @module
 */
import type { NodeSending } from "./response.ts";

/** The runtime part of one server. */
export interface RuntimePart {
  /** Node's answer checks and sending. */
  sending?: NodeSending;
  /** Gives back what the part installed (the global Response and Request on Node). */
  release(): void;
}

/** Which runtime this is (srvx picks its adapter by the same check). */
export const RUNTIME: "node" | "bun" | "deno" = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";

/** Loads this runtime's part; `fastResponse: false` keeps the native Response on Node. */
export async function loadRuntimePart(options: { fastResponse: boolean }): Promise<RuntimePart> {
  if (RUNTIME === "node") {
    const node = await import("./node.ts");
    const releaseRequest = node.installRequestConstructor();
    const releaseURL = node.installRequestURL();
    const releaseResponse = options.fastResponse ? node.installFastResponse() : () => {};
    return {
      sending: node.nodeSending,
      release() {
        releaseResponse();
        releaseURL();
        releaseRequest();
      },
    };
  }
  return { release() {} };
}
