/**
 * What serve() adds on one runtime, loaded before the server listens and only on that runtime:
 *
 * - Node: the fast Response, a global Request that takes srvx's lazy requests, srvx's request URL
 *   without its costliest steps, one-write sending, and a request listener without srvx's second
 *   pass over a sent answer (node.ts, with src/node/*);
 * - Bun and Deno: nothing (serve() gives Bun's requests srvx's properties from one prototype per
 *   server itself, before the server listens: src/bun/requests.ts).
 *
 * @module
 */
import type { Server } from "srvx";
import type { NodeRequestListener } from "../drain.ts";
import type { NodeSending } from "./response.ts";

/** The runtime part of one server. */
export interface RuntimePart {
  /** Node's answer checks and sending. */
  sending?: NodeSending;
  /**
   * Node: puts serve()'s request listener in place of srvx's on `server` (src/node/listener.ts);
   * returns it, or undefined where srvx's stays (HTTP/2). Given back by {@link release}.
   */
  listen?(server: Server): NodeRequestListener | undefined;
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
    let releaseListener = () => {};
    return {
      sending: node.nodeSending,
      listen(server) {
        const listener = node.leanRequestListener(server);
        if (listener) releaseListener = node.useRequestListener(server, listener);
        return listener;
      },
      release() {
        releaseListener();
        releaseResponse();
        releaseURL();
        releaseRequest();
      },
    };
  }
  return { release() {} };
}
