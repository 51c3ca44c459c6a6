import type { KVNamespace } from "@cloudflare/workers-types";
import { encodeBytes } from "../../protocol/bytes.ts";
import { bodyMarker, defineBindingHost, defined, handler, requestBody, streamedResult } from "../handler.ts";
import { kv } from "./descriptor.ts";
import {
  KvDeletePayloadSchema,
  type KvEntryJson,
  KvGetPayloadSchema,
  KvListPayloadSchema,
  type KvListResult,
  KvPutPayloadSchema,
} from "./schemas.ts";

type WireType = "text" | "json" | "arrayBuffer" | "stream";

/** KV returns bytes for arrayBuffer and stream reads; both travel as base64. */
function readType(type: WireType): "text" | "json" | "arrayBuffer" {
  return type === "stream" ? "arrayBuffer" : type;
}

/**
 * `get`/`getWithMetadata` with the read type known only at run time: KVNamespace declares one
 * overload per literal type, which a payload's `type` cannot pick.
 */
type DynamicRead = (
  key: string | string[],
  options: { type: "text" | "json" | "arrayBuffer"; cacheTtl?: number },
) => Promise<unknown>;

interface KvEntry {
  value: unknown;
  metadata?: unknown;
  cacheStatus?: string | null;
}

const wireEntry = (entry: KvEntry): KvEntryJson => ({
  value: encodeValue(entry.value),
  metadata: entry.metadata ?? null,
  cacheStatus: entry.cacheStatus ?? null,
});

function cacheTtlOf(payload: { cacheTtl?: number | undefined }) {
  return payload.cacheTtl === undefined ? {} : { cacheTtl: payload.cacheTtl };
}

function readOptions(payload: { type: WireType; cacheTtl?: number | undefined }) {
  return { type: readType(payload.type), ...(payload.cacheTtl === undefined ? {} : { cacheTtl: payload.cacheTtl }) };
}

function encodeValue(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return encodeBytes(value as ArrayBuffer);
  return value ?? null;
}

/** `kv.*` commands against a Workers KVNamespace. */
export const kvHost = defineBindingHost<typeof kv, KVNamespace>(kv, {
  "kv.get": handler(KvGetPayloadSchema, async (payload, kv: KVNamespace, context) => {
    if (context.streams && typeof payload.key === "string") {
      // A solo exchange: the value streams back raw, whatever its type (the client decodes it).
      const stream = await kv.get(payload.key, { type: "stream", ...cacheTtlOf(payload) });
      return stream === null ? { value: null } : streamedResult({ value: bodyMarker() }, stream as never);
    }
    const read = kv.get.bind(kv) as DynamicRead;
    if (Array.isArray(payload.key)) {
      const values = (await read(payload.key, readOptions(payload))) as Map<string, unknown>;
      return { values: [...values].map(([key, value]): [string, unknown] => [key, encodeValue(value)]) };
    }
    return { value: encodeValue(await read(payload.key, readOptions(payload))) };
  }),
  "kv.getWithMetadata": handler(KvGetPayloadSchema, async (payload, kv: KVNamespace, context) => {
    if (context.streams && typeof payload.key === "string") {
      const entry = await kv.getWithMetadata(payload.key, { type: "stream", ...cacheTtlOf(payload) });
      const head = { metadata: entry.metadata ?? null, cacheStatus: entry.cacheStatus ?? null };
      if (entry.value === null) return { value: null, ...head };
      return streamedResult({ value: bodyMarker(), ...head }, entry.value as never);
    }
    const read = kv.getWithMetadata.bind(kv) as DynamicRead;
    if (Array.isArray(payload.key)) {
      const entries = (await read(payload.key, readOptions(payload))) as Map<string, KvEntry>;
      return { values: [...entries].map(([key, entry]): [string, KvEntryJson] => [key, wireEntry(entry)]) };
    }
    return wireEntry((await read(payload.key, readOptions(payload))) as KvEntry);
  }),
  "kv.put": handler(KvPutPayloadSchema, async (payload, kv: KVNamespace, context) => {
    const value = requestBody(payload.value, context) ?? "";
    const options = defined({
      expiration: payload.expiration,
      expirationTtl: payload.expirationTtl,
      metadata: payload.metadata,
    });
    await kv.put(payload.key, value as Parameters<KVNamespace["put"]>[1], options);
    return null;
  }),
  "kv.delete": handler(KvDeletePayloadSchema, async (payload, kv: KVNamespace) => {
    await kv.delete(payload.key);
    return null;
  }),
  "kv.list": handler(KvListPayloadSchema, (payload, kv: KVNamespace) => {
    return kv.list(
      defined({ prefix: payload.prefix ?? undefined, limit: payload.limit, cursor: payload.cursor ?? undefined }),
    ) as Promise<KvListResult>;
  }),
});
