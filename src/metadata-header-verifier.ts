/**
 * Decoding, signing and verifying the `x-containerflare-metadata` header (its contract is in
 * metadata-header.ts). Web Crypto only: this module also runs in workerd, where the Worker signs
 * the header. serve() loads it on demand: a container that never trusts the header never loads
 * the schema library or the replay cache.
 *
 * @module
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
import {
  encodeMetadataHeader,
  MAX_METADATA_BYTES,
  MAX_METADATA_FIELD_LENGTH,
  type MetadataTrustInput,
  metadataTrust,
} from "./metadata-header.ts";

export { SIGNATURE_TOLERANCE_MS } from "./hmac.ts";

const optionalText = v.nullish(v.pipe(v.string(), v.maxLength(MAX_METADATA_FIELD_LENGTH)));

/** Schema of the header's JSON (snake_case, compatible with the Rust crate's Worker shim). */
export const MetadataHeaderSchema = v.object({
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

/** The fields of a decoded metadata header. */
export type MetadataHeaderFields = v.InferOutput<typeof MetadataHeaderSchema>;

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
export type MetadataResult = { ok: true; metadata: MetadataHeaderFields } | { ok: false; reason: MetadataRejection };

/** Parses a header value; undefined when it is too large, not JSON or not of the schema. */
export function decodeMetadataHeader(value: string): MetadataHeaderFields | undefined {
  if (value.length > MAX_METADATA_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (Array.isArray(json)) return undefined;
  // v.object copies only the declared keys into a fresh object, so `__proto__` and friends vanish.
  const result = v.safeParse(MetadataHeaderSchema, json);
  return result.success ? result.output : undefined;
}

/**
 * Signs the fields with the shared secret. Returns both header values; `ts` in the fields is set
 * to the signing time so the signed timestamp and the payload agree.
 */
export async function signMetadataHeader(
  secret: string,
  fields: MetadataHeaderFields,
  now: number = Date.now(),
): Promise<{ metadata: string; signature: string }> {
  const value = encodeMetadataHeader({ ...fields, v: 1, ts: now });
  return { metadata: value, signature: await signatureHeader(secret, now, `${now}.${value}`) };
}

/** Options of {@link createMetadataVerifier}: the trust rule's input and the signature window. */
export interface MetadataVerifierOptions extends SignatureWindowOptions, MetadataTrustInput {}

/** Checks metadata headers against the trust rule; holds the imported key and the replay window. */
export interface MetadataVerifier {
  /** Decides whether a metadata header value (and its signature header) can be trusted. */
  verify(value: string, signature: string | null): Promise<MetadataResult>;
}

/**
 * Creates a verifier for the trust decided by {@link metadataTrust}. A signature is accepted
 * once: the verifier remembers the signatures it saw within the tolerance window in a bounded
 * replay cache (src/replay-cache.ts), so a captured header replayed to the same container is refused.
 */
export function createMetadataVerifier(options: MetadataVerifierOptions): MetadataVerifier {
  const trust = metadataTrust(options);
  const key = trust === "signed" ? importHmacKey(options.secret as string, "verify") : undefined;
  const window = createSignatureWindow(options);

  return {
    async verify(value, signature) {
      if (value.length > MAX_METADATA_BYTES) return { ok: false, reason: "too-large" };
      const metadata = decodeMetadataHeader(value);
      if (!metadata) return { ok: false, reason: "malformed" };
      if (!key) return trust === "unsigned" ? { ok: true, metadata } : { ok: false, reason: "unsigned" };
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
