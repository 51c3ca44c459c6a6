import type {
  R2Bucket,
  R2Checksums,
  R2Conditional,
  R2HTTPMetadata,
  R2ListOptions,
  R2MultipartUpload,
  R2Object,
  R2ObjectBody,
  R2Objects,
  R2PutOptions,
  R2Range,
} from "@cloudflare/workers-types";
import type * as v from "valibot";
import { CommandError } from "../../errors.ts";
import { answerBytes, bodyArgument } from "../../protocol/body.ts";
import { asUint8Array, fromHex, toArrayBuffer, toHex } from "../../protocol/bytes.ts";
import { RemoteBinding } from "../remote-binding.ts";
import type { R2ConditionalSchema, R2HttpMetadataSchema, R2ObjectJson } from "./schemas.ts";

type R2ConditionalJson = v.InferInput<typeof R2ConditionalSchema>;
type R2HttpMetadataJson = v.InferInput<typeof R2HttpMetadataSchema>;

type HeaderPairs = { headers: [string, string][] };

function isHeaders(value: unknown): value is Headers {
  return typeof Headers !== "undefined" && value instanceof Headers;
}

function headerPairs(headers: Headers): HeaderPairs {
  return { headers: [...headers] };
}

function conditionalToWire(onlyIf: R2Conditional | Headers | undefined): R2ConditionalJson | HeaderPairs | undefined {
  if (onlyIf === undefined) return undefined;
  if (isHeaders(onlyIf)) return headerPairs(onlyIf);
  const { uploadedBefore, uploadedAfter, ...rest } = onlyIf;
  return {
    ...rest,
    ...(uploadedBefore ? { uploadedBefore: uploadedBefore.toISOString() } : {}),
    ...(uploadedAfter ? { uploadedAfter: uploadedAfter.toISOString() } : {}),
  };
}

function httpMetadataToWire(
  metadata: R2HTTPMetadata | Headers | undefined,
): R2HttpMetadataJson | HeaderPairs | undefined {
  if (metadata === undefined) return undefined;
  if (isHeaders(metadata)) return headerPairs(metadata);
  const { cacheExpiry, ...rest } = metadata;
  return { ...rest, ...(cacheExpiry ? { cacheExpiry: cacheExpiry.toISOString() } : {}) };
}

function digestToWire(value: ArrayBuffer | ArrayBufferView | string | undefined): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  return toHex(asUint8Array(value));
}

function checksumsFromWire(json: Record<string, string> = {}): R2Checksums {
  const checksums: Record<string, unknown> = {};
  for (const [name, hex] of Object.entries(json)) checksums[name] = toArrayBuffer(fromHex(hex));
  Object.defineProperty(checksums, "toJSON", { value: () => ({ ...json }), enumerable: false });
  return checksums as unknown as R2Checksums;
}

/** An R2 object's metadata, revived from its wire form (dates as Date, checksums as ArrayBuffers). */
export class RemoteR2Object {
  readonly key: string;
  readonly version: string;
  readonly size: number;
  readonly etag: string;
  readonly httpEtag: string;
  readonly checksums: R2Checksums;
  readonly uploaded: Date;
  readonly httpMetadata?: R2HTTPMetadata;
  readonly customMetadata?: Record<string, string>;
  readonly range?: R2Range;
  readonly storageClass: string;
  readonly ssecKeyMd5?: string;

  constructor(json: R2ObjectJson) {
    this.key = json.key;
    this.version = json.version;
    this.size = json.size;
    this.etag = json.etag;
    this.httpEtag = json.httpEtag;
    this.checksums = checksumsFromWire(json.checksums);
    this.uploaded = new Date(json.uploaded);
    if (json.httpMetadata) {
      const { cacheExpiry, ...rest } = json.httpMetadata;
      this.httpMetadata = { ...rest, ...(cacheExpiry ? { cacheExpiry: new Date(cacheExpiry) } : {}) };
    }
    if (json.customMetadata) this.customMetadata = json.customMetadata;
    if (json.range) this.range = json.range as R2Range;
    this.storageClass = json.storageClass;
    if (json.ssecKeyMd5) this.ssecKeyMd5 = json.ssecKeyMd5;
  }

  /** Sets the object's HTTP metadata as response headers, like R2's. */
  writeHttpMetadata(headers: Headers): void {
    const metadata = this.httpMetadata ?? {};
    if (metadata.contentType) headers.set("content-type", metadata.contentType);
    if (metadata.contentLanguage) headers.set("content-language", metadata.contentLanguage);
    if (metadata.contentDisposition) headers.set("content-disposition", metadata.contentDisposition);
    if (metadata.contentEncoding) headers.set("content-encoding", metadata.contentEncoding);
    if (metadata.cacheControl) headers.set("cache-control", metadata.cacheControl);
    if (metadata.cacheExpiry) headers.set("expires", metadata.cacheExpiry.toUTCString());
  }
}

/**
 * An R2 object with its body, streamed from the host as it is read (like R2's); the body can be
 * read once. The reading methods are a Response's over that stream.
 */
export class RemoteR2ObjectBody extends RemoteR2Object {
  readonly #response: Response;

  constructor(json: R2ObjectJson, body: ReadableStream<Uint8Array>) {
    super(json);
    this.#response = new Response(body as ConstructorParameters<typeof Response>[0]);
  }

  /** The body as a stream. */
  get body(): ReadableStream<Uint8Array> {
    return this.#response.body as ReadableStream<Uint8Array>;
  }

  /** Whether the body was read. */
  get bodyUsed(): boolean {
    return this.#response.bodyUsed;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#response.arrayBuffer();
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.#response.arrayBuffer());
  }

  text(): Promise<string> {
    return this.#response.text();
  }

  async json<T>(): Promise<T> {
    return (await this.#response.json()) as T;
  }

  async blob(): Promise<Blob> {
    const type = this.httpMetadata?.contentType;
    return new Blob([await this.#response.arrayBuffer()], type ? { type } : {});
  }
}

/**
 * A Workers `R2Bucket` over the command bus. Bodies stream both ways over the HTTP transport
 * (docs/protocol.md, "Streamed bodies"); elsewhere they travel inline, within the frame limit.
 * Like Workers, `put` of a ReadableStream needs its length: pass a Blob or bytes, or pipe the
 * stream through `new FixedLengthStream(size)` (exported by containerflare).
 */
export class R2Binding extends RemoteBinding implements R2Bucket {
  /** Metadata of `key`, or null. */
  async head(key: string): Promise<R2Object | null> {
    const json = await this.client.invoke("r2.head", { binding: this.bindingName, key });
    return json ? (new RemoteR2Object(json) as unknown as R2Object) : null;
  }

  /** `get(key, { range, onlyIf })`: the object with its body, without it when `onlyIf` fails, or null. */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of R2Bucket
  async get(key: string, options: { range?: R2Range | Headers; onlyIf?: R2Conditional | Headers } = {}): Promise<any> {
    const range =
      options.range === undefined ? undefined : isHeaders(options.range) ? headerPairs(options.range) : options.range;
    const { result, body } = await this.client.invokeStreamed("r2.get", {
      binding: this.bindingName,
      key,
      range,
      onlyIf: conditionalToWire(options.onlyIf),
    });
    const bytes = answerBytes(result?.body, body);
    if (!result) return null;
    if (!bytes) return new RemoteR2Object(result.object) as unknown as R2Object;
    return new RemoteR2ObjectBody(result.object, bytes) as unknown as R2ObjectBody;
  }

  /** `put(key, value, options)` → the stored object's metadata, or null when `onlyIf` fails. */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of R2Bucket
  async put(key: string, value: unknown, options: R2PutOptions = {}): Promise<any> {
    const { wire, body } = await bodyArgument(value);
    const { result: json } = await this.client.invokeStreamed(
      "r2.put",
      {
        binding: this.bindingName,
        key,
        value: wire,
        httpMetadata: httpMetadataToWire(options.httpMetadata),
        customMetadata: options.customMetadata,
        md5: digestToWire(options.md5),
        sha1: digestToWire(options.sha1),
        sha256: digestToWire(options.sha256),
        sha384: digestToWire(options.sha384),
        sha512: digestToWire(options.sha512),
        storageClass: options.storageClass,
        onlyIf: conditionalToWire(options.onlyIf),
      },
      body === undefined ? { streamed: false } : { body, streamed: false },
    );
    return json ? (new RemoteR2Object(json) as unknown as R2Object) : null;
  }

  /** Deletes one key or many. */
  async delete(keys: string | string[]): Promise<void> {
    await this.client.invoke("r2.delete", { binding: this.bindingName, keys });
  }

  /** `list(options)` → `{ objects, delimitedPrefixes, truncated, cursor? }`. */
  async list(options: R2ListOptions = {}): Promise<R2Objects> {
    const result = await this.client.invoke("r2.list", {
      binding: this.bindingName,
      ...options,
    });
    return {
      ...result,
      objects: result.objects.map((json) => new RemoteR2Object(json) as unknown as R2Object),
    } as R2Objects;
  }

  /** Not available over the command bus. */
  async createMultipartUpload(): Promise<R2MultipartUpload> {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `env.${this.bindingName}.createMultipartUpload() is not available over the command bus`,
    );
  }

  /** Not available over the command bus. */
  resumeMultipartUpload(): R2MultipartUpload {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `env.${this.bindingName}.resumeMultipartUpload() is not available over the command bus`,
    );
  }
}
