/**
 * The `x-containerflare-metadata` header: what the Worker in front of the container knows about a
 * request, signed with a secret both share. Web Crypto only: this module also runs in workerd.
 */
import * as v from "valibot";
import { fromHex, toHex } from "./command/bytes.ts";
import { createReplayCache, type ReplayCacheOptions } from "./replay-cache.ts";

/** Name of the metadata header. */
export const METADATA_HEADER = "x-containerflare-metadata";
/** Name of the signature header: `t=<ts>,v1=<hex HMAC-SHA256(secret, t + "." + metadata)>`. */
export const SIGNATURE_HEADER = "x-containerflare-signature";
/** Largest metadata header accepted, in characters. */
export const MAX_METADATA_BYTES = 8192;
/** How far a signature timestamp may be from now, in milliseconds. */
export const SIGNATURE_TOLERANCE_MS = 300_000;

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
export type MetadataResult =
  | { ok: true; metadata: ContainerflareMetadata }
  | { ok: false; reason: MetadataRejection };

/** Serializes metadata as the header value: JSON with every non-ASCII character escaped. */
export function encodeMetadata(metadata: ContainerflareMetadata): string {
  return JSON.stringify(metadata).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
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

const encoder = new TextEncoder();

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

function importKey(secret: string, usage: "sign" | "verify"): Promise<HmacKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** The 32 bytes of an HMAC-SHA256 in hex; undefined for anything else. */
function signatureBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  return hex.length === 64 && /^[\da-f]+$/i.test(hex) ? (fromHex(hex) as Uint8Array<ArrayBuffer>) : undefined;
}

/** Parses `t=<ts>,v1=<hex>`. */
function parseSignature(value: string): { timestamp: number; signature: Uint8Array<ArrayBuffer> } | undefined {
  let timestamp: number | undefined;
  let signature: Uint8Array<ArrayBuffer> | undefined;
  for (const part of value.split(",")) {
    const [key, item = ""] = part.trim().split("=", 2);
    if (key === "t" && /^\d{1,16}$/.test(item)) timestamp = Number(item);
    else if (key === "v1") signature = signatureBytes(item);
  }
  return timestamp !== undefined && signature ? { timestamp, signature } : undefined;
}

// A Worker signs every request with the same secret or two: import each key once.
const signingKeys = new Map<string, Promise<HmacKey>>();

function signingKey(secret: string): Promise<HmacKey> {
  let key = signingKeys.get(secret);
  if (!key) {
    if (signingKeys.size >= 8) signingKeys.clear();
    key = importKey(secret, "sign");
    signingKeys.set(secret, key);
  }
  return key;
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
  const key = await signingKey(secret);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${now}.${value}`));
  return { metadata: value, signature: `t=${now},v1=${toHex(new Uint8Array(mac))}` };
}

/** Options of {@link createMetadataVerifier}. */
export interface MetadataVerifierOptions {
  /** Shared secret; with it only a valid, fresh, unseen signature is trusted. */
  secret?: string;
  /** Trust an unsigned header (on Cloudflare without a secret, or `CONTAINERFLARE_TRUST_METADATA=1`). */
  trustUnsigned?: boolean;
  /** Clock, for tests. */
  now?: () => number;
  /** Bound of the replay cache (default 250 000 signatures); see src/replay-cache.ts for the policy when full. */
  maxReplayEntries?: number;
  /** Called when a full replay cache narrows its window (serve() logs it, at most once a minute). */
  onReplayWindowNarrowed?: ReplayCacheOptions["onNarrowed"];
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
  const now = options.now ?? Date.now;
  const key = options.secret ? importKey(options.secret, "verify") : undefined;
  const replays = createReplayCache({
    windowMs: SIGNATURE_TOLERANCE_MS,
    now,
    ...(options.maxReplayEntries === undefined ? {} : { maxEntries: options.maxReplayEntries }),
    ...(options.onReplayWindowNarrowed ? { onNarrowed: options.onReplayWindowNarrowed } : {}),
  });

  return {
    async verify(value, signatureHeader) {
      if (value.length > MAX_METADATA_BYTES) return { ok: false, reason: "too-large" };
      const metadata = decodeMetadata(value);
      if (!metadata) return { ok: false, reason: "malformed" };
      if (!key) return options.trustUnsigned ? { ok: true, metadata } : { ok: false, reason: "unsigned" };
      const parsed = signatureHeader ? parseSignature(signatureHeader) : undefined;
      if (!parsed) return { ok: false, reason: "unsigned" };
      const valid = await crypto.subtle.verify("HMAC", await key, parsed.signature, encoder.encode(`${parsed.timestamp}.${value}`));
      if (!valid || (metadata.ts !== undefined && metadata.ts !== parsed.timestamp)) return { ok: false, reason: "bad-signature" };
      const verdict = replays.check(parsed.signature, parsed.timestamp);
      if (verdict === "fresh") return { ok: true, metadata };
      return { ok: false, reason: verdict === "full" ? "replay-cache-full" : verdict };
    },
  };
}
