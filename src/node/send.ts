/**
 * Checks serve() runs on a response before handing it to the runtime, so that a response that
 * cannot be sent becomes a logged error and the JSON 500 instead of a silent failure: srvx's Node
 * adapter answers such a response with a bare empty 500 and, with `silent: true`, no log line.
 *
 * The status check runs on every runtime (Bun answers a status-0 response with its own HTML error
 * page, Deno with a console line that lacks the request id). The header and body checks run on
 * Node only: on Bun and Deno reading `response.headers` or `bodyUsed` turns their own lazy
 * Response into a materialized one (measured on Deno 2.9: the check then cost more than the rest
 * of serve() together), and both runtimes report a consumed body themselves. Known gap: Deno 2.9
 * panics on a header value with a control character (a Deno bug; the app has to build such a value).
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import { unsendableStatus } from "../serve/response.ts";
import { fastResponseState, takeUnstreamedParts, UNSENDABLE_HEADER_VALUE } from "./response.ts";

/**
 * Why `response` cannot be sent, or undefined when it can: a status outside 200-599 (101, a
 * protocol switch such as a WebSocket upgrade, passes); with `nodeChecks`, also a header value
 * with a control character, or a body that was already read, locked or sent.
 *
 * A fast response whose headers nobody created costs a few field reads here.
 */
export function unsendableReason(response: Response, nodeChecks: boolean): string | undefined {
  const state = fastResponseState(response);
  const statusProblem = unsendableStatus(state ? state.status : response.status);
  if (statusProblem !== undefined || !nodeChecks) return statusProblem;
  const headers = state ? state.headers : response.headers;
  if (headers) {
    for (const [name, value] of headers) {
      if (UNSENDABLE_HEADER_VALUE.test(value)) return `the value of header ${name} has a control character`;
    }
  }
  const bodyUnusable = state ? state.bodyUnusable : response.bodyUsed || Boolean(response.body?.locked);
  if (bodyUnusable)
    return "its body was already read or sent (send a Response once: build a new one, or a clone(), per request)";
  return undefined;
}

/** Whether srvx's Node adapter reads `response`'s body as a stream, chunk by chunk. */
function isStreamed(response: Response): boolean {
  const state = fastResponseState(response);
  return state ? state.streamed : response.body !== null;
}

/**
 * Node: calls `report` with the error when `response`'s body stream fails after the head went
 * out, which srvx answers by destroying the connection without a word. A client that goes away
 * is no failure of ours and is not reported. Adds one `close` listener, to streamed bodies only.
 */
export function reportStreamFailure(
  response: Response,
  nodeResponse: ServerResponse,
  report: (error: unknown) => void,
): void {
  if (!isStreamed(response)) return;
  nodeResponse.once("close", () => {
    const error = nodeResponse.errored;
    if (error && !isClientGone(error)) report(error);
  });
}

/** Errors with which Node ends a response whose client went away. */
function isClientGone(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return (
    code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE" || error.name === "AbortError"
  );
}

/**
 * Node: sends a fast response with a string, bytes or no body itself, with `writeHead()` and one
 * `end(body)`, when it can be sent (it checks what {@link unsendableReason} would, in the same
 * pass: a fast response of that kind always has a status in 200-599); returns false (nothing
 * done) for anything else, which the caller then checks and srvx's adapter sends.
 * srvx writes such a body with `write(body)` and then `end()`, which measured here 3 µs more per
 * request than `end(body)` (one more pass through the socket's write path), a tenth of a
 * hello-world request; srvx's own pass over the response afterwards finds nothing to write.
 * HTTP/2 responses (srvx over TLS) are left to srvx, which knows their different `writeHead()`.
 */
export function sendUnstreamed(response: Response, nodeResponse: ServerResponse): boolean {
  if (nodeResponse.headersSent || nodeResponse.req?.httpVersionMajor !== 1) return false;
  const parts = takeUnstreamedParts(response);
  if (!parts) return false;
  nodeResponse.writeHead(parts.status, parts.statusText, parts.headers);
  if (parts.body === null) nodeResponse.end();
  else nodeResponse.end(parts.body as string | Uint8Array);
  return true;
}
