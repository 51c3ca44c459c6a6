/** Payload schemas of the `kv.*` commands and the wire shapes of their results. */
import * as v from "valibot";
import { BodyMarkerSchema } from "../../protocol/body.ts";
import { EncodedBytesSchema } from "../../protocol/bytes.ts";
import { key, nonNegativeInt, withBinding } from "../schemas.ts";

const kvValueType = v.optional(v.picklist(["text", "json", "arrayBuffer", "stream"]), "text");

/** `kv.get` / `kv.getWithMetadata`: one key, or up to 100 keys (text or json only). */
export const KvGetPayloadSchema = v.pipe(
  v.object({
    ...withBinding,
    key: v.union([key, v.pipe(v.array(key), v.minLength(1), v.maxLength(100))]),
    type: kvValueType,
    cacheTtl: v.optional(v.pipe(v.number(), v.minValue(0))),
  }),
  v.check(
    (payload) => typeof payload.key === "string" || payload.type === "text" || payload.type === "json",
    "a list of keys can only be read as text or json",
  ),
);

/** `kv.put`: a string value, bytes, or a body marker (the bytes follow the frame). */
export const KvPutPayloadSchema = v.object({
  ...withBinding,
  key,
  value: v.union([v.string(), EncodedBytesSchema, BodyMarkerSchema]),
  expiration: v.optional(nonNegativeInt),
  expirationTtl: v.optional(nonNegativeInt),
  metadata: v.optional(v.unknown()),
});

/** `kv.delete`. */
export const KvDeletePayloadSchema = v.object({ ...withBinding, key });

/** `kv.list`. */
export const KvListPayloadSchema = v.object({
  ...withBinding,
  prefix: v.nullish(v.string()),
  limit: v.optional(v.pipe(nonNegativeInt, v.minValue(1))),
  cursor: v.nullish(v.string()),
});

/** A value on the wire: text or JSON as such, bytes (arrayBuffer/stream reads) as an envelope, or null. */
export type KvWireValue = unknown;

/** Result of `kv.get`: `value` for one key, `values` (in key order) for a list of keys. */
export type KvGetResult = { value: KvWireValue } | { values: [string, KvWireValue][] };

/** One entry of `kv.getWithMetadata`. */
export interface KvEntryJson {
  value: KvWireValue;
  metadata: unknown;
  cacheStatus: string | null;
}

/** Result of `kv.getWithMetadata`: the entry for one key, `values` for a list of keys. */
export type KvGetWithMetadataResult = KvEntryJson | { values: [string, KvEntryJson][] };

/** Result of `kv.list`: KV's own list result. */
export interface KvListResult {
  keys: { name: string; expiration?: number; metadata?: unknown }[];
  list_complete: boolean;
  cursor?: string;
  cacheStatus: string | null;
}
