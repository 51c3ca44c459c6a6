/**
 * The Node runtime part of serve(): the fast `Response` (src/node/response.ts) installed as the
 * global while a server runs, and the Node checks and one-write sending of answers
 * (src/node/send.ts). serve() imports this module on Node only, before it listens: Bun and Deno
 * never load it (it is a tenth of their cold start).
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import type { ServerRequest } from "srvx";
import { FastResponse } from "../node/response.ts";
import { reportStreamFailure, sendUnstreamed, unsendableReason } from "../node/send.ts";
import type { NodeSending } from "./response.ts";

// The global Response is process-wide by nature: servers of one process share the swap, and
// the native class comes back when the last of them has closed.
let fastResponseUsers = 0;
let nativeResponse: typeof Response | undefined;

/** Installs the fast Response as the global `Response`; the returned function gives it back (once). */
export function installFastResponse(): () => void {
  if (fastResponseUsers++ === 0) {
    nativeResponse = globalThis.Response;
    globalThis.Response = FastResponse;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--fastResponseUsers === 0 && nativeResponse) {
      if (globalThis.Response === FastResponse) globalThis.Response = nativeResponse;
      nativeResponse = undefined;
    }
  };
}

function nodeResponseOf(request: ServerRequest): ServerResponse | undefined {
  return request.runtime?.node?.res as ServerResponse | undefined;
}

/**
 * Node's part of the answer check: header and body checks where srvx's Node adapter sends the
 * answer, a fast response with a string or bytes body sent right here (one write, see
 * sendUnstreamed), and a streamed body that fails after its head went out logged.
 */
export const nodeSending: NodeSending = {
  unsendableReason: (response, request) => unsendableReason(response, nodeResponseOf(request) !== undefined),
  send(response, request, ctx) {
    const nodeResponse = nodeResponseOf(request);
    if (!nodeResponse || sendUnstreamed(response, nodeResponse)) return;
    reportStreamFailure(response, nodeResponse, (error) =>
      ctx.log.error("the response body failed after its head was sent:", error),
    );
  },
};
