/**
 * The signature mechanics shared by the metadata header (metadata.ts) and signed command requests
 * (request-signature.ts): HMAC-SHA256 keys, the `t=<ms>,v1=<hex>` header form, the 300 s window
 * and the once-only rule through a bounded replay cache. Web Crypto only: it also runs in workerd.
 *
 * @module
 */
import { fromHex, toHex } from "./protocol/bytes.ts";
import { createReplayCache, type ReplayCacheOptions } from "./replay-cache.ts";

/** How far a signature timestamp may be from now, in milliseconds. */
export const SIGNATURE_TOLERANCE_MS = 300_000;

/** Longest signature header parsed: `t=` + 16 digits + `,v1=` + 64 hex digits, with room for spaces. */
const MAX_SIGNATURE_HEADER_LENGTH = 128;
/** Most secrets whose signing key is kept imported (a process signs with one or two). */
const MAX_SIGNING_KEYS = 8;

const encoder = new TextEncoder();

/** An imported HMAC-SHA256 key. */
export type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** Imports `secret` as an HMAC-SHA256 key for one use. */
export function importHmacKey(secret: string, usage: "sign" | "verify"): Promise<HmacKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

// Every signature of a process is made with the same secret: import its key once. Bounded, for a
// caller that cycles through secrets (cleared when full: keys are cheap to import again).
const signingKeys = new Map<string, Promise<HmacKey>>();

/**
 * The signature header value `t=<timestamp>,v1=<hex HMAC-SHA256(secret, text)>`, where `text`
 * is what the caller signs (it starts with the timestamp in both uses).
 */
export async function signatureHeader(secret: string, timestamp: number, text: string): Promise<string> {
  let key = signingKeys.get(secret);
  if (!key) {
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    key = importHmacKey(secret, "sign");
    signingKeys.set(secret, key);
  }
  const mac = await crypto.subtle.sign("HMAC", await key, encoder.encode(text));
  return `t=${timestamp},v1=${toHex(new Uint8Array(mac))}`;
}

/** A parsed signature header. */
export interface ParsedSignature {
  timestamp: number;
  /** The 32 bytes of the MAC. */
  mac: Uint8Array<ArrayBuffer>;
}

/** Parses `t=<ms>,v1=<64 hex digits>`; undefined for anything else (including oversized values). */
export function parseSignatureHeader(value: string): ParsedSignature | undefined {
  if (value.length > MAX_SIGNATURE_HEADER_LENGTH) return undefined;
  let timestamp: number | undefined;
  let mac: Uint8Array<ArrayBuffer> | undefined;
  for (const part of value.split(",")) {
    const [key, item = ""] = part.trim().split("=", 2);
    if (key === "t" && /^\d{1,16}$/.test(item)) timestamp = Number(item);
    else if (key === "v1") mac = /^[\da-f]{64}$/i.test(item) ? (fromHex(item) as Uint8Array<ArrayBuffer>) : undefined;
  }
  return timestamp !== undefined && mac ? { timestamp, mac } : undefined;
}

/** Whether `mac` is the HMAC of `text` under `key`. */
export async function verifyMac(key: Promise<HmacKey>, mac: Uint8Array<ArrayBuffer>, text: string): Promise<boolean> {
  return crypto.subtle.verify("HMAC", await key, mac, encoder.encode(text));
}

/** Options shared by the verifiers: the clock and the replay cache's bound. */
export interface SignatureWindowOptions {
  /** Clock, for tests. */
  now?: () => number;
  /** Bound of the replay cache (default 250 000 signatures); see src/replay-cache.ts for the policy when full. */
  maxReplayEntries?: number;
  /** Called when a full replay cache narrows its window (serve() logs it, at most once a minute). */
  onReplayWindowNarrowed?: ReplayCacheOptions["onNarrowed"];
}

/** Why a valid MAC is still refused. */
export type WindowRejection = "expired" | "replayed" | "replay-cache-full";

/** Accepts each verified signature once within the window: `accept(mac, timestamp)`. */
export interface SignatureWindow {
  /** Whether `timestamp` lies within the window at all (check before spending a MAC on it). */
  fresh(timestamp: number): boolean;
  /** Records a verified signature; undefined when accepted, else why it is refused. */
  accept(signature: ParsedSignature): WindowRejection | undefined;
}

/** Creates the 300 s, once-only window of one verifier. */
export function createSignatureWindow(options: SignatureWindowOptions = {}): SignatureWindow {
  const now = options.now ?? Date.now;
  const replays = createReplayCache({
    windowMs: SIGNATURE_TOLERANCE_MS,
    now,
    ...(options.maxReplayEntries === undefined ? {} : { maxEntries: options.maxReplayEntries }),
    ...(options.onReplayWindowNarrowed ? { onNarrowed: options.onReplayWindowNarrowed } : {}),
  });
  return {
    fresh: (timestamp) => Math.abs(now() - timestamp) <= SIGNATURE_TOLERANCE_MS,
    accept({ mac, timestamp }) {
      const verdict = replays.check(mac, timestamp);
      if (verdict === "fresh") return undefined;
      return verdict === "full" ? "replay-cache-full" : verdict;
    },
  };
}
