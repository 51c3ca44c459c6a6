/**
 * What serve() checks on a handler's answer before the runtime sends it, so that an answer that
 * cannot be sent becomes a logged error and the JSON 500 instead of a silent failure (srvx's Node
 * adapter answers such a response with a bare empty 500 and, with `silent: true`, no log line).
 * Every runtime checks the status; Node also checks headers and body, and sends string and bytes
 * bodies itself (src/node/send.ts, loaded on Node only).
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import type { ContainerContext } from "../context.ts";
import { internalError } from "./errors.ts";

/** Checks (and on Node may send) a handler's answer; returns what srvx is to send. */
export type ResponseCheck = (response: unknown, ctx: ContainerContext, request: ServerRequest) => Response;

/** What the Node runtime part adds to the check (see src/serve/node.ts). */
export interface NodeSending {
  /**
   * Sends `response` on the request's Node response when it can in one write, else checks it and
   * watches its streamed body for a failure after the head went out (srvx then sends it). Returns
   * why it cannot be sent on Node (status, headers, body; nothing was sent), or undefined; throws
   * when sending failed.
   */
  send(response: Response, request: ServerRequest, ctx: ContainerContext): string | undefined;
}

/**
 * Why a response with `status` cannot be sent, or undefined: a status outside 200-599 (101, a
 * protocol switch such as a WebSocket upgrade, passes).
 */
export function unsendableStatus(status: number): string | undefined {
  if ((status >= 200 && status <= 599) || status === 101) return undefined;
  return status === 0
    ? "status 0: Response.error() is a network error, not a response to send"
    : `status ${status} is outside 200-599`;
}

/**
 * The check of one runtime. On Bun and Deno only the status is read: reading `headers` or
 * `bodyUsed` there turns their own lazy Response into a materialized one (measured on Deno 2.9:
 * the check then cost more than the rest of serve() together), and both report a consumed body
 * themselves.
 */
export function createResponseCheck(node: NodeSending | undefined): ResponseCheck {
  return (response, ctx, request) => {
    if (!(response instanceof Response)) {
      ctx.log.error(
        new TypeError(`the handler returned ${response === null ? "null" : typeof response}, expected a Response`),
      );
      return internalError(ctx);
    }
    let problem: string | undefined;
    try {
      problem = node ? node.send(response, request, ctx) : unsendableStatus(response.status);
    } catch (error) {
      ctx.log.error("the response could not be sent:", error);
      return internalError(ctx);
    }
    if (problem !== undefined) {
      ctx.log.error(new TypeError(`the handler returned a response that cannot be sent: ${problem}`));
      return internalError(ctx);
    }
    return response;
  };
}
