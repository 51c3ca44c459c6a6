/**
 * Checks serve() runs on a response before handing it to the runtime, so that a response that
 * cannot be sent becomes a logged error and the JSON 500 instead of a silent failure. They grew
 * from the Node send path (srvx answers such a response with a bare empty 500 and, with
 * `silent: true`, no log line) but run on every runtime: Bun answers a status-0 or used response
 * with its own HTML error page and sends a header value with a control character malformed, and
 * Deno 2.9 panics on such a header value, taking the whole process down.
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import { fastResponseState } from "./response.ts";

/**
 * Characters no runtime sends in a header value: controls other than HTAB (a Headers object
 * already refuses NUL, CR and LF, and characters above U+00FF). Node's HTTP server throws on them.
 */
const UNSENDABLE_HEADER_VALUE = /[\x00-\x08\x0A-\x1F\x7F]/;

/**
 * Why `response` cannot be sent, or undefined when it can: a status outside 200-599 (101, a
 * protocol switch such as a WebSocket upgrade, passes), a header value with a control character,
 * or a body that was already read or sent. `inspectBody` also refuses a locked body stream; it
 * reads `response.body`, which Bun and Deno would then stream instead of sending the body as it
 * is, so serve() asks for it on Node only (where srvx reads the stream anyway).
 *
 * A fast response whose headers nobody created costs two field reads here.
 */
export function unsendableReason(response: Response, inspectBody: boolean): string | undefined {
  const state = fastResponseState(response);
  const status = state ? state.status : response.status;
  if ((status < 200 || status > 599) && status !== 101) {
    return status === 0 ? "status 0: Response.error() is a network error, not a response to send" : `status ${status} is outside 200-599`;
  }
  const headers = state ? state.headers : response.headers;
  if (headers) {
    for (const [name, value] of headers) {
      if (UNSENDABLE_HEADER_VALUE.test(value)) return `the value of header ${name} has a control character`;
    }
  }
  const bodyUnusable = state ? state.bodyUnusable : response.bodyUsed || (inspectBody && Boolean(response.body?.locked));
  if (bodyUnusable) return "its body was already read or sent (send a Response once: build a new one, or a clone(), per request)";
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
export function reportStreamFailure(response: Response, nodeResponse: ServerResponse, report: (error: unknown) => void): void {
  if (!isStreamed(response)) return;
  nodeResponse.once("close", () => {
    const error = nodeResponse.errored;
    if (error && !isClientGone(error)) report(error);
  });
}

/** Errors with which Node ends a response whose client went away. */
function isClientGone(error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code;
  return code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE" || error.name === "AbortError";
}
