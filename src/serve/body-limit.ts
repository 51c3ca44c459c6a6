/**
 * The body-limit part: a declared `Content-Length` above the limit is answered 413 (`TOO_LARGE`)
 * before the handler runs. A body of unknown length is limited where it is read, by this part on
 * Node and Deno, whose reads fail with TOO_LARGE past the limit. On Bun the runtime does both
 * natively (srvx passes the limit on: Bun answers its own empty 413 before fetch runs, and fails
 * a read past the limit), so serve() leaves the part out there unless the app set srvx's
 * `maxRequestBodySize` itself.
 *
 * Past the limit the rest of the body is read and dropped before the answer goes out (up to
 * {@link DRAIN_BYTES} and {@link DRAIN_MS}), instead of cancelling the stream: a cancel closes
 * the connection while the client is still sending, and the reset that the unread bytes then
 * cause can destroy the 413 before the client has read it. Dropped bytes are never kept.
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import { ContainerflareError } from "../errors.ts";
import type { Part } from "./parts.ts";

/** Whether this part limits bodies of unknown length itself (everywhere but on Bun, which does it natively). */
export const LIMITS_BODY_STREAMS = !("Bun" in globalThis);

/** How serve() applies a body limit: what srvx passes on to the runtime, and the part for the rest. */
export interface BodyLimiting {
  /** srvx's `maxRequestBodySize`, where the runtime enforces the limit itself (Bun). */
  srvx: { maxRequestBodySize?: number };
  /** The body-limit part, where serve() must enforce it (Node, Deno); undefined where not. */
  part: Part | undefined;
}

/**
 * The limiting of `limit` bytes (`0`: none). On Bun the runtime does it all (see the module
 * comment): srvx passes the limit on and there is no part, which would only read every request's
 * method. Where the app set srvx's `maxRequestBodySize` itself (`appRuntimeLimit`), Bun enforces
 * that one and the part checks declared lengths against ours.
 */
export function bodyLimiting(limit: number, appRuntimeLimit: number | undefined): BodyLimiting {
  const native = limit > 0 && !LIMITS_BODY_STREAMS && appRuntimeLimit === undefined;
  return native ? { srvx: { maxRequestBodySize: limit }, part: undefined } : { srvx: {}, part: bodyLimitPart(limit) };
}

/** Most bytes read and dropped past the limit before the answer goes out anyway (and the connection closes). */
export const DRAIN_BYTES = 64 * 2 ** 20;
/** Longest time spent dropping them, in ms. */
export const DRAIN_MS = 5_000;

/** The methods of the body mixin, which read the limited body instead of the request's own. */
const BODY_READS = new Set(["arrayBuffer", "blob", "bytes", "formData", "json", "text"]);

/** A body stream limited to `limit` bytes, and how its overflow ends. */
interface LimitedBody {
  stream: ReadableStream<Uint8Array>;
  /** Once the limit was passed: settles when the rest of the body was dropped (or the budget ran out). */
  overflow(): Promise<void> | undefined;
}

/**
 * `source` limited to `limit` bytes: past it, the stream fails with TOO_LARGE and the rest of
 * `source` is read and dropped, within the budget, then cancelled if it has not ended.
 */
export function limitBody(source: ReadableStream<Uint8Array>, limit: number): LimitedBody {
  const reader = source.getReader();
  let size = 0;
  let overflow: Promise<void> | undefined;
  const drop = async () => {
    const deadline = Date.now() + DRAIN_MS;
    let dropped = 0;
    try {
      while (dropped < DRAIN_BYTES && Date.now() < deadline) {
        const { done, value } = await reader.read();
        if (done) return;
        dropped += value.byteLength;
      }
      await reader.cancel();
    } catch {
      // The client went away: nothing left to drop.
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      size += value.byteLength;
      if (size <= limit) return controller.enqueue(value);
      controller.error(new ContainerflareError("TOO_LARGE", `request body exceeds the ${limit}-byte limit`));
      overflow = drop();
    },
    cancel(reason) {
      // The handler gave up on the body: the runtime's own handling of an unread body applies.
      return reader.cancel(reason);
    },
  });
  return { stream, overflow: () => overflow };
}

/**
 * `request` with its body limited: `body` and the body mixin's reads use the limited stream;
 * everything else is the request's own.
 */
function withLimitedBody(request: ServerRequest, limited: LimitedBody): ServerRequest {
  let reading: Response | undefined;
  const read = () => (reading ??= new Response(limited.stream));
  return new Proxy(request, {
    get(target, name) {
      if (name === "body") return read().body;
      if (name === "bodyUsed") return reading?.bodyUsed ?? false;
      if (typeof name === "string" && BODY_READS.has(name)) return () => read()[name as "text"]();
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The part for a limit of `limit` bytes; undefined (no part) for `0`, no limit. With
 * `limitsStreams` (see {@link LIMITS_BODY_STREAMS}) it limits bodies of unknown length too, and
 * an answer to a body past the limit waits until the rest of it was dropped.
 */
export function bodyLimitPart(limit: number, limitsStreams = LIMITS_BODY_STREAMS): Part | undefined {
  if (limit <= 0) return undefined;
  return (request, ctx, next) => {
    // One method read on the hot path: GET and HEAD carry no body.
    if (request.method === "GET" || request.method === "HEAD") return next(request, ctx);
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      throw new ContainerflareError("TOO_LARGE", `request body of ${declared} bytes exceeds the ${limit}-byte limit`);
    }
    const body = limitsStreams ? request.body : null;
    if (!body) return next(request, ctx);
    const limited = limitBody(body as ReadableStream<Uint8Array>, limit);
    const afterOverflow = <T>(settle: () => T): T | Promise<T> => {
      const overflow = limited.overflow();
      return overflow ? overflow.then(settle) : settle();
    };
    return Promise.resolve()
      .then(() => next(withLimitedBody(request, limited), ctx))
      .then(
        (response) => afterOverflow(() => response),
        (error: unknown) =>
          afterOverflow(() => {
            throw error;
          }),
      );
  };
}
