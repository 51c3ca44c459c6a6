import type { KVNamespace } from "@cloudflare/workers-types";
import type { CommandClient, InvokeOptions } from "../../command/client.ts";
import { bodyArgument, isBodyMarker } from "../../protocol/body.ts";
import { type BodyInput, bytesStream, decodeBytes, isEncodedBytes, toArrayBuffer } from "../../protocol/bytes.ts";
import { RemoteBinding } from "../remote-binding.ts";
import type { KvGetResult, KvGetWithMetadataResult } from "./schemas.ts";

/** The answer to a list of keys: the host answers `values` exactly when the payload's key is a list. */
type ManyKeys<Result> = Extract<Result, { values: unknown }>;
/** The answer to one key. */
type OneKey<Result> = Exclude<Result, { values: unknown }>;

/** How a KV value is returned: the `type` of `KVNamespace.get`. */
export type KvValueType = "text" | "json" | "arrayBuffer" | "stream";

/** Options of {@link kvGet}. */
export interface KvGetOptions extends InvokeOptions {
  cacheTtl?: number;
}

interface KvGetArgs {
  type: KvValueType;
  cacheTtl?: number;
}

/** Splits `get(key, "json")` / `get(key, { type: "json", cacheTtl })` into one shape. */
function kvGetArgs(typeOrOptions: unknown): KvGetArgs {
  if (typeof typeOrOptions === "string") return { type: typeOrOptions as KvValueType };
  if (typeOrOptions && typeof typeOrOptions === "object") {
    const { type, cacheTtl } = typeOrOptions as { type?: KvValueType; cacheTtl?: number };
    return { type: type ?? "text", ...(cacheTtl === undefined ? {} : { cacheTtl }) };
  }
  return { type: "text" };
}

/** Wire value → the JS value `KVNamespace.get` returns for `type`. */
export function decodeKvValue(value: unknown, type: KvValueType): unknown {
  if (value === null || value === undefined) return null;
  if (type === "arrayBuffer" || type === "stream") {
    if (!isEncodedBytes(value)) throw new TypeError(`expected a base64 bytes value for a ${type} read`);
    const bytes = decodeBytes(value);
    return type === "arrayBuffer" ? toArrayBuffer(bytes) : bytesStream(bytes);
  }
  return value;
}

/**
 * An answer's value → what `KVNamespace.get` returns for `type`: read from the streamed body
 * when the value is its marker (large values, and every arrayBuffer/stream read over HTTP),
 * else decoded from the frame. A value that only looks like a marker is data when no body came.
 */
export async function decodeKvAnswer(
  value: unknown,
  body: ReadableStream<Uint8Array> | null,
  type: KvValueType,
): Promise<unknown> {
  if (!body) return decodeKvValue(value, type);
  if (!isBodyMarker(value)) {
    void body.cancel().catch(() => undefined);
    return decodeKvValue(value, type);
  }
  if (type === "stream") return body;
  const response = new Response(body as ConstructorParameters<typeof Response>[0]);
  if (type === "arrayBuffer") return response.arrayBuffer();
  const text = await response.text();
  return type === "json" ? JSON.parse(text) : text;
}

/** Whether a read of `type` asks for its answer to stream (bytes); text and json ride in batches. */
const streamsAnswer = (type: KvValueType) => type === "arrayBuffer" || type === "stream";

/**
 * Reads one KV value (typed helper of the original design): `kvGet(client, "CACHE", "k")` →
 * string or null; `type` as in `KVNamespace.get`.
 */
export function kvGet(
  client: CommandClient,
  binding: string,
  key: string,
  type?: "text",
  options?: KvGetOptions,
): Promise<string | null>;
export function kvGet<T = unknown>(
  client: CommandClient,
  binding: string,
  key: string,
  type: "json",
  options?: KvGetOptions,
): Promise<T | null>;
export function kvGet(
  client: CommandClient,
  binding: string,
  key: string,
  type: "arrayBuffer",
  options?: KvGetOptions,
): Promise<ArrayBuffer | null>;
export function kvGet(
  client: CommandClient,
  binding: string,
  key: string,
  type: "stream",
  options?: KvGetOptions,
): Promise<ReadableStream | null>;
export async function kvGet(
  client: CommandClient,
  binding: string,
  key: string,
  type: KvValueType = "text",
  options: KvGetOptions = {},
): Promise<unknown> {
  const { cacheTtl, ...invokeOptions } = options;
  const { result, body } = await client.invokeStreamed(
    "kv.get",
    { binding, key, type, cacheTtl },
    { streamed: streamsAnswer(type), ...invokeOptions },
  );
  return decodeKvAnswer((result as OneKey<KvGetResult> | null)?.value, body, type);
}

/** A Workers `KVNamespace` whose calls travel over the command bus. */
export class KvBinding extends RemoteBinding implements KVNamespace {
  /** `get(key, type | options)`; a list of up to 100 keys gives a Map (text or json only). */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of KVNamespace
  async get(key: string | string[], typeOrOptions?: unknown): Promise<any> {
    const { type, cacheTtl } = kvGetArgs(typeOrOptions);
    if (!Array.isArray(key)) return kvGet(this.client, this.bindingName, key, type as "text", { cacheTtl });
    const result = (await this.client.invoke("kv.get", {
      binding: this.bindingName,
      key,
      type,
      cacheTtl,
    })) as ManyKeys<KvGetResult>;
    return new Map(result.values.map(([name, value]) => [name, decodeKvValue(value, type)]));
  }

  /** `getWithMetadata(key, type | options)` → `{ value, metadata, cacheStatus }` (a Map for a list of keys). */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of KVNamespace
  async getWithMetadata(key: string | string[], typeOrOptions?: unknown): Promise<any> {
    const { type, cacheTtl } = kvGetArgs(typeOrOptions);
    const payload = { binding: this.bindingName, key, type, cacheTtl };
    if (Array.isArray(key)) {
      const result = (await this.client.invoke("kv.getWithMetadata", payload)) as ManyKeys<KvGetWithMetadataResult>;
      return new Map(
        result.values.map(([name, entry]) => [
          name,
          {
            value: decodeKvValue(entry.value, type),
            metadata: entry.metadata ?? null,
            cacheStatus: entry.cacheStatus ?? null,
          },
        ]),
      );
    }
    const answer = await this.client.invokeStreamed("kv.getWithMetadata", payload, { streamed: streamsAnswer(type) });
    const result = answer.result as OneKey<KvGetWithMetadataResult>;
    return {
      value: await decodeKvAnswer(result.value, answer.body, type),
      metadata: result.metadata ?? null,
      cacheStatus: result.cacheStatus ?? null,
    };
  }

  /**
   * `put(key, value, { expiration, expirationTtl, metadata })`. Values above 64 KiB (and every
   * stream) travel as a streamed body, up to KV's own 25 MiB limit.
   */
  async put(
    key: string,
    value: BodyInput | Parameters<KVNamespace["put"]>[1],
    options: { expiration?: number; expirationTtl?: number; metadata?: unknown } = {},
  ): Promise<void> {
    const { wire, body } = await bodyArgument(value);
    await this.client.invokeStreamed(
      "kv.put",
      {
        binding: this.bindingName,
        key,
        value: wire ?? "",
        expiration: options.expiration,
        expirationTtl: options.expirationTtl,
        metadata: options.metadata ?? undefined,
      },
      body === undefined ? { streamed: false } : { body, streamed: false },
    );
  }

  /** `delete(key)`. */
  async delete(key: string): Promise<void> {
    await this.client.invoke("kv.delete", { binding: this.bindingName, key });
  }

  /** `list({ prefix, limit, cursor })` → `{ keys, list_complete, cursor?, cacheStatus }`. */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of KVNamespace
  list(options: { prefix?: string | null; limit?: number; cursor?: string | null } = {}): Promise<any> {
    return this.client.invoke("kv.list", {
      binding: this.bindingName,
      prefix: options.prefix ?? undefined,
      limit: options.limit,
      cursor: options.cursor ?? undefined,
    });
  }
}
