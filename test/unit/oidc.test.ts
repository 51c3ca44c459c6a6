import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOidcVerifier, type OidcVerifier } from "../../src/events/oidc.ts";
import { startTokenIssuer, type TokenIssuer } from "../fixtures/oidc.ts";

const AUDIENCE = "https://svc-abc-uc.a.run.app/_events/pubsub";
const PUSHER = "pubsub-push@demo.iam.gserviceaccount.com";

describe("OIDC ID tokens of Pub/Sub and Cloud Scheduler", () => {
  let issuer: TokenIssuer;
  let verify: OidcVerifier;
  let verifyEmails: OidcVerifier;
  const claims = { aud: AUDIENCE, email: PUSHER, email_verified: true, sub: "1234" };
  const bearer = (token: string) => `Bearer ${token}`;

  beforeAll(async () => {
    issuer = await startTokenIssuer();
    verify = createOidcVerifier({ audience: AUDIENCE, jwksUrl: issuer.jwksUrl });
    verifyEmails = createOidcVerifier({ audience: AUDIENCE, emails: [PUSHER.toUpperCase()], jwksUrl: issuer.jwksUrl });
  });
  afterAll(() => issuer.close());

  it("accepts a token signed by the key set, for the audience, from Google's issuer", async () => {
    expect(await verify(bearer(await issuer.sign(claims)))).toEqual({ ok: true, email: PUSHER });
    expect(await verify(bearer(await issuer.sign(claims, { issuer: "accounts.google.com" })))).toMatchObject({
      ok: true,
    });
    expect(await verifyEmails(bearer(await issuer.sign(claims)))).toEqual({ ok: true, email: PUSHER });
  });

  it("refuses a wrong audience, a wrong issuer and an expired token", async () => {
    const wrongAud = await verify(bearer(await issuer.sign({ ...claims, aud: "https://other.a.run.app" })));
    expect(wrongAud).toMatchObject({ ok: false, reason: expect.stringMatching(/aud/) });
    const wrongIss = await verify(bearer(await issuer.sign(claims, { issuer: "https://evil.example" })));
    expect(wrongIss).toMatchObject({ ok: false, reason: expect.stringMatching(/iss/) });
    const expired = await verify(bearer(await issuer.sign(claims, { expiresIn: Math.floor(Date.now() / 1000) - 120 })));
    expect(expired).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
  });

  it("allows 30 s of clock skew, no more", async () => {
    const now = Math.floor(Date.now() / 1000);
    // Either side of the 30 s bound, with a second's margin for the test's own run.
    expect(await verify(bearer(await issuer.sign(claims, { expiresIn: now - 28 })))).toMatchObject({ ok: true });
    expect(await verify(bearer(await issuer.sign(claims, { expiresIn: now - 32 })))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/expired/),
    });
  });

  it("refuses a token signed by another key, under the served key id or another", async () => {
    const forged = await verify(bearer(await issuer.sign(claims, { key: "other" })));
    expect(forged).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    const unknownKid = await verify(bearer(await issuer.sign(claims, { key: "other", kid: "not-served" })));
    expect(unknownKid).toMatchObject({ ok: false, reason: expect.stringMatching(/ERR_JWKS_NO_MATCHING_KEY/) });
  });

  it("refuses a wrong, unverified or missing email when service accounts are listed", async () => {
    const stranger = await verifyEmails(
      bearer(await issuer.sign({ ...claims, email: "x@demo.iam.gserviceaccount.com" })),
    );
    expect(stranger).toMatchObject({ ok: false, reason: expect.stringMatching(/not allowed/) });
    const unverified = await verifyEmails(bearer(await issuer.sign({ ...claims, email_verified: false })));
    expect(unverified).toMatchObject({ ok: false, reason: expect.stringMatching(/not verified/) });
    const { email: _email, ...withoutEmail } = claims;
    expect(await verifyEmails(bearer(await issuer.sign(withoutEmail)))).toMatchObject({
      ok: false,
      reason: "the token has no email claim",
    });
  });

  it("refuses what is not a Bearer JWT, and other algorithms", async () => {
    expect(await verify(null)).toEqual({ ok: false, reason: "no Authorization header" });
    expect(await verify("Basic dXNlcjpwYXNz")).toMatchObject({ ok: false });
    expect(await verify(`Bearer ${"a".repeat(20_000)}.b.c`)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/too long/),
    });
    // alg "none" with the claims of a good token.
    const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${segment({ alg: "none", typ: "JWT" })}.${segment({ ...claims, iss: "https://accounts.google.com", exp: 9e9 })}.x`;
    expect(await verify(bearer(unsigned))).toMatchObject({ ok: false, reason: expect.stringMatching(/alg/i) });
  });

  it("names Cloud Run's removed signature (a service behind its IAM invoker check)", async () => {
    const [header, payload] = (await issuer.sign(claims)).split(".");
    const verdict = await verify(bearer(`${header}.${payload}.SIGNATURE_REMOVED_BY_GOOGLE`));
    expect(verdict).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^Cloud Run removed the token's signature/),
    });
  });

  it("fetches the key set once for many tokens (jose's cache)", async () => {
    // A verifier of its own: its first token fetches the key set, the next four reuse it.
    const fresh = createOidcVerifier({ audience: AUDIENCE, jwksUrl: issuer.jwksUrl });
    const before = issuer.fetches();
    for (let index = 0; index < 5; index++)
      expect(await fresh(bearer(await issuer.sign(claims)))).toMatchObject({ ok: true });
    expect(issuer.fetches() - before).toBe(1);
  });
});
