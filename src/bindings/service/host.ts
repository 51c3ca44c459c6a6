import type * as v from "valibot";
import { CommandError } from "../../errors.ts";
import { NULL_BODY_STATUSES } from "../../internal/http.ts";
import { bodyMarker, type StreamedResult, streamedResult } from "../../protocol/body.ts";
import { defineBindingHost, type HandlerContext, handler, requestBody } from "../handler.ts";
import { service } from "./descriptor.ts";
import {
  BODYLESS_METHODS,
  type FetchRequestEntries,
  type FetchResponseJson,
  ServiceFetchPayloadSchema,
} from "./schemas.ts";

/**
 * What the handlers call: anything with `fetch(request)` (a service binding, a Durable Object
 * stub), in this runtime's own Request types: workers-types declares its own Request and
 * Response, which the runtime lib's do not satisfy.
 */
export interface FetchTarget {
  fetch(request: Request): Promise<Response>;
}

/** A request as the payload carries it (the schema's output). */
export type FetchRequestJson = v.InferOutput<v.ObjectSchema<typeof FetchRequestEntries, undefined>>;

/**
 * The Request a payload describes. Its body is the exchange's streamed bytes (a solo HTTP v2
 * exchange), or the inline envelope's bytes, or none; `signal` cancels the subrequest when
 * nobody waits for the answer any more.
 */
export function requestOf(payload: FetchRequestJson, context: HandlerContext): Request {
  let body = BODYLESS_METHODS.has(payload.method.toUpperCase()) ? null : requestBody(payload.body, context);
  // Taken at once (a pipe locks it): the target may read it only after answering (an echo
  // streams it back), and the host cancels a request body that nobody took.
  if (body instanceof ReadableStream) body = body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>());
  const init: RequestInit & { duplex?: "half" } = {
    method: payload.method,
    headers: payload.headers,
    ...(body === null ? {} : { body: body as NonNullable<RequestInit["body"]>, duplex: "half" }),
    ...(payload.redirect ? { redirect: payload.redirect } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  };
  return new Request(payload.url, init);
}

/**
 * A response as the wire carries it, and its body: `streamedResult` streams the bytes back raw
 * where the exchange allows it and inlines them elsewhere (the host decides). The answer to a
 * HEAD request, and of a null-body status, has none. `extra` members (a Durable Object's `id`)
 * come first.
 */
export function answerOf(
  command: string,
  method: string,
  response: Response,
  extra: Record<string, unknown> = {},
): StreamedResult {
  if (response.status === 101 || (response as { webSocket?: unknown }).webSocket) {
    throw new CommandError("UNKNOWN_COMMAND", `${command}: WebSocket upgrades are not carried by the command bus`);
  }
  const bodyless = method.toUpperCase() === "HEAD" || NULL_BODY_STATUSES.has(response.status);
  if (bodyless) void response.body?.cancel().catch(() => undefined);
  const body = bodyless ? null : response.body;
  const result: Record<string, unknown> & FetchResponseJson = {
    ...extra,
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    // No length: a Content-Length header need not be the length of the decoded body.
    body: body === null ? null : bodyMarker(),
  };
  return streamedResult(result, body);
}

/** `service.fetch` against a Workers service binding (a Fetcher). */
export const serviceHost = defineBindingHost<typeof service, FetchTarget>(service, {
  "service.fetch": handler(ServiceFetchPayloadSchema, async (payload, target: FetchTarget, context) => {
    const response = await target.fetch(requestOf(payload, context));
    return answerOf("service.fetch", payload.method, response);
  }),
});
