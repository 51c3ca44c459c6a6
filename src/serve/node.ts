/**
 * The Node runtime part of serve(), loaded on Node only, before the server listens (Bun and Deno
 * never load it: it is a tenth of their cold start):
 *
 * - the fast `Response` (src/node/response.ts), installed as the global while a server runs;
 * - srvx's patched `Request` as the global while a server runs, so that `new Request(request)`
 *   and `new Request(request, init)` take the requests serve() hands the app. Those are srvx's
 *   lazy Node requests: `instanceof Request` is true, but undici's constructor reads a private
 *   field of its own class from its input and throws "Cannot read private member #state" for
 *   them. srvx offers the patch (`patchGlobalRequest`) rather than applying it; a Worker's
 *   `new Request(request)` works, so here it is applied. Its constructor takes the native request
 *   behind a lazy one; nothing else changes (`instanceof` answers as the native class does);
 * - srvx's request URL built without its costliest steps where the request is plain, exactly as
 *   srvx builds it (src/node/request-url.ts);
 * - the Node checks and one-write sending of answers (src/node/send.ts), and a request listener
 *   that does not make srvx's second pass over an answer sent that way (src/node/listener.ts).
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import type { ServerRequest } from "srvx";
import { patchGlobalRequest } from "srvx/node";

export { leanRequestListener, useRequestListener } from "../node/listener.ts";

import { installFastRequestURL } from "../node/request-url.ts";
import { FastResponse } from "../node/response.ts";
import { reportStreamFailure, sendUnstreamed, unsendableReason } from "../node/send.ts";
import type { NodeSending } from "./response.ts";

type ProcessPatch = "Response" | "Request" | "requestURL";

// Globals and srvx's request class are process-wide by nature: servers of one process share
// each patch, and what was there before comes back when the last of them has closed.
const holders: Record<ProcessPatch, { count: number; undo?: () => void }> = {
  Response: { count: 0 },
  Request: { count: 0 },
  requestURL: { count: 0 },
};

/** @internal Holds the patch `apply()` makes (it returns its undo); the returned function gives it back (once). */
function holdPatch(name: ProcessPatch, apply: () => () => void): () => void {
  const holder = holders[name];
  if (holder.count++ === 0) holder.undo = apply();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holder.count > 0) return;
    holder.undo?.();
    holder.undo = undefined;
  };
}

/** Makes `install()`'s class the global `name`; the undo puts the previous one back unless something replaced ours since. */
function swapGlobal(name: "Response" | "Request", install: () => unknown): () => void {
  const previous = globalThis[name];
  const installed = install();
  (globalThis as Record<string, unknown>)[name] = installed;
  return () => {
    if (globalThis[name] === installed) (globalThis as Record<string, unknown>)[name] = previous;
  };
}

/** Installs the fast Response as the global `Response`; the returned function gives it back (once). */
export function installFastResponse(): () => void {
  return holdPatch("Response", () => swapGlobal("Response", () => FastResponse));
}

/** Installs srvx's patched Request as the global `Request` (see the module comment); the returned function gives it back. */
export function installRequestConstructor(): () => void {
  return holdPatch("Request", () => swapGlobal("Request", patchGlobalRequest));
}

/** Gives srvx's Node requests the fast URL (src/node/request-url.ts); the returned function gives srvx's back. */
export function installRequestURL(): () => void {
  return holdPatch("requestURL", installFastRequestURL);
}

function nodeResponseOf(request: ServerRequest): ServerResponse | undefined {
  return request.runtime?.node?.res as ServerResponse | undefined;
}

/**
 * Node's part of the answer check: a fast response with a string or bytes body checked and sent
 * right here in one pass (one write, see sendUnstreamed); any other answer checked (status, and
 * headers and body where srvx's Node adapter sends it) and, once its streamed body fails after
 * its head went out, logged.
 */
export const nodeSending: NodeSending = {
  send(response, request, ctx) {
    const nodeResponse = nodeResponseOf(request);
    if (nodeResponse && sendUnstreamed(response, nodeResponse)) return undefined;
    const problem = unsendableReason(response, nodeResponse !== undefined);
    if (problem === undefined && nodeResponse)
      reportStreamFailure(response, nodeResponse, (error) =>
        ctx.log.error("the response body failed after its head was sent:", error),
      );
    return problem;
  },
};
