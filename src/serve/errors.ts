/**
 * The error part: whatever the handler throws, rejects with or returns that cannot be sent
 * becomes a JSON error response (errors.ts's builder) carrying the request id, and a log line
 * with the detail. Clients read the code's generic text (see ContainerflareError.publicMessage);
 * the log keeps the message: at warn for 5xx, debug for 4xx, and with the stack for INTERNAL and
 * anything that is not a containerflare error.
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import type { ContainerContext } from "../context.ts";
import { ContainerflareError, isContainerflareError } from "../errors.ts";
import type { Part } from "./parts.ts";
import type { ResponseCheck } from "./response.ts";

/** The JSON 500 with the request id; its cause is logged by the caller. */
export function internalError(ctx: ContainerContext): Response {
  return new ContainerflareError("INTERNAL", "Internal Server Error").toResponse({ requestId: ctx.request.id });
}

/** srvx's error for a body read past `maxRequestBodySize` (matched by code: bundles may hold a second copy). */
function isBodyTooLarge(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === "ERR_BODY_TOO_LARGE";
}

/** The answer to an error the handler threw, logged as the module comment says. */
export function errorAnswer(error: unknown, ctx: ContainerContext): Response {
  const known = isBodyTooLarge(error) ? new ContainerflareError("TOO_LARGE", error.message) : error;
  if (isContainerflareError(known) && known.code !== "INTERNAL") {
    ctx.log[known.status >= 500 ? "warn" : "debug"](`${known.code}: ${known.message}`);
    return known.toResponse({ requestId: ctx.request.id });
  }
  ctx.log.error(error);
  return internalError(ctx);
}

/**
 * The error part: runs the rest (synchronously when it answers synchronously: no promise on
 * the hot path), maps what it throws or rejects with, and passes every answer through `check`.
 */
export function errorPart(check: ResponseCheck): Part {
  return (request: ServerRequest, ctx, next) => {
    let result: Response | Promise<Response>;
    try {
      result = next(request, ctx);
    } catch (error) {
      return errorAnswer(error, ctx);
    }
    // Anything but a promise is checked now (the check says what is no Response): one type test
    // instead of an `instanceof Response`, which the fast Response answers with a call.
    if (typeof (result as Partial<Promise<Response>> | null)?.then !== "function") return check(result, ctx, request);
    return Promise.resolve(result).then(
      (response) => check(response, ctx, request),
      (error: unknown) => errorAnswer(error, ctx),
    );
  };
}
