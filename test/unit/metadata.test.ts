import { describe, expect, it } from "vitest";
import { encodeMetadataHeader, metadataTrust } from "../../src/metadata-header.ts";
import {
  createMetadataVerifier,
  decodeMetadataHeader,
  type MetadataHeaderFields,
  signMetadataHeader,
} from "../../src/metadata-header-verifier.ts";

const SECRET = "test-secret";
const NOW = 1_780_000_000_000;
const sample: MetadataHeaderFields = {
  request_id: "req-1",
  colo: "FRA",
  country: "DE",
  city: "Zürich",
  client_ip: "203.0.113.7",
  host: "example.com",
  scheme: "https",
  worker_name: "edge",
  method: "GET",
  path: "/hello",
  raw_url: "https://example.com/hello?x=1",
};

describe("encodeMetadataHeader", () => {
  it("escapes non-ASCII characters so the value is a valid header", () => {
    const value = encodeMetadataHeader(sample);
    expect(value).toContain("Z\\u00fcrich");
    expect(/^[\x20-\x7e]*$/.test(value)).toBe(true);
    expect(decodeMetadataHeader(value)?.city).toBe("Zürich");
  });
});

describe("decodeMetadataHeader", () => {
  it("accepts the Rust crate's shape (nulls for unknown fields)", () => {
    const decoded = decodeMetadataHeader(
      JSON.stringify({ request_id: "r", colo: null, region: null, client_ip: "1.2.3.4" }),
    );
    expect(decoded).toMatchObject({ request_id: "r", client_ip: "1.2.3.4" });
  });

  it("rejects malformed JSON, wrong types and oversized values", () => {
    expect(decodeMetadataHeader("{not json")).toBeUndefined();
    expect(decodeMetadataHeader(JSON.stringify({ request_id: 42 }))).toBeUndefined();
    expect(decodeMetadataHeader(JSON.stringify([1, 2]))).toBeUndefined();
    expect(decodeMetadataHeader(JSON.stringify({ v: 2 }))).toBeUndefined();
    expect(decodeMetadataHeader(JSON.stringify({ city: "x".repeat(64 * 1024) }))).toBeUndefined();
  });

  it("drops __proto__ and unknown keys without polluting prototypes", () => {
    const decoded = decodeMetadataHeader(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"bad":1}},"request_id":"r"}',
    );
    expect(decoded).toEqual({ request_id: "r" });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((decoded as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("createMetadataVerifier", () => {
  const verifier = () => createMetadataVerifier({ secret: SECRET, now: () => NOW });

  it("trusts a valid, fresh signature", async () => {
    const signed = await signMetadataHeader(SECRET, sample, NOW - 1000);
    const result = await verifier().verify(signed.metadata, signed.signature);
    expect(result).toEqual({ ok: true, metadata: { ...sample, v: 1, ts: NOW - 1000 } });
  });

  it("refuses a tampered value", async () => {
    const signed = await signMetadataHeader(SECRET, sample, NOW);
    const tampered = signed.metadata.replace("203.0.113.7", "198.51.100.1");
    expect(await verifier().verify(tampered, signed.signature)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("refuses a signature made with another secret", async () => {
    const signed = await signMetadataHeader("other", sample, NOW);
    expect(await verifier().verify(signed.metadata, signed.signature)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("refuses an expired or future timestamp", async () => {
    const old = await signMetadataHeader(SECRET, sample, NOW - 301_000);
    expect(await verifier().verify(old.metadata, old.signature)).toEqual({ ok: false, reason: "expired" });
    const future = await signMetadataHeader(SECRET, sample, NOW + 301_000);
    expect(await verifier().verify(future.metadata, future.signature)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a replayed header", async () => {
    const signed = await signMetadataHeader(SECRET, sample, NOW);
    const once = verifier();
    expect((await once.verify(signed.metadata, signed.signature)).ok).toBe(true);
    expect(await once.verify(signed.metadata, signed.signature)).toEqual({ ok: false, reason: "replayed" });
  });

  it("refuses a replay whose signature header was rewritten into another valid form", async () => {
    const signed = await signMetadataHeader(SECRET, sample, NOW);
    const once = verifier();
    expect((await once.verify(signed.metadata, signed.signature)).ok).toBe(true);
    const [t, v1] = signed.signature.split(",");
    for (const variant of [
      `${v1},${t}`,
      `${t},${v1!.toUpperCase().replace("V1=", "v1=")}`,
      `${t},${v1},x=1`,
      ` ${t} , ${v1} `,
    ]) {
      expect(await once.verify(signed.metadata, variant)).toEqual({ ok: false, reason: "replayed" });
    }
  });

  it("keeps verifying quickly and correctly past thousands of remembered signatures", async () => {
    let clock = NOW;
    const busy = createMetadataVerifier({ secret: SECRET, now: () => clock });
    for (let index = 0; index < 3000; index++) {
      clock += 150;
      const signed = await signMetadataHeader(SECRET, { ...sample, request_id: `r${index}` }, clock);
      expect((await busy.verify(signed.metadata, signed.signature)).ok).toBe(true);
    }
  });

  it("refuses a signature whose timestamp disagrees with the payload", async () => {
    const signed = await signMetadataHeader(SECRET, sample, NOW);
    const moved = signed.signature.replace(`t=${NOW}`, `t=${NOW + 1}`);
    expect(await verifier().verify(signed.metadata, moved)).toEqual({ ok: false, reason: "bad-signature" });
  });

  it("refuses unsigned or badly signed headers when a secret is set", async () => {
    const value = encodeMetadataHeader(sample);
    expect(await verifier().verify(value, null)).toEqual({ ok: false, reason: "unsigned" });
    expect(await verifier().verify(value, "t=1,v1=zz")).toEqual({ ok: false, reason: "unsigned" });
    expect(await verifier().verify(value, "garbage")).toEqual({ ok: false, reason: "unsigned" });
  });

  it("trusts unsigned headers only when told to", async () => {
    const value = encodeMetadataHeader(sample);
    expect(await createMetadataVerifier({}).verify(value, null)).toEqual({ ok: false, reason: "unsigned" });
    expect(await createMetadataVerifier({ trustUnsigned: true }).verify(value, null)).toEqual({
      ok: true,
      metadata: sample,
    });
  });

  it("ignores malformed and 64 KiB headers", async () => {
    expect(await verifier().verify("{oops", null)).toEqual({ ok: false, reason: "malformed" });
    expect(await verifier().verify("x".repeat(64 * 1024), null)).toEqual({ ok: false, reason: "too-large" });
  });
});

describe("metadataTrust (the one trust rule)", () => {
  it("with a secret only signatures, without one unsigned only where told (Cloudflare, TRUST_METADATA), else never", () => {
    expect(metadataTrust({ secret: "s" })).toBe("signed");
    // A secret wins over trusting unsigned headers: a forged header is never trusted where one is set.
    expect(metadataTrust({ secret: "s", trustUnsigned: true })).toBe("signed");
    expect(metadataTrust({ trustUnsigned: true })).toBe("unsigned");
    expect(metadataTrust({})).toBe("none");
    expect(metadataTrust({ secret: "", trustUnsigned: false })).toBe("none");
  });

  it("is the verifier's rule too: with a secret and trustUnsigned an unsigned header is refused", async () => {
    const value = encodeMetadataHeader(sample);
    const both = createMetadataVerifier({ secret: SECRET, trustUnsigned: true, now: () => NOW });
    expect(await both.verify(value, null)).toEqual({ ok: false, reason: "unsigned" });
  });
});
