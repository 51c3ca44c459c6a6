/**
 * The body-limit part: a declared `Content-Length` above the limit is answered 413 (`TOO_LARGE`)
 * before the handler runs. Bodies of unknown length are limited where they are read: by srvx on
 * Node, natively by Bun, and by this part on Deno, with srvx's stream limiter (loaded by
 * runtime.ts on Deno only; see {@link LIMITS_BODY_STREAMS}).
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import type { limitBodyStream } from "srvx/body-limit";
import { ContainerflareError } from "../errors.ts";
import type { Part } from "./parts.ts";
import { copyRequest } from "./request.ts";

/**
 * Whether this part limits body streams itself rather than srvx: srvx enforces
 * `maxRequestBodySize` inside its Node adapter and Bun natively, but on Deno it wraps each
 * request in a Proxy whose `waitUntil` then throws on every read (srvx 1.0.8), so there the
 * stream is limited here.
 */
export const LIMITS_BODY_STREAMS = "Deno" in globalThis;

/** srvx's body stream limiter. */
export type LimitBodyStream = typeof limitBodyStream;

/** `request` whose body stream fails with TOO_LARGE past `limit` bytes (for bodies of unknown length). */
function withLimitedBody(request: ServerRequest, limit: number, limitStream: LimitBodyStream): ServerRequest {
  const tooLarge = () => new ContainerflareError("TOO_LARGE", `request body exceeds the ${limit}-byte limit`);
  const body = limitStream(request.body as ReadableStream<Uint8Array>, limit, { createError: tooLarge });
  return copyRequest(request, { body, duplex: "half" } as RequestInit);
}

/**
 * The part for a limit of `limit` bytes; undefined (no part) for `0`, no limit. `limitStream`
 * limits bodies of unknown length where srvx does not ({@link LIMITS_BODY_STREAMS}).
 */
export function bodyLimitPart(limit: number, limitStream?: LimitBodyStream): Part | undefined {
  if (limit <= 0) return undefined;
  return (request, ctx, next) => {
    // One method read on the hot path: GET and HEAD carry no body.
    if (request.method === "GET" || request.method === "HEAD") return next(request, ctx);
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      throw new ContainerflareError("TOO_LARGE", `request body of ${declared} bytes exceeds the ${limit}-byte limit`);
    }
    return next(limitStream && request.body ? withLimitedBody(request, limit, limitStream) : request, ctx);
  };
}
