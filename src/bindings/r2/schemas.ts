/** Payload schemas of the `r2.*` commands and the wire shape of an R2 object. */
import * as v from "valibot";
import { type BodyMarker, BodyMarkerSchema } from "../../protocol/body.ts";
import { type EncodedBytes, EncodedBytesSchema } from "../../protocol/bytes.ts";
import { HeaderListSchema, isoDate, key, nonNegativeInt, withBinding } from "../schemas.ts";

/** An R2 range: `{offset, length?}`, `{offset?, length}` or `{suffix}`. */
export const R2RangeSchema = v.union([
  v.object({ offset: nonNegativeInt, length: v.optional(nonNegativeInt) }),
  v.object({ offset: v.optional(nonNegativeInt), length: nonNegativeInt }),
  v.object({ suffix: nonNegativeInt }),
]);

/** R2 conditions; dates as ISO strings. */
export const R2ConditionalSchema = v.object({
  etagMatches: v.optional(v.string()),
  etagDoesNotMatch: v.optional(v.string()),
  uploadedBefore: v.optional(isoDate),
  uploadedAfter: v.optional(isoDate),
  secondsGranularity: v.optional(v.boolean()),
});

/** Conditions or range given as HTTP headers (`If-Match`, `Range`, …). */
export const HeadersObjectSchema = v.object({ headers: HeaderListSchema });

/** R2 HTTP metadata; `cacheExpiry` as an ISO string. */
export const R2HttpMetadataSchema = v.object({
  contentType: v.optional(v.string()),
  contentLanguage: v.optional(v.string()),
  contentDisposition: v.optional(v.string()),
  contentEncoding: v.optional(v.string()),
  cacheControl: v.optional(v.string()),
  cacheExpiry: v.optional(isoDate),
});

const hexDigest = v.pipe(v.string(), v.hexadecimal("checksums travel as hex strings"));

/** `r2.get`. */
export const R2GetPayloadSchema = v.object({
  ...withBinding,
  key,
  range: v.optional(v.union([R2RangeSchema, HeadersObjectSchema])),
  onlyIf: v.optional(v.union([R2ConditionalSchema, HeadersObjectSchema])),
});

/** `r2.put`; `value: null` stores an empty object. */
export const R2PutPayloadSchema = v.object({
  ...withBinding,
  key,
  value: v.nullable(v.union([v.string(), EncodedBytesSchema, BodyMarkerSchema])),
  httpMetadata: v.optional(v.union([R2HttpMetadataSchema, HeadersObjectSchema])),
  customMetadata: v.optional(v.record(v.string(), v.string())),
  md5: v.optional(hexDigest),
  sha1: v.optional(hexDigest),
  sha256: v.optional(hexDigest),
  sha384: v.optional(hexDigest),
  sha512: v.optional(hexDigest),
  storageClass: v.optional(v.string()),
  onlyIf: v.optional(v.union([R2ConditionalSchema, HeadersObjectSchema])),
});

/** `r2.head`. */
export const R2HeadPayloadSchema = v.object({ ...withBinding, key });

/** `r2.delete`: one key or up to 1000. */
export const R2DeletePayloadSchema = v.object({
  ...withBinding,
  keys: v.union([key, v.pipe(v.array(key), v.maxLength(1000))]),
});

/** `r2.list`. */
export const R2ListPayloadSchema = v.object({
  ...withBinding,
  limit: v.optional(v.pipe(nonNegativeInt, v.minValue(1))),
  prefix: v.optional(v.string()),
  cursor: v.optional(v.string()),
  delimiter: v.optional(v.string()),
  startAfter: v.optional(v.string()),
  include: v.optional(v.array(v.picklist(["httpMetadata", "customMetadata"]))),
});

/** An R2 object's metadata on the wire. */
export interface R2ObjectJson {
  key: string;
  version: string;
  size: number;
  etag: string;
  httpEtag: string;
  checksums: Record<string, string>;
  /** ISO 8601. */
  uploaded: string;
  httpMetadata?: Omit<v.InferOutput<typeof R2HttpMetadataSchema>, "cacheExpiry"> & { cacheExpiry?: string };
  customMetadata?: Record<string, string>;
  range?: v.InferOutput<typeof R2RangeSchema>;
  storageClass: string;
  ssecKeyMd5?: string;
}

/** Result of `r2.get`: the object's metadata and, unless a condition failed, its body. */
export interface R2GetResultJson {
  object: R2ObjectJson;
  body?: EncodedBytes | BodyMarker;
}

/** Result of `r2.list`: R2's own list result with objects as {@link R2ObjectJson}. */
export interface R2ListResultJson {
  objects: R2ObjectJson[];
  truncated: boolean;
  cursor?: string;
  delimitedPrefixes: string[];
}
