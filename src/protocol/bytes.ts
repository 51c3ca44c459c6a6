import * as v from "valibot";

/** Bytes on the wire: `{"encoding":"base64","data":"…"}` (docs/protocol.md, "Bytes"). */
export interface EncodedBytes {
  encoding: "base64";
  data: string;
}

/** Schema of {@link EncodedBytes}; `data` is standard base64 with padding. */
export const EncodedBytesSchema = v.object({
  encoding: v.literal("base64"),
  data: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/, "data must be standard base64")),
});

/** Anything the bindings accept as a body: what Workers accept, minus what cannot be sent as bytes. */
export type BodyInput = string | ArrayBuffer | ArrayBufferView | ReadableStream | Blob | null | undefined;

interface BufferLike {
  from(
    data: ArrayBufferLike | string,
    offsetOrEncoding?: number | string,
    length?: number,
  ): Uint8Array & {
    toString(encoding: string): string;
  };
}

// Node, Bun and Deno (and workerd with nodejs_compat) have Buffer, whose base64 is native code;
// without it we fall back to btoa/atob, which every runtime has.
const NativeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Base64 of some bytes. */
export function toBase64(bytes: Uint8Array): string {
  if (NativeBuffer)
    return NativeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let binary = "";
  const step = 0x8000;
  for (let index = 0; index < bytes.length; index += step) {
    binary += String.fromCharCode(...bytes.subarray(index, index + step));
  }
  return btoa(binary);
}

/** The bytes of a base64 string. */
export function fromBase64(data: string): Uint8Array {
  if (NativeBuffer) {
    const buffer = NativeBuffer.from(data, "base64");
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** A view of `value` as a Uint8Array, without copying. */
export function asUint8Array(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(value);
}

/** Wraps bytes for the wire. */
export function encodeBytes(value: ArrayBuffer | ArrayBufferView): EncodedBytes {
  return { encoding: "base64", data: toBase64(asUint8Array(value)) };
}

/** Unwraps bytes from the wire. */
export function decodeBytes(value: EncodedBytes): Uint8Array {
  return fromBase64(value.data);
}

/** Whether `value` is a bytes envelope. */
export function isEncodedBytes(value: unknown): value is EncodedBytes {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as EncodedBytes).encoding === "base64" &&
    typeof (value as EncodedBytes).data === "string"
  );
}

/** A copy of `bytes` as an ArrayBuffer of exactly their length. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/**
 * Reads any body a Workers binding accepts into bytes (`null`/`undefined` → empty). Typed
 * `unknown` because Workers types and the runtime's lib declare different ReadableStreams.
 */
export async function readBody(value: BodyInput | unknown): Promise<Uint8Array> {
  if (value === null || value === undefined) return new Uint8Array(0);
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return asUint8Array(value);
  if (typeof Blob !== "undefined" && value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (typeof (value as ReadableStream).getReader === "function") {
    return new Uint8Array(await new Response(value as ReadableStream).arrayBuffer());
  }
  throw new TypeError("body must be a string, ArrayBuffer, ArrayBufferView, ReadableStream, Blob or null");
}

/** A ReadableStream that yields `bytes` once: the `stream` shape of a body we hold in memory. */
export function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Lower-case hex of some bytes (R2 checksums travel as hex). */
export function toHex(bytes: Uint8Array): string {
  // Native where there is a Buffer: a flat string, where `+=` builds a rope of many fragments.
  if (NativeBuffer)
    return NativeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString("hex");
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length >> 1);
  for (let index = 0; index < bytes.length; index++)
    bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

/** What {@link readBodyLimited} read: the whole body, or the first bytes of one above the limit. */
export type LimitedBody = { tooLarge: false; bytes: Uint8Array } | { tooLarge: true; head: Uint8Array };

/**
 * Reads a request's body up to `limit` bytes. Reading stops at the limit (a declared
 * `Content-Length` above it is refused before reading), so a body never costs more than `limit`;
 * for a body above it the first bytes read are kept, enough to recover a frame id.
 */
export async function readBodyLimited(request: Request, limit: number): Promise<LimitedBody> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (!request.body) return { tooLarge: false, bytes: new Uint8Array(0) };
  if (Number.isFinite(declared) && declared > limit) {
    const reader = request.body.getReader();
    const first = await reader.read().catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    return { tooLarge: true, head: first?.value?.subarray(0, 256) ?? new Uint8Array(0) };
  }
  return readStreamLimited(request.body, limit);
}

/** Reads a stream into one buffer up to `limit` bytes; above it the rest is cancelled and the first bytes kept. */
export async function readStreamLimited(stream: ReadableStream<Uint8Array>, limit: number): Promise<LimitedBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    chunks.push(value);
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return { tooLarge: true, head: chunks[0]!.subarray(0, 256) };
    }
  }
  return { tooLarge: false, bytes: concatBytes(chunks, total) };
}

/** The chunks as one buffer (the chunk itself when there is one). */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** UTF-8 byte length of `text`, computed only when the cheap bounds cannot decide. */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8Length(text) > maxBytes;
}

/** UTF-8 byte length of a string. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        index++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** `1048576` → `"1 MiB"`: sizes in error messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
