/**
 * Whether a request names a metadata header, asked without building its `Headers` where the
 * runtime lets us. Most requests carry neither header (every request that does not come through
 * the Worker: Cloud Run, health probes, local runs), and for them building the request's Headers
 * would be the metadata stage's whole cost:
 *
 * - Node: srvx builds the Headers from node:http's header object, which node:http builds on first
 *   read; the raw header list (name, value, …) is already there.
 * - Deno (2.x): a request from `Deno.serve` fetches its header list from the runtime on first
 *   read. Measured on Deno 2.9.6 (server CPU per request, wrk -c32): two `request.headers.get()`
 *   cost ~8.5 µs a request against ~24 µs for a whole hello world; the request's own lookup of one
 *   header, ~0.5 µs each. That lookup (`header(name)` on the inner request the Request keeps under
 *   its `request` symbol) is not public API, so it is found by feature detection on the first
 *   request, checked once against `request.headers`, and given up for good when either fails:
 *   then every request reads its Headers, as on Bun.
 * - Bun: none (its Request has no single-header lookup; the first `request.headers` read costs
 *   ~2 µs). Where nothing can be trusted, the removal waits for the app's first read instead
 *   (src/bun/requests.ts, whose check the server passes in).
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import { isMetadataHeaderName, METADATA_HEADER, type MetadataTrust, SIGNATURE_HEADER } from "../metadata-header.ts";
import { createDenoMetadataRemovalDeferral } from "./deferred-metadata-removal.ts";
import { type DenoInnerRequest, innerRequestOf } from "./deno-inner-request.ts";

/**
 * True or false when the runtime could tell without the request's Headers; undefined when it
 * could not. False also where the stage has nothing left to do (Bun's deferred removal).
 */
export type MetadataPresence = (request: ServerRequest) => boolean | undefined;

/** A server's presence check, and what gives back what it holds of the process (Deno's header list wrapper). */
export interface MetadataPresenceCheck {
  presence: MetadataPresence;
  /** Gives it back once the server has closed (the last server puts the runtime's getter back); idempotent. */
  release(): void;
}

/**
 * Whether Node's raw header list (name, value, name, value, …) names a metadata header. Requests
 * from the Worker, which carry the headers, still read them the ordinary way.
 */
export function rawHeadersNameMetadata(rawHeaders: readonly string[]): boolean {
  for (let index = 0; index < rawHeaders.length; index += 2) {
    if (isMetadataHeaderName(rawHeaders[index] as string)) return true;
  }
  return false;
}

/** Node: the raw header list of srvx's node:http request, when there is one. */
const nodePresence: MetadataPresence = (request) => {
  const rawHeaders = request.runtime?.node?.req?.rawHeaders;
  return rawHeaders ? rawHeadersNameMetadata(rawHeaders) : undefined;
};

/** @internal The inner request of a `Deno.serve` request (deno-inner-request.ts), if it looks up single headers. */
function innerRequest(request: object): Required<DenoInnerRequest> | undefined {
  const inner = innerRequestOf(request);
  return typeof inner?.header === "function" ? (inner as Required<DenoInnerRequest>) : undefined;
}

/**
 * Deno: the inner request's single-header lookup (see the module comment). The first request
 * that has one decides, after the lookup agreed with its `Headers` for both names, whether later
 * requests use it; a request without one (a `new Request()` given to the handler by a test or a
 * wrapper) is read the ordinary way.
 */
export function createDenoPresence(): MetadataPresence {
  let usable: boolean | undefined;
  const lookUp = (inner: Required<DenoInnerRequest>) =>
    inner.header(METADATA_HEADER) !== null || inner.header(SIGNATURE_HEADER) !== null;
  return (request) => {
    if (usable === false) return undefined;
    if (usable === undefined) {
      const inner = innerRequest(request);
      if (!inner) return undefined;
      try {
        const headers = request.headers;
        const standard = headers.has(METADATA_HEADER) || headers.has(SIGNATURE_HEADER);
        usable = lookUp(inner) === standard;
        return standard;
      } catch {
        usable = false;
        return undefined;
      }
    }
    const inner = innerRequest(request);
    if (!inner) return undefined;
    try {
      return lookUp(inner);
    } catch {
      // A request whose runtime state is gone (closed, upgraded): its Headers still answer.
      return undefined;
    }
  };
}

/**
 * The presence check of the runtime this process runs on, under the server's metadata trust, and
 * what gives back what it holds. Where nothing can be trusted, Bun and Deno defer the removal to
 * the first read of the headers (Bun: `bunPresence`, the check of the server's request
 * prototypes, src/bun/requests.ts; Deno: deferred-metadata-removal.ts); else Deno asks its
 * single-header lookup, and Bun has no check (it reads Headers).
 */
export function metadataPresence(
  runtime: "node" | "bun" | "deno",
  trust: MetadataTrust,
  bunPresence?: MetadataPresence,
): MetadataPresenceCheck {
  const nothingHeld = (presence: MetadataPresence) => ({ presence, release() {} });
  if (runtime === "node") return nothingHeld(nodePresence);
  if (trust === "none") {
    return runtime === "deno" ? createDenoMetadataRemovalDeferral() : nothingHeld(bunPresence ?? (() => undefined));
  }
  return nothingHeld(runtime === "deno" ? createDenoPresence() : () => undefined);
}
