import type { R2Bucket, R2GetOptions, R2Object, R2PutOptions } from "@cloudflare/workers-types";
import { bodyMarker, defineBindingHost, defined, handler, requestBody, streamedResult } from "../handler.ts";
import { r2 } from "./descriptor.ts";
import {
  R2DeletePayloadSchema,
  R2GetPayloadSchema,
  R2HeadPayloadSchema,
  R2ListPayloadSchema,
  type R2ListResultJson,
  type R2ObjectJson,
  R2PutPayloadSchema,
} from "./schemas.ts";

type HeadersOr<T> = T | { headers: [string, string][] };

/** An R2 object's metadata in its wire form: dates as ISO strings, checksums as hex. */
export function r2ObjectToWire(object: R2Object): R2ObjectJson {
  const { cacheExpiry, ...httpMetadata } = object.httpMetadata ?? {};
  return JSON.parse(
    JSON.stringify({
      key: object.key,
      version: object.version,
      size: object.size,
      etag: object.etag,
      httpEtag: object.httpEtag,
      checksums: object.checksums?.toJSON() ?? {},
      uploaded: object.uploaded.toISOString(),
      httpMetadata: object.httpMetadata
        ? { ...httpMetadata, ...(cacheExpiry instanceof Date ? { cacheExpiry: cacheExpiry.toISOString() } : {}) }
        : undefined,
      customMetadata: object.customMetadata,
      range: object.range,
      storageClass: object.storageClass,
      ssecKeyMd5: object.ssecKeyMd5,
    }),
  ) as R2ObjectJson;
}

function headersOr<T>(value: HeadersOr<T> | undefined, revive: (value: T) => unknown = (plain) => plain): unknown {
  if (value === undefined) return undefined;
  if (typeof value === "object" && value !== null && "headers" in value) return new Headers(value.headers);
  return revive(value);
}

function conditional(value: Record<string, unknown>): unknown {
  const { uploadedBefore, uploadedAfter, ...rest } = value;
  return {
    ...rest,
    ...(typeof uploadedBefore === "string" ? { uploadedBefore: new Date(uploadedBefore) } : {}),
    ...(typeof uploadedAfter === "string" ? { uploadedAfter: new Date(uploadedAfter) } : {}),
  };
}

function httpMetadata(value: Record<string, unknown>): unknown {
  const { cacheExpiry, ...rest } = value;
  return { ...rest, ...(typeof cacheExpiry === "string" ? { cacheExpiry: new Date(cacheExpiry) } : {}) };
}

/** The byte count of a ranged read's body (R2 reports the range it served). */
function rangeLength(object: R2Object): number | undefined {
  const range = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
  if (!range) return object.size;
  if (range.suffix !== undefined) return Math.min(range.suffix, object.size);
  const offset = range.offset ?? 0;
  return range.length ?? Math.max(0, object.size - offset);
}

/** `r2.*` commands against a Workers R2Bucket. */
export const r2Host = defineBindingHost<typeof r2, R2Bucket>(r2, {
  "r2.get": handler(R2GetPayloadSchema, async (payload, bucket: R2Bucket, context) => {
    const options = defined({ range: headersOr(payload.range), onlyIf: headersOr(payload.onlyIf, conditional) });
    const object = await bucket.get(payload.key, options as R2GetOptions);
    if (!object) return null;
    // A failed condition gives the object without a body.
    if (!("body" in object)) return { object: r2ObjectToWire(object) };
    // Reading the body is the expensive part: not for a connection that is gone.
    if (context.signal?.aborted) {
      void object.body.cancel().catch(() => undefined);
      context.signal.throwIfAborted();
    }
    const size = object.range ? rangeLength(object) : object.size;
    return streamedResult(
      { object: r2ObjectToWire(object), body: bodyMarker(size) },
      object.body as unknown as ReadableStream<Uint8Array>,
    );
  }),
  "r2.put": handler(R2PutPayloadSchema, async (payload, bucket: R2Bucket, context) => {
    const value = requestBody(payload.value, context);
    const options = defined({
      httpMetadata: headersOr(payload.httpMetadata, httpMetadata),
      customMetadata: payload.customMetadata,
      md5: payload.md5,
      sha1: payload.sha1,
      sha256: payload.sha256,
      sha384: payload.sha384,
      sha512: payload.sha512,
      storageClass: payload.storageClass,
      onlyIf: headersOr(payload.onlyIf, conditional),
    });
    const object = await bucket.put(payload.key, value as Parameters<R2Bucket["put"]>[1], options as R2PutOptions);
    return object ? r2ObjectToWire(object) : null;
  }),
  "r2.head": handler(R2HeadPayloadSchema, async (payload, bucket: R2Bucket) => {
    const object = await bucket.head(payload.key);
    return object ? r2ObjectToWire(object) : null;
  }),
  "r2.delete": handler(R2DeletePayloadSchema, async (payload, bucket: R2Bucket) => {
    await bucket.delete(payload.keys);
    return null;
  }),
  "r2.list": handler(R2ListPayloadSchema, async (payload, bucket: R2Bucket) => {
    const { binding: _binding, ...options } = payload;
    const listed = await bucket.list(defined(options));
    return { ...listed, objects: listed.objects.map(r2ObjectToWire) } as R2ListResultJson;
  }),
});
