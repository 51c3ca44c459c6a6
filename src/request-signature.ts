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

import {
  createSignatureWindow,
  importHmacKey,
  parseSignatureHeader,
  type SignatureWindowOptions,
  signatureHeader,
  verifyMac,
} from "./hmac.ts";
import { SIGNATURE_HEADER } from "./metadata-header.ts";
import { toHex } from "./protocol/bytes.ts";

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

/** Options of {@link createRequestVerifier}: the secret, and the window's clock and replay bound. */
export interface RequestVerifierOptions extends SignatureWindowOptions {
  /** The shared secret (`CONTAINERFLARE_SECRET`). */
  secret: string;
}

/** The string the MAC covers: `${t}.${METHOD}.${path}.${hex sha256(body)}`. */
async function signedText(timestamp: number, parts: SignedRequestParts): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", parts.body as Uint8Array<ArrayBuffer>));
  return `${timestamp}.${parts.method.toUpperCase()}.${parts.path}.${toHex(digest)}`;
}

/**
 * Signs a request with the shared secret; returns the value of the
 * {@link REQUEST_SIGNATURE_HEADER} header. Sign each attempt anew: a verifier accepts a signature
 * once, so a retry that carries the first attempt's header is refused as `replayed`.
 */
export async function signCommandRequest(
  secret: string,
  request: SignedRequestParts & { now?: number },
): Promise<string> {
  const timestamp = request.now ?? Date.now();
  return signatureHeader(secret, timestamp, await signedText(timestamp, request));
}

/**
 * Creates a verifier for one secret: the key is imported once, and every accepted signature is
 * remembered for the 300 s window (bounded, src/replay-cache.ts), so a captured request sent again
 * is refused. The window is checked before the MAC and the replay cache only after it, so
 * requests without the secret cost one hash and never fill the cache.
 */
export function createRequestVerifier(options: RequestVerifierOptions): RequestVerifier {
  if (!options.secret) throw new TypeError("createRequestVerifier needs a non-empty secret");
  const key = importHmacKey(options.secret, "verify");
  const window = createSignatureWindow(options);
  return {
    async verify({ header, ...parts }) {
      if (header === null || header === undefined || header === "") return { ok: false, reason: "unsigned" };
      const parsed = parseSignatureHeader(header);
      if (!parsed) return { ok: false, reason: "malformed" };
      if (!window.fresh(parsed.timestamp)) return { ok: false, reason: "expired" };
      if (!(await verifyMac(key, parsed.mac, await signedText(parsed.timestamp, parts))))
        return { ok: false, reason: "bad-signature" };
      const refused = window.accept(parsed);
      return refused ? { ok: false, reason: refused } : { ok: true };
    },
  };
}
