/**
 * The OIDC check of Pub/Sub push and Cloud Scheduler requests on Cloud Run: each carries
 * `Authorization: Bearer <ID token>` signed by Google for the audience set on the subscription
 * or job. Verified with jose (`jwtVerify` over `createRemoteJWKSet`), never by hand: RS256 only,
 * issuer `https://accounts.google.com` (or `accounts.google.com`), the configured audience, 30 s
 * of clock tolerance, and, when service accounts are listed, a verified `email` among them.
 *
 * The key set is jose's remote JWKS: one key set per verifier, fetched on the first token,
 * kept for 10 minutes, fetched again early for a key id it does not hold but at most every 30 s
 * (its cooldown), within 5 s. That is the only cache: bounded by the one key set it holds.
 * Loaded only when an audience is configured (the receiver imports this module on first use).
 *
 * @module
 */
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { errorMessage } from "../internal/error-message.ts";

/** The issuers of Google's ID tokens. */
export const GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"];

/** Clock skew allowed on `exp`, `nbf` and `iat`: 30 s. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Longest Authorization header read: 16 KiB (a Google ID token is about 1 KiB). */
export const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

const SIGNATURE_REMOVED =
  "Cloud Run removed the token's signature (SIGNATURE_REMOVED_BY_GOOGLE): the service is behind Cloud Run's IAM invoker check, which verified the token already; unset CONTAINERFLARE_OIDC_AUDIENCE there, or deploy with --no-invoker-iam-check to verify tokens in the container";

/** What a verifier checks. */
export interface OidcOptions {
  /** The `aud` every token must carry (the subscription's or job's `--*-token-audience`). */
  audience: string;
  /** When set, the token's verified `email` must be one of these (compared in lower case). */
  emails?: readonly string[] | undefined;
  /** The JSON Web Key Set the signatures are checked against. */
  jwksUrl: string;
}

/** A token accepted (with its service account), or refused with a one-line reason for the log. */
export type OidcVerdict = { ok: true; email: string | undefined } | { ok: false; reason: string };

/** Checks one request's Authorization header. */
export type OidcVerifier = (authorization: string | null) => Promise<OidcVerdict>;

/** A verifier with its own key set cache. */
export function createOidcVerifier(options: OidcOptions): OidcVerifier {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), {
    cacheMaxAge: 10 * 60_000,
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });
  const emails = options.emails?.length ? new Set(options.emails.map((email) => email.toLowerCase())) : undefined;

  return async (authorization) => {
    if (authorization === null) return { ok: false, reason: "no Authorization header" };
    if (authorization.length > MAX_AUTHORIZATION_LENGTH)
      return { ok: false, reason: "the Authorization header is too long" };
    const match = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+) *$/i.exec(authorization);
    if (!match) return { ok: false, reason: "the Authorization header is not Bearer <JWT>" };
    // Cloud Run's IAM invoker check verifies the token itself and passes it on without its
    // signature: nothing is left to verify here, and an unsigned token is never accepted.
    if (match[1]!.endsWith(".SIGNATURE_REMOVED_BY_GOOGLE")) return { ok: false, reason: SIGNATURE_REMOVED };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, {
        algorithms: ["RS256"],
        audience: options.audience,
        issuer: GOOGLE_ISSUERS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["exp", "iat"],
      }));
    } catch (error) {
      return { ok: false, reason: refusal(error) };
    }
    const email = typeof payload.email === "string" ? payload.email : undefined;
    if (emails) {
      if (email === undefined) return { ok: false, reason: "the token has no email claim" };
      if (payload.email_verified !== true) return { ok: false, reason: `the token's email ${email} is not verified` };
      if (!emails.has(email.toLowerCase())) return { ok: false, reason: `the token's email ${email} is not allowed` };
    }
    return { ok: true, email };
  };
}

/** One line for the log: jose's code and message (they name the claim, never the token). */
function refusal(error: unknown): string {
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's ${error.claim} claim is refused: ${error.message}`;
  if (error instanceof errors.JWTExpired) return `the token has expired: ${error.message}`;
  if (error instanceof errors.JOSEError) return `${error.code}: ${error.message}`;
  return `the key set could not be read: ${errorMessage(error)}`;
}
