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
 * **Deno: limited where the body is read.** Telling a request with a body from one without takes
 * its method, and on Deno that is a call into the runtime: 3% of a hello world (measured:
 * containerflare 0.966x bare srvx with the part, 0.992x without). So on Deno the limit sits in the
 * runtime's own getter of a request's body (`body` of its inner request: deno-inner-request.ts),
 * which every read goes through: `request.body`, the body mixin, `clone()`,
 * `new Request(request)` and `fetch(request)`. Requests whose body is never read cost nothing.
 * What differs, and only on Deno: a declared `Content-Length` above the limit fails the first read
 * with TOO_LARGE (413 where the app lets the error through, as for a body of unknown length)
 * instead of being answered before the handler runs, and past the limit the answer does not wait
 * for the rest of the body to be dropped (it is dropped after; Deno keeps reading the body of a
 * request whose stream is still being read). The getter is not public API: it is wrapped on the
 * first request, when it is there and can be replaced, and is the process's while any server
 * uses it; with two servers of different limits in one process the smaller one applies to both.
 * Where it cannot be wrapped, the part works as on Node.
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import { ContainerflareError } from "../errors.ts";
import { type DenoInnerRequest, innerPrototypeOf, wrapInnerGetter } from "./deno-inner-request.ts";
import type { Part } from "./parts.ts";
import { RUNTIME } from "./runtime.ts";

/** Whether this part limits bodies of unknown length itself (everywhere but on Bun, which does it natively). */
export const LIMITS_BODY_STREAMS = RUNTIME !== "bun";

/** How serve() applies a body limit: what srvx passes on to the runtime, and the part for the rest. */
export interface BodyLimiting {
  /** srvx's `maxRequestBodySize`, where the runtime enforces the limit itself (Bun). */
  srvx: { maxRequestBodySize?: number };
  /** The body-limit part, where serve() must enforce it (Node, Deno); undefined where not. */
  part: Part | undefined;
  /** Gives back what the limit holds of the process (Deno's body getter wrapper); idempotent. */
  release(): void;
}

/**
 * The limiting of `limit` bytes (`0`: none) on `runtime`. On Bun the runtime does it all (see the
 * module comment): srvx passes the limit on and there is no part, which would only read every
 * request's method. Where the app set srvx's `maxRequestBodySize` itself (`appRuntimeLimit`), Bun
 * enforces that one and the part checks declared lengths against ours. On Deno the part wraps the
 * runtime's body getter on the first request (`release()` takes it off).
 */
export function bodyLimiting(
  limit: number,
  appRuntimeLimit: number | undefined,
  runtime: "node" | "bun" | "deno" = RUNTIME,
): BodyLimiting {
  const nothingHeld = () => {};
  if (limit > 0 && runtime === "bun" && appRuntimeLimit === undefined) {
    return { srvx: { maxRequestBodySize: limit }, part: undefined, release: nothingHeld };
  }
  if (limit > 0 && runtime === "deno") return { srvx: {}, ...denoBodyLimitPart(limit) };
  return { srvx: {}, part: bodyLimitPart(limit), release: nothingHeld };
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
      controller.error(tooLarge(limit));
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
 * A clone of `request` whose body is a branch of the limited body `reading` (which keeps the
 * other branch, as a clone does): both stay limited.
 */
function cloneWithLimitedBody(request: ServerRequest, reading: Response): Request {
  const { url, method, headers, signal } = request;
  return new Request(url, { method, headers, signal, body: reading.clone().body, duplex: "half" } as RequestInit);
}

/**
 * `request` with its body limited: `body`, the body mixin's reads and `clone()` use the limited
 * stream; everything else is the request's own.
 */
function withLimitedBody(request: ServerRequest, limited: LimitedBody): ServerRequest {
  let reading: Response | undefined;
  const read = () => (reading ??= new Response(limited.stream));
  return new Proxy(request, {
    get(target, name) {
      if (name === "body") return read().body;
      if (name === "bodyUsed") return reading?.bodyUsed ?? false;
      if (name === "clone") return () => cloneWithLimitedBody(target, read());
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
      throw tooLarge(limit, declared);
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

/** The error of a body above `limit` bytes: with its declared length when it has one. */
function tooLarge(limit: number, declared?: string): ContainerflareError {
  return new ContainerflareError(
    "TOO_LARGE",
    declared === undefined
      ? `request body exceeds the ${limit}-byte limit`
      : `request body of ${declared} bytes exceeds the ${limit}-byte limit`,
  );
}

/** What the wrapper reads of Deno's inner body: its stream, or the whole body when the runtime already has it. */
interface DenoInnerBody {
  streamOrStatic: ReadableStream<Uint8Array> | { body: Uint8Array };
  constructor: new (stream: ReadableStream<Uint8Array>) => DenoInnerBody;
}

/** The limits of the servers that use Deno's wrapper: the smallest applies (see the module comment). */
const denoLimits: number[] = [];

/** The runtime's body of a request → the limited one the wrapper gave for it (the getter is read more than once). */
const limitedBodies = new WeakMap<object, DenoInnerBody>();

/** A stream that fails at once with `error`. */
function failedStream(error: Error): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.error(error);
    },
  });
}

/** @internal The limited counterpart of Deno's `body` of `inner` (the runtime's own when it is within the limit). */
function limitDenoBody(inner: DenoInnerRequest, body: DenoInnerBody, limit: number): DenoInnerBody {
  const declared = inner.header?.("content-length") ?? null;
  const InnerBody = body.constructor;
  // Its rest is left unread: Deno closes its stream with the request, as with any unread body.
  if (declared !== null && Number(declared) > limit) return new InnerBody(failedStream(tooLarge(limit, declared)));
  const source = body.streamOrStatic;
  if (!(source instanceof ReadableStream)) {
    return source.body.byteLength > limit ? new InnerBody(failedStream(tooLarge(limit))) : body;
  }
  return new InnerBody(limitBody(source, limit).stream);
}

/** The `body` getter that gives the limited counterpart of what `read` (the runtime's) gives. */
const limitedBodyGetter = (read: (this: object) => unknown) =>
  function (this: DenoInnerRequest): DenoInnerBody | null {
    const body = read.call(this) as DenoInnerBody | null;
    if (body === null) return body;
    let limited = limitedBodies.get(body);
    if (!limited) {
      limited = limitDenoBody(this, body, Math.min(...denoLimits));
      limitedBodies.set(body, limited);
    }
    return limited;
  };

/**
 * Deno's part for `limit` bytes (see the module comment): on the first request it wraps the
 * runtime's body getter; from then on it passes every `Deno.serve` request on untouched. Any
 * other request (one the app handed to the server's fetch itself), and every request where the
 * getter could not be wrapped, goes through {@link bodyLimitPart}.
 */
function denoBodyLimitPart(limit: number): { part: Part; release(): void } {
  const ordinary = bodyLimitPart(limit) as Part;
  let prototype: object | undefined;
  let drop: (() => void) | undefined;
  let decided = false;
  const part: Part = (request, ctx, next) => {
    if (!decided) {
      decided = true;
      prototype = innerPrototypeOf(request);
      drop = prototype && wrapInnerGetter(prototype, "body", limitedBodyGetter);
      if (drop) denoLimits.push(limit);
    }
    return drop && innerPrototypeOf(request) === prototype ? next(request, ctx) : ordinary(request, ctx, next);
  };
  return {
    part,
    release() {
      if (!drop) return;
      const release = drop;
      drop = undefined;
      denoLimits.splice(denoLimits.indexOf(limit), 1);
      release();
    },
  };
}
