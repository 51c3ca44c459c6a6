/**
 * Payload schemas of every protocol v1 command: the single source of truth for the host's
 * validation (INVALID_PAYLOAD) and for the client's payload types. docs/protocol.md spells the
 * same shapes out in prose.
 */
import * as v from "valibot";
import { BINDING_KINDS, BINDING_NAME_RE, type BindingKind } from "../config.ts";
import { EncodedBytesSchema } from "../protocol/bytes.ts";

/** Binding kinds, as `host.describe` reports them. */

const bindingName = v.pipe(v.string(), v.regex(BINDING_NAME_RE, "binding must be a binding name like CACHE"));
const nonNegativeInt = v.pipe(v.number(), v.integer(), v.minValue(0));
const key = v.pipe(v.string(), v.nonEmpty("key must not be empty"));
/** An ISO 8601 date-time string: how dates travel. */
const isoDate = v.pipe(v.string(), v.isoTimestamp("dates travel as ISO 8601 strings"));
/** `[[name, value], …]`: headers keep repeated names (set-cookie) this way. */
export const HeaderListSchema = v.array(v.tuple([v.string(), v.string()]));

const withBinding = { binding: bindingName };

/** Empty payload: `null` or `{}`. */
export const EmptyPayloadSchema = v.nullish(v.object({}));

// --- KV -----------------------------------------------------------------------------------------

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

/** `kv.put`: a string value, or bytes. */
export const KvPutPayloadSchema = v.object({
  ...withBinding,
  key,
  value: v.union([v.string(), EncodedBytesSchema]),
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

// --- D1 -----------------------------------------------------------------------------------------

/** A bound parameter: what D1 accepts, bytes as an envelope. */
export const D1ParamSchema = v.union([v.null(), v.number(), v.string(), v.boolean(), EncodedBytesSchema]);

const statement = {
  sql: v.pipe(v.string(), v.nonEmpty("sql must not be empty")),
  params: v.optional(v.array(D1ParamSchema), []),
};

/** `d1.query`: one statement run as `all`, `first` (optionally one `column`), `run` or `raw`. */
export const D1QueryPayloadSchema = v.object({
  ...withBinding,
  ...statement,
  mode: v.optional(v.picklist(["all", "first", "run", "raw"]), "all"),
  column: v.optional(v.string()),
  columnNames: v.optional(v.boolean()),
});

/** `d1.batch`: statements run in one transaction. */
export const D1BatchPayloadSchema = v.object({
  ...withBinding,
  statements: v.pipe(v.array(v.object(statement)), v.minLength(1)),
});

/** `d1.exec`: raw SQL, possibly several statements. */
export const D1ExecPayloadSchema = v.object({ ...withBinding, sql: v.pipe(v.string(), v.nonEmpty()) });

// --- Queues -------------------------------------------------------------------------------------

const queueContentType = v.optional(v.picklist(["text", "bytes", "json", "v8"]));
const delaySeconds = v.optional(nonNegativeInt);

/** One queue message; with `contentType: "bytes"` the body is a bytes envelope. */
export const QueueMessageSchema = v.pipe(
  v.object({ body: v.unknown(), contentType: queueContentType, delaySeconds }),
  v.check(
    (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
    "a bytes body must be a base64 envelope",
  ),
  v.check(
    (message) => message.contentType !== "text" || typeof message.body === "string",
    "a text body must be a string",
  ),
);

/** `queue.send`. */
export const QueueSendPayloadSchema = v.pipe(
  v.object({ ...withBinding, body: v.unknown(), contentType: queueContentType, delaySeconds }),
  v.check(
    (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
    "a bytes body must be a base64 envelope",
  ),
  v.check(
    (message) => message.contentType !== "text" || typeof message.body === "string",
    "a text body must be a string",
  ),
);

/** `queue.sendBatch`. */
export const QueueSendBatchPayloadSchema = v.object({
  ...withBinding,
  messages: v.pipe(v.array(QueueMessageSchema), v.minLength(1)),
  delaySeconds,
});

// --- R2 -----------------------------------------------------------------------------------------

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
  value: v.nullable(v.union([v.string(), EncodedBytesSchema])),
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

// --- Assets and vars ----------------------------------------------------------------------------

/** `assets.fetch`: a path (with query) on the assets binding. */
export const AssetsFetchPayloadSchema = v.object({
  ...withBinding,
  path: v.pipe(v.string(), v.startsWith("/", "path must start with /")),
  method: v.optional(v.pipe(v.string(), v.regex(/^[A-Z]+$/, "method must be an upper-case HTTP method")), "GET"),
  headers: v.optional(HeaderListSchema, []),
});

/** `env.get`: the value of an exposed var. */
export const EnvGetPayloadSchema = v.object({ ...withBinding });

// --- Results ------------------------------------------------------------------------------------

/** Result of `host.describe`. */
export const DescribeResultSchema = v.object({
  v: v.optional(v.number()),
  bindings: v.record(bindingName, v.picklist(BINDING_KINDS)),
  vars: v.optional(v.record(v.string(), v.unknown())),
  limits: v.optional(v.object({ maxFrameBytes: v.optional(v.number()) })),
});

/** What `host.describe` answers. */
export type DescribeResult = v.InferOutput<typeof DescribeResultSchema>;

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

/** Result of `assets.fetch`. */
export interface AssetResponseJson {
  status: number;
  statusText?: string;
  headers: [string, string][];
  body: v.InferOutput<typeof EncodedBytesSchema> | null;
}

/** Input types of every command's payload, by command name. */
export interface CommandPayloads {
  "host.ping": null | undefined;
  "host.describe": null | undefined;
  "kv.get": v.InferInput<typeof KvGetPayloadSchema>;
  "kv.getWithMetadata": v.InferInput<typeof KvGetPayloadSchema>;
  "kv.put": v.InferInput<typeof KvPutPayloadSchema>;
  "kv.delete": v.InferInput<typeof KvDeletePayloadSchema>;
  "kv.list": v.InferInput<typeof KvListPayloadSchema>;
  "d1.query": v.InferInput<typeof D1QueryPayloadSchema>;
  "d1.batch": v.InferInput<typeof D1BatchPayloadSchema>;
  "d1.exec": v.InferInput<typeof D1ExecPayloadSchema>;
  "queue.send": v.InferInput<typeof QueueSendPayloadSchema>;
  "queue.sendBatch": v.InferInput<typeof QueueSendBatchPayloadSchema>;
  "r2.get": v.InferInput<typeof R2GetPayloadSchema>;
  "r2.put": v.InferInput<typeof R2PutPayloadSchema>;
  "r2.head": v.InferInput<typeof R2HeadPayloadSchema>;
  "r2.delete": v.InferInput<typeof R2DeletePayloadSchema>;
  "r2.list": v.InferInput<typeof R2ListPayloadSchema>;
  "assets.fetch": v.InferInput<typeof AssetsFetchPayloadSchema>;
  "env.get": v.InferInput<typeof EnvGetPayloadSchema>;
}

/** The names of the built-in commands of protocol v1. */
export type CommandName = keyof CommandPayloads;
