/**
 * Signed HTTP requests: how a container (or the `containerflare dev` CLI) proves to a command host
 * that a request comes from a holder of the shared secret, and that its method, path and body are
 * the ones signed. docs/protocol.md, "Signed HTTP requests", is the specification:
 *
 * `x-containerflare-signature: t=<ms>,v1=<hex HMAC-SHA256(secret, `${t}.${METHOD}.${path}.${hex sha256(body)}`)>`
 *
 * accepted within 300 s of the verifier's clock and only once (a bounded replay cache, see
 * src/replay-cache.ts). Web Crypto only, no `node:` imports: it is bundled into the Worker.
 *
 * @module
 */
import { fromHex, toHex } from "./command/bytes.ts";
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_MS } from "./metadata.ts";
import { createReplayCache, type ReplayCacheOptions } from "./replay-cache.ts";

/** The header that carries a request signature (the same name the metadata signature uses). */
export const REQUEST_SIGNATURE_HEADER = SIGNATURE_HEADER;

/** What a request signature covers. */
export interface SignedRequestParts {
  /** HTTP method; compared upper-case. */
  method: string;
  /** The request target as sent: path plus query (`/v1/commands`). */
  path: string;
  /** The exact body bytes sent. */
  body: Uint8Array;
}

/** Why a request signature was refused. */
export type RequestRejection =
  /** No signature header. */
  | "unsigned"
  /** A header that is not `t=<ms>,v1=<64 hex digits>`. */
  | "malformed"
  /** The MAC does not match the secret, method, path and body. */
  | "bad-signature"
  /** Signed more than 300 s away from the verifier's clock (or before a full replay cache's window). */
  | "expired"
  /** This signature was accepted before. */
  | "replayed"
  /** The replay cache holds its maximum within the signature's own second (see src/replay-cache.ts). */
  | "replay-cache-full";

/** Outcome of {@link RequestVerifier.verify}. */
export type RequestVerification = { ok: true } | { ok: false; reason: RequestRejection };

/** Checks request signatures against one secret; holds its imported key and replay window. */
export interface RequestVerifier {
  /** Decides whether a request carries a valid, fresh, unseen signature of its method, path and body. */
  verify(request: SignedRequestParts & { header: string | null | undefined }): Promise<RequestVerification>;
}

/** Options of {@link createRequestVerifier}. */
export interface RequestVerifierOptions {
  /** The shared secret (`CONTAINERFLARE_SECRET`). */
  secret: string;
  /** Clock, for tests. */
  now?: () => number;
  /** Bound of the replay cache (default 250 000 signatures; see src/replay-cache.ts for the policy when full). */
  maxReplayEntries?: number;
  /** Called when a full replay cache narrows its window. */
  onReplayWindowNarrowed?: ReplayCacheOptions["onNarrowed"];
}

/** Longest signature header parsed: `t=` + 16 digits + `,v1=` + 64 hex digits, with room for spaces. */
const MAX_HEADER_LENGTH = 128;
/** Most secrets whose signing key {@link signCommandRequest} keeps imported (a process uses one). */
const MAX_SIGNING_KEYS = 4;

const encoder = new TextEncoder();

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

function importKey(secret: string, usage: "sign" | "verify"): Promise<HmacKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

/** The string the MAC covers: `${t}.${METHOD}.${path}.${hex sha256(body)}`. */
async function signedText(timestamp: number, parts: SignedRequestParts): Promise<Uint8Array<ArrayBuffer>> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", parts.body as Uint8Array<ArrayBuffer>));
  return encoder.encode(`${timestamp}.${parts.method.toUpperCase()}.${parts.path}.${toHex(digest)}`);
}

/** Parses `t=<ms>,v1=<hex>`; undefined for anything else. */
function parseRequestSignature(header: string): { timestamp: number; mac: Uint8Array<ArrayBuffer> } | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  let timestamp: number | undefined;
  let mac: Uint8Array<ArrayBuffer> | undefined;
  for (const part of header.split(",")) {
    const [key, value = ""] = part.trim().split("=", 2);
    if (key === "t" && /^\d{1,16}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && /^[\da-f]{64}$/i.test(value)) mac = fromHex(value) as Uint8Array<ArrayBuffer>;
  }
  return timestamp !== undefined && mac ? { timestamp, mac } : undefined;
}

// Every request of a process is signed with the same secret: import its key once. Bounded, for a
// caller that cycles through secrets (the map is cleared when full, keys are cheap to re-import).
const signingKeys = new Map<string, Promise<HmacKey>>();

function signingKey(secret: string): Promise<HmacKey> {
  let key = signingKeys.get(secret);
  if (!key) {
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    key = importKey(secret, "sign");
    signingKeys.set(secret, key);
  }
  return key;
}

/**
 * Signs a request with the shared secret; returns the value of the
 * {@link REQUEST_SIGNATURE_HEADER} header. Sign each attempt anew: a verifier accepts a signature
 * once, so a retry that carries the first attempt's header is refused as `replayed`.
 */
export async function signCommandRequest(secret: string, request: SignedRequestParts & { now?: number }): Promise<string> {
  const timestamp = request.now ?? Date.now();
  const mac = await crypto.subtle.sign("HMAC", await signingKey(secret), await signedText(timestamp, request));
  return `t=${timestamp},v1=${toHex(new Uint8Array(mac))}`;
}

/**
 * Creates a verifier for one secret: the key is imported once, and every accepted signature is
 * remembered for the 300 s window (bounded, src/replay-cache.ts), so a captured request sent again
 * is refused. The window is checked before the MAC and the replay cache only after it, so
 * requests without the secret cost one hash and never fill the cache.
 */
export function createRequestVerifier(options: RequestVerifierOptions): RequestVerifier {
  if (!options.secret) throw new TypeError("createRequestVerifier needs a non-empty secret");
  const now = options.now ?? Date.now;
  const key = importKey(options.secret, "verify");
  const replays = createReplayCache({
    windowMs: SIGNATURE_TOLERANCE_MS,
    now,
    ...(options.maxReplayEntries === undefined ? {} : { maxEntries: options.maxReplayEntries }),
    ...(options.onReplayWindowNarrowed ? { onNarrowed: options.onReplayWindowNarrowed } : {}),
  });
  return {
    async verify({ header, ...parts }) {
      if (header === null || header === undefined || header === "") return { ok: false, reason: "unsigned" };
      const parsed = parseRequestSignature(header);
      if (!parsed) return { ok: false, reason: "malformed" };
      if (Math.abs(now() - parsed.timestamp) > SIGNATURE_TOLERANCE_MS) return { ok: false, reason: "expired" };
      const valid = await crypto.subtle.verify("HMAC", await key, parsed.mac, await signedText(parsed.timestamp, parts));
      if (!valid) return { ok: false, reason: "bad-signature" };
      const verdict = replays.check(parsed.mac, parsed.timestamp);
      if (verdict === "fresh") return { ok: true };
      return { ok: false, reason: verdict === "full" ? "replay-cache-full" : verdict };
    },
  };
}
