/**
 * The `x-containerflare-metadata` header, the wire contract between the Worker in front of a
 * container and the container: its names, its limits, its fields, its encoding and the one rule
 * that says when it is trusted. This module is light on purpose (no schema library, no crypto):
 * serve() imports it at start-up, while decoding, signing and verifying live in
 * metadata-header-verifier.ts, loaded only where a header can be trusted at all.
 *
 * @module
 */
import type { MetadataHeaderFields } from "./metadata-header-verifier.ts";

export type { MetadataHeaderFields } from "./metadata-header-verifier.ts";

/** Name of the metadata header. */
export const METADATA_HEADER = "x-containerflare-metadata";
/** Name of the signature header: `t=<ts>,v1=<hex HMAC-SHA256(secret, t + "." + metadata)>`. */
export const SIGNATURE_HEADER = "x-containerflare-signature";

/** Whether `name` is one of the two metadata header names, whatever its case (no allocation for most names). */
export function isMetadataHeaderName(name: string): boolean {
  if (name.length !== METADATA_HEADER.length && name.length !== SIGNATURE_HEADER.length) return false;
  const lower = name.toLowerCase();
  return lower === METADATA_HEADER || lower === SIGNATURE_HEADER;
}
/** Largest metadata header accepted, in characters. */
export const MAX_METADATA_BYTES = 8192;
/** Longest value of one field accepted, in characters (the schema's limit; the Worker drops longer ones). */
export const MAX_METADATA_FIELD_LENGTH = 2048;

/**
 * How far a container trusts the header: `signed` (only a valid, fresh, unseen signature),
 * `unsigned` (any well-formed header) or `none` (never; the header is still removed).
 */
export type MetadataTrust = "signed" | "unsigned" | "none";

/** What the trust rule looks at. */
export interface MetadataTrustInput {
  /** `CONTAINERFLARE_SECRET`: with it only a valid signature is trusted. */
  secret?: string | undefined;
  /**
   * Whether an unsigned header may be trusted when there is no secret: `CONTAINERFLARE_TRUST_METADATA=1`
   * (local testing), or a container on Cloudflare, which only its Worker can reach.
   */
  trustUnsigned?: boolean | undefined;
}

/**
 * The trust rule, decided once per process: with a secret only a valid fresh signature is
 * trusted; without one the header is trusted only when `trustUnsigned` (on Cloudflare, or
 * `CONTAINERFLARE_TRUST_METADATA=1`); otherwise never.
 */
export function metadataTrust({ secret, trustUnsigned }: MetadataTrustInput): MetadataTrust {
  if (secret) return "signed";
  return trustUnsigned ? "unsigned" : "none";
}

/** Serializes the fields as the header value: JSON with every non-ASCII character escaped. */
export function encodeMetadataHeader(fields: MetadataHeaderFields): string {
  return JSON.stringify(fields).replace(
    /[\u007f-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
