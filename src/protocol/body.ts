/**
 * Streamed bodies (docs/protocol.md, "Streamed bodies"): bytes that travel beside a frame instead
 * of inside it. A payload or a result marks where its bytes belong with {@link BodyMarker}; on an
 * HTTP v2 solo exchange the bytes follow the frame's line raw, on every other transport they are
 * inlined as a base64 envelope in the marker's place. Runtime agnostic: client, host and Worker
 * share it.
 */
import * as v from "valibot";
import { CommandError } from "../errors.ts";
import { STREAM_LENGTH } from "../fixed-length-stream.ts";
import { concatBytes, decodeBytes, type EncodedBytes, encodeBytes, formatBytes, readStreamLimited } from "./bytes.ts";

/** `{"encoding":"body","length"?:N}`: "the bytes of this value are the exchange's body". */
export interface BodyMarker {
  encoding: "body";
  /** Exact byte count, when the sender knows it; the receiver enforces it. */
  length?: number;
}

/** Schema of {@link BodyMarker}. */
export const BodyMarkerSchema = v.object({
  encoding: v.literal("body"),
  length: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
});

/** Bytes as a binding hands them over: in memory, or a stream. */
export type BodySource = Uint8Array | ReadableStream<Uint8Array>;

/** Content type of a batch of frames, one JSON line each (HTTP v2). */
export const BATCH_CONTENT_TYPE = "application/x-ndjson";
/** Content type of a solo exchange: one frame's line, then its raw body (HTTP v2). */
export const FRAME_CONTENT_TYPE = "application/x-containerflare-frame";
/** Header naming the HTTP transport version a side speaks: sent by v2 clients, answered by v2 hosts. */
export const HTTP_VERSION_HEADER = "x-containerflare-http";
/** The HTTP transport version this code speaks. */
export const HTTP_VERSION = "2";
/** Header with the client's random id, so that `host.cancel` finds commands of earlier POSTs. */
export const CLIENT_ID_HEADER = "x-containerflare-client";

/**
 * Bytes above this size leave the frame and travel as a streamed body (a KV value, an R2
 * object); smaller ones stay inline, where they batch with other commands. 64 KiB: about what a
 * base64 copy in a frame costs less than a round trip of its own.
 */
export const INLINE_BODY_BYTES = 64 * 1024;

/**
 * A byte count of a body the binding was given, when one is known without reading it: bytes,
 * a Blob, or a stream that says its length (a `FixedLengthStream`'s readable side).
 */
export function knownBodyLength(value: unknown): number | undefined {
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (typeof Blob !== "undefined" && value instanceof Blob) return value.size;
  const declared = (value as { [STREAM_LENGTH]?: unknown } | null)?.[STREAM_LENGTH];
  return typeof declared === "number" ? declared : undefined;
}

/**
 * The bytes of a body a binding was given (string, bytes, Blob, stream), for `options.body`:
 * what is not a stream is read into memory (it already is, but for a Blob).
 */
export async function toBodySource(value: unknown): Promise<BodySource> {
  if (value instanceof ReadableStream) return value as ReadableStream<Uint8Array>;
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof Blob !== "undefined" && value instanceof Blob) return value.stream() as ReadableStream<Uint8Array>;
  if (value === null || value === undefined) return new Uint8Array(0);
  throw new TypeError("body must be a string, ArrayBuffer, ArrayBufferView, ReadableStream, Blob or null");
}

/**
 * A body value as a payload member: inline (a string, or a base64 envelope) when it is small and
 * in memory, else a body marker with the bytes for `options.body`.
 */
export async function bodyArgument(
  value: unknown,
): Promise<{ wire: string | EncodedBytes | BodyMarker | null; body?: BodySource }> {
  if (value === null || value === undefined) return { wire: null };
  if (typeof value === "string" && value.length <= INLINE_BODY_BYTES / 3) return { wire: value };
  const length = typeof value === "string" ? undefined : knownBodyLength(value);
  if (length !== undefined && length <= INLINE_BODY_BYTES && !(value instanceof ReadableStream)) {
    const bytes = await toBodySource(value);
    return {
      wire: encodeBytes(bytes instanceof Uint8Array ? bytes : new Uint8Array(await new Response(bytes).arrayBuffer())),
    };
  }
  const body = await toBodySource(value);
  const size = body instanceof Uint8Array ? body.byteLength : length;
  return { wire: bodyMarker(size), body };
}

/** A marker for bytes of `length` (omit when unknown). */
export function bodyMarker(length?: number): BodyMarker {
  return length === undefined ? { encoding: "body" } : { encoding: "body", length };
}

/** Whether `value` is a {@link BodyMarker}. */
export function isBodyMarker(value: unknown): value is BodyMarker {
  return typeof value === "object" && value !== null && (value as { encoding?: unknown }).encoding === "body";
}

/** How deep a marker may sit in a payload or result (`{object, body}` is depth 1, a service answer's `body` too). */
const MAX_MARKER_DEPTH = 4;

/** The marker inside `value` (own members, up to {@link MAX_MARKER_DEPTH} levels), if any. */
export function findBodyMarker(value: unknown, depth = 0): BodyMarker | undefined {
  if (isBodyMarker(value)) return value;
  if (depth >= MAX_MARKER_DEPTH || typeof value !== "object" || value === null) return undefined;
  for (const member of Array.isArray(value) ? value : Object.values(value)) {
    const found = findBodyMarker(member, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** `value` with its marker replaced by `replacement` (copies along the path only). */
export function replaceBodyMarker(value: unknown, replacement: unknown, depth = 0): unknown {
  if (isBodyMarker(value)) return replacement;
  if (depth >= MAX_MARKER_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((member) => replaceBodyMarker(member, replacement, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) out[name] = replaceBodyMarker(member, replacement, depth + 1);
  return out;
}

/** What a host handler returns when its answer carries bytes: the result (with a marker) and the bytes. */
export class StreamedResult {
  /** The result, with a {@link BodyMarker} where the bytes belong. */
  readonly result: unknown;
  /** The bytes; `null` for none (the marker then stays out of the result). */
  readonly body: BodySource | null;

  constructor(result: unknown, body: BodySource | null) {
    this.result = result;
    this.body = body;
  }
}

/**
 * A host handler's answer with bytes: `streamedResult({ object, body: bodyMarker(size) }, stream)`.
 * The host streams them on a solo HTTP v2 exchange and inlines them everywhere else.
 */
export function streamedResult(result: unknown, body: BodySource | null): StreamedResult {
  return new StreamedResult(result, body);
}

/** A ReadableStream of a {@link BodySource}. */
export function sourceStream(source: BodySource): ReadableStream<Uint8Array> {
  if (!(source instanceof Uint8Array)) return source;
  return new ReadableStream({
    start(controller) {
      if (source.byteLength > 0) controller.enqueue(source);
      controller.close();
    },
  });
}

/** Largest body that fits inline in a frame of `maxFrameBytes` (base64 is 4/3 of it, plus the frame around it). */
export function maxInlineBodyBytes(maxFrameBytes: number): number {
  return Math.max(0, Math.floor(((maxFrameBytes - 64 * 1024) * 3) / 4));
}

/** Reads a body into one buffer, up to `limit` bytes; `undefined` (the rest cancelled) when it is longer. */
export async function readSourceLimited(source: BodySource, limit: number): Promise<Uint8Array | undefined> {
  if (source instanceof Uint8Array) return source.byteLength > limit ? undefined : source;
  const read = await readStreamLimited(source, limit);
  return read.tooLarge ? undefined : read.bytes;
}

/**
 * `value` with its marker replaced by the bytes of `source` as a base64 envelope, for transports
 * that carry no raw bytes; throws a TOO_LARGE CommandError naming the limit when they do not fit a frame.
 */
export async function inlineBody(
  value: unknown,
  source: BodySource | null,
  maxFrameBytes: number,
  what: string,
): Promise<unknown> {
  const limit = maxInlineBodyBytes(maxFrameBytes);
  const bytes = source === null ? new Uint8Array(0) : await readSourceLimited(source, limit);
  if (!bytes) {
    throw new CommandError(
      "TOO_LARGE",
      `${what}: a body above ${formatBytes(limit)} does not fit in a ${formatBytes(maxFrameBytes)} frame on this transport; streamed bodies need the HTTP transport v2`,
      { command: what },
    );
  }
  return replaceBodyMarker(value, encodeBytes(bytes));
}

/** The first line of a byte stream and the stream of what follows it. */
export type SplitFrame =
  | {
      ok: true;
      line: string;
      lineBytes: Uint8Array;
      /** The bytes read past the line's end. */
      leftover: Uint8Array;
      /** The stream the rest comes from, unlocked: read it through {@link frameRest}. */
      source: ReadableStream<Uint8Array>;
    }
  | { ok: false; reason: "too-large" | "no-line"; head: Uint8Array };

/**
 * A stream that passes bytes through unchanged: workerd's native `IdentityTransformStream` where
 * there is one (workerd then pumps `pipeTo` between native streams without running JavaScript
 * per chunk: a solo exchange's body costs what the binding's own stream costs), else a
 * TransformStream.
 */
function passThrough(): TransformStream<Uint8Array, Uint8Array> {
  const Identity = (globalThis as { IdentityTransformStream?: new () => TransformStream<Uint8Array, Uint8Array> })
    .IdentityTransformStream;
  return Identity ? new Identity() : new TransformStream<Uint8Array, Uint8Array>();
}

/** Writes `head` chunks into `writable`, then pipes `rest` (when given) into it; errors end both. */
function pipeAfter(
  writable: WritableStream<Uint8Array>,
  head: readonly Uint8Array[],
  rest: ReadableStream<Uint8Array> | undefined,
): void {
  void (async () => {
    const writer = writable.getWriter();
    try {
      // One write at a time: workerd's native streams take no second write before the first is read.
      for (const chunk of head) if (chunk.byteLength > 0) await writer.write(chunk);
    } catch (error) {
      void rest?.cancel(error).catch(() => undefined);
      return;
    }
    if (!rest) {
      await writer.close().catch(() => undefined);
      return;
    }
    writer.releaseLock();
    // workerd pipes natively between its own streams (an R2 body, a request, a subrequest's
    // answer: what the built-in handlers hand over), but not from one native TransformStream into
    // another: such a pipe fails and leaves both locked, so none is built here.
    await rest.pipeTo(writable).catch(() => undefined);
  })();
}

/**
 * Reads a solo exchange's frame line (up to `maxLineBytes`) off `stream`; the bytes after it are
 * read with {@link frameRest} (or dropped with {@link discardRest}).
 */
export async function splitFrameLine(stream: ReadableStream<Uint8Array>, maxLineBytes: number): Promise<SplitFrame> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      reader.releaseLock();
      return { ok: false, reason: "no-line", head: concatBytes(chunks, total).subarray(0, 256) };
    }
    const newline = value.indexOf(0x0a);
    if (newline === -1) {
      total += value.byteLength;
      chunks.push(value);
      if (total > maxLineBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, reason: "too-large", head: chunks[0]!.subarray(0, 256) };
      }
      continue;
    }
    if (total + newline > maxLineBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false, reason: "too-large", head: (chunks[0] ?? value).subarray(0, 256) };
    }
    chunks.push(value.subarray(0, newline + 1));
    const lineBytes = concatBytes(chunks, total + newline + 1);
    const line = new TextDecoder().decode(lineBytes.subarray(0, lineBytes.byteLength - 1)).replace(/\r$/, "");
    reader.releaseLock();
    return { ok: true, line, lineBytes, leftover: value.subarray(newline + 1), source: stream };
  }
}

/**
 * The bytes after a split frame's line, as one stream read as it is consumed. With `length`
 * (a marker's), held to exactly that many bytes: in workerd through a native FixedLengthStream,
 * which bindings that need a known length (R2's put) take as it streams, and which workerd fills
 * from the request without running JavaScript per chunk.
 */
export function frameRest(split: Extract<SplitFrame, { ok: true }>, length?: number): ReadableStream<Uint8Array> {
  const Fixed = (globalThis as { FixedLengthStream?: new (length: number) => TransformStream<Uint8Array, Uint8Array> })
    .FixedLengthStream;
  if (length !== undefined && !Fixed) {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    pipeAfter(writable, [split.leftover], split.source);
    return exactLength(readable, length);
  }
  const { readable, writable } = length !== undefined && Fixed ? new Fixed(length) : passThrough();
  pipeAfter(writable, [split.leftover], split.source);
  return readable;
}

/** Gives up a split frame's body unread. */
export function discardRest(split: Extract<SplitFrame, { ok: true }>): void {
  void split.source.cancel().catch(() => undefined);
}

/**
 * A stream that passes `source` through and errors unless exactly `length` bytes pass: a sender
 * that announced a length cannot deliver more or less than it.
 */
export function exactLength(source: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await reader.read();
        if (next.done) {
          if (seen === length) controller.close();
          else controller.error(new RangeError(`body ended after ${seen} of the ${length} bytes its marker announced`));
          return;
        }
        seen += next.value.byteLength;
        if (seen > length) {
          await reader.cancel().catch(() => undefined);
          controller.error(new RangeError(`body is longer than the ${length} bytes its marker announced`));
          return;
        }
        controller.enqueue(next.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A stream of `line` + `\n` followed by the bytes of `body`: a solo exchange's HTTP body. */
export function frameStream(line: string, body: BodySource | null): ReadableStream<Uint8Array> | Uint8Array {
  const head = new TextEncoder().encode(`${line}\n`);
  if (body === null) return head;
  // Small bodies in one buffer (a known length); large ones are not copied.
  if (body instanceof Uint8Array && body.byteLength <= INLINE_BODY_BYTES)
    return concatBytes([head, body], head.byteLength + body.byteLength);
  const { readable, writable } = passThrough();
  if (body instanceof Uint8Array) pipeAfter(writable, [head, body], undefined);
  else pipeAfter(writable, [head], body);
  return readable;
}

/**
 * The bytes of an answer, whichever way they came: the raw body after the frame (the result holds
 * a marker), or a base64 envelope inlined in the result; `null` when the result has none.
 */
export function answerBytes(
  wire: EncodedBytes | BodyMarker | null | undefined,
  body: ReadableStream<Uint8Array> | null,
): ReadableStream<Uint8Array> | null {
  if (wire === null || wire === undefined) return null;
  if (isBodyMarker(wire)) return body ?? sourceStream(new Uint8Array(0));
  if (body) void body.cancel().catch(() => undefined);
  return sourceStream(decodeBytes(wire));
}
