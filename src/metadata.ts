/**
 * The `x-containerflare-metadata` header: what the Worker in front of the container knows about a
 * request, signed with a secret both share. Web Crypto only: this module also runs in workerd.
 */
import * as v from "valibot";
import {
  createSignatureWindow,
  importHmacKey,
  parseSignatureHeader,
  type SignatureWindowOptions,
  signatureHeader,
  verifyMac,
} from "./hmac.ts";

export { SIGNATURE_TOLERANCE_MS } from "./hmac.ts";

/** Name of the metadata header. */
export const METADATA_HEADER = "x-containerflare-metadata";
/** Name of the signature header: `t=<ts>,v1=<hex HMAC-SHA256(secret, t + "." + metadata)>`. */
export const SIGNATURE_HEADER = "x-containerflare-signature";
/** Largest metadata header accepted, in characters. */
export const MAX_METADATA_BYTES = 8192;

const optionalText = v.nullish(v.pipe(v.string(), v.maxLength(2048)));

/** Schema of the header's JSON (snake_case, compatible with the Rust crate's Worker shim). */
export const MetadataSchema = v.object({
  v: v.optional(v.literal(1)),
  ts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  request_id: optionalText,
  colo: optionalText,
  region: optionalText,
  country: optionalText,
  city: optionalText,
  client_ip: optionalText,
  host: optionalText,
  scheme: optionalText,
  worker_name: optionalText,
  method: optionalText,
  path: optionalText,
  raw_url: optionalText,
});

/** The decoded metadata header. */
export type ContainerflareMetadata = v.InferOutput<typeof MetadataSchema>;

/** Why a metadata header was not trusted. */
export type MetadataRejection =
  | "too-large"
  | "malformed"
  | "unsigned"
  | "bad-signature"
  | "expired"
  | "replayed"
  /** The replay cache holds its maximum within the signature's own second (see replay-cache.ts). */
  | "replay-cache-full";

/** Outcome of {@link MetadataVerifier.verify}. */
export type MetadataResult = { ok: true; metadata: ContainerflareMetadata } | { ok: false; reason: MetadataRejection };

/** Serializes metadata as the header value: JSON with every non-ASCII character escaped. */
export function encodeMetadata(metadata: ContainerflareMetadata): string {
  return JSON.stringify(metadata).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Parses a header value; undefined when it is too large, not JSON or not of the schema. */
export function decodeMetadata(value: string): ContainerflareMetadata | undefined {
  if (value.length > MAX_METADATA_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (Array.isArray(json)) return undefined;
  // v.object copies only the declared keys into a fresh object, so `__proto__` and friends vanish.
  const result = v.safeParse(MetadataSchema, json);
  return result.success ? result.output : undefined;
}

/**
 * Signs metadata with the shared secret. Returns both header values; `ts` in the metadata is set
 * to the signing time so the signed timestamp and the payload agree.
 */
export async function signMetadata(
  secret: string,
  metadata: ContainerflareMetadata,
  now: number = Date.now(),
): Promise<{ metadata: string; signature: string }> {
  const value = encodeMetadata({ ...metadata, v: 1, ts: now });
  return { metadata: value, signature: await signatureHeader(secret, now, `${now}.${value}`) };
}

/** Options of {@link createMetadataVerifier}. */
export interface MetadataVerifierOptions extends SignatureWindowOptions {
  /** Shared secret; with it only a valid, fresh, unseen signature is trusted. */
  secret?: string;
  /** Trust an unsigned header (on Cloudflare without a secret, or `CONTAINERFLARE_TRUST_METADATA=1`). */
  trustUnsigned?: boolean;
}

/** Checks metadata headers against the trust rules; holds the imported key and the replay window. */
export interface MetadataVerifier {
  /** Decides whether a metadata header value (and its signature header) can be trusted. */
  verify(value: string, signature: string | null): Promise<MetadataResult>;
}

/**
 * Creates a verifier. A signature is accepted once: the verifier remembers the signatures it saw
 * within the tolerance window in a bounded replay cache (src/replay-cache.ts), so a captured header
 * replayed to the same container is refused.
 */
export function createMetadataVerifier(options: MetadataVerifierOptions): MetadataVerifier {
  const key = options.secret ? importHmacKey(options.secret, "verify") : undefined;
  const window = createSignatureWindow(options);

  return {
    async verify(value, signature) {
      if (value.length > MAX_METADATA_BYTES) return { ok: false, reason: "too-large" };
      const metadata = decodeMetadata(value);
      if (!metadata) return { ok: false, reason: "malformed" };
      if (!key) return options.trustUnsigned ? { ok: true, metadata } : { ok: false, reason: "unsigned" };
      const parsed = signature ? parseSignatureHeader(signature) : undefined;
      if (!parsed) return { ok: false, reason: "unsigned" };
      const valid = await verifyMac(key, parsed.mac, `${parsed.timestamp}.${value}`);
      if (!valid || (metadata.ts !== undefined && metadata.ts !== parsed.timestamp))
        return { ok: false, reason: "bad-signature" };
      const refused = window.accept(parsed);
      return refused ? { ok: false, reason: refused } : { ok: true, metadata };
    },
  };
}
