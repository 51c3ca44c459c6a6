import { decodeBytes, encodeBytes } from "../../protocol/bytes.ts";
import { type CommandDefinition, defineCommand, defined } from "../handler.ts";
import {
  R2DeletePayloadSchema,
  R2GetPayloadSchema,
  R2HeadPayloadSchema,
  R2ListPayloadSchema,
  type R2ObjectJson,
  R2PutPayloadSchema,
} from "../schemas.ts";

interface R2ObjectLike {
  key: string;
  version: string;
  size: number;
  etag: string;
  httpEtag: string;
  checksums?: { toJSON?(): Record<string, string> } & Record<string, unknown>;
  uploaded: Date;
  httpMetadata?: Record<string, unknown> & { cacheExpiry?: Date };
  customMetadata?: Record<string, string>;
  range?: unknown;
  storageClass: string;
  ssecKeyMd5?: string;
  arrayBuffer?(): Promise<ArrayBuffer>;
}

type HeadersOr<T> = T | { headers: [string, string][] };

/** An R2 object's metadata in its wire form: dates as ISO strings, checksums as hex. */
export function r2ObjectToWire(object: R2ObjectLike): R2ObjectJson {
  const { cacheExpiry, ...httpMetadata } = object.httpMetadata ?? {};
  return JSON.parse(
    JSON.stringify({
      key: object.key,
      version: object.version,
      size: object.size,
      etag: object.etag,
      httpEtag: object.httpEtag,
      checksums: object.checksums?.toJSON?.() ?? {},
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

/** `r2.*` commands against a Workers R2Bucket. */
export const r2Commands: Record<string, CommandDefinition> = {
  "r2.get": defineCommand({
    schema: R2GetPayloadSchema,
    kind: "r2",
    async run(payload, bucket, context) {
      const object: R2ObjectLike | null = await bucket.get(
        payload.key,
        defined({ range: headersOr(payload.range), onlyIf: headersOr(payload.onlyIf, conditional) }),
      );
      if (!object) return null;
      if (typeof object.arrayBuffer !== "function") return { object: r2ObjectToWire(object) };
      // Reading the body is the expensive part: not for a connection that is gone.
      context.signal?.throwIfAborted();
      return { object: r2ObjectToWire(object), body: encodeBytes(await object.arrayBuffer()) };
    },
  }),
  "r2.put": defineCommand({
    schema: R2PutPayloadSchema,
    kind: "r2",
    async run(payload, bucket) {
      const value =
        payload.value === null || typeof payload.value === "string" ? payload.value : decodeBytes(payload.value);
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
      const object: R2ObjectLike | null = await bucket.put(payload.key, value, options);
      return object ? r2ObjectToWire(object) : null;
    },
  }),
  "r2.head": defineCommand({
    schema: R2HeadPayloadSchema,
    kind: "r2",
    async run(payload, bucket) {
      const object: R2ObjectLike | null = await bucket.head(payload.key);
      return object ? r2ObjectToWire(object) : null;
    },
  }),
  "r2.delete": defineCommand({
    schema: R2DeletePayloadSchema,
    kind: "r2",
    async run(payload, bucket) {
      await bucket.delete(payload.keys);
      return null;
    },
  }),
  "r2.list": defineCommand({
    schema: R2ListPayloadSchema,
    kind: "r2",
    async run(payload, bucket) {
      const { binding: _binding, ...options } = payload;
      const listed: { objects: R2ObjectLike[] } & Record<string, unknown> = await bucket.list(defined(options));
      return { ...listed, objects: listed.objects.map(r2ObjectToWire) };
    },
  }),
};
