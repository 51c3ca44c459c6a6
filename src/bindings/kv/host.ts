import { decodeBytes, encodeBytes } from "../../protocol/bytes.ts";
import { type CommandDefinition, defineCommand, defined } from "../handler.ts";
import { KvDeletePayloadSchema, KvGetPayloadSchema, KvListPayloadSchema, KvPutPayloadSchema } from "../schemas.ts";

type WireType = "text" | "json" | "arrayBuffer" | "stream";

/** KV returns bytes for arrayBuffer and stream reads; both travel as base64. */
function readType(type: WireType): "text" | "json" | "arrayBuffer" {
  return type === "stream" ? "arrayBuffer" : type;
}

function encodeValue(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return encodeBytes(value as ArrayBuffer);
  return value ?? null;
}

/** `kv.*` commands against a Workers KVNamespace. */
export const kvCommands: Record<string, CommandDefinition> = {
  "kv.get": defineCommand({
    schema: KvGetPayloadSchema,
    kind: "kv",
    async run(payload, kv) {
      const options = defined({ type: readType(payload.type), cacheTtl: payload.cacheTtl });
      if (Array.isArray(payload.key)) {
        const values: Map<string, unknown> = await kv.get(payload.key, options);
        return { values: [...values].map(([key, value]) => [key, encodeValue(value)]) };
      }
      return { value: encodeValue(await kv.get(payload.key, options)) };
    },
  }),
  "kv.getWithMetadata": defineCommand({
    schema: KvGetPayloadSchema,
    kind: "kv",
    async run(payload, kv) {
      const options = defined({ type: readType(payload.type), cacheTtl: payload.cacheTtl });
      const wire = (entry: { value: unknown; metadata?: unknown; cacheStatus?: unknown }) => ({
        value: encodeValue(entry.value),
        metadata: entry.metadata ?? null,
        cacheStatus: entry.cacheStatus ?? null,
      });
      if (Array.isArray(payload.key)) {
        const entries: Map<string, { value: unknown; metadata?: unknown }> = await kv.getWithMetadata(
          payload.key,
          options,
        );
        return { values: [...entries].map(([key, entry]) => [key, wire(entry)]) };
      }
      return wire(await kv.getWithMetadata(payload.key, options));
    },
  }),
  "kv.put": defineCommand({
    schema: KvPutPayloadSchema,
    kind: "kv",
    async run(payload, kv) {
      const value = typeof payload.value === "string" ? payload.value : decodeBytes(payload.value);
      const options = defined({
        expiration: payload.expiration,
        expirationTtl: payload.expirationTtl,
        metadata: payload.metadata,
      });
      await kv.put(payload.key, value, options);
      return null;
    },
  }),
  "kv.delete": defineCommand({
    schema: KvDeletePayloadSchema,
    kind: "kv",
    async run(payload, kv) {
      await kv.delete(payload.key);
      return null;
    },
  }),
  "kv.list": defineCommand({
    schema: KvListPayloadSchema,
    kind: "kv",
    run(payload, kv) {
      return kv.list(
        defined({ prefix: payload.prefix ?? undefined, limit: payload.limit, cursor: payload.cursor ?? undefined }),
      );
    },
  }),
};
