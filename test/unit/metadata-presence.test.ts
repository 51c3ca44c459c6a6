import type { ServerRequest } from "srvx";
import { describe, expect, it } from "vitest";
import { createDenoPresence, rawHeadersNameMetadata } from "../../src/serve/metadata-presence.ts";

describe("rawHeadersNameMetadata (Node's raw header list)", () => {
  it("finds either header by name, whatever its case, and never by value", () => {
    expect(rawHeadersNameMetadata(["Host", "a", "X-Containerflare-Metadata", "{}"])).toBe(true);
    expect(rawHeadersNameMetadata(["host", "a", "x-containerflare-signature", "s"])).toBe(true);
    expect(rawHeadersNameMetadata(["x-other", "x-containerflare-metadata"])).toBe(false);
    expect(rawHeadersNameMetadata(["x-containerflare-metadatas", "1", "x-containerflare-signatur", "1"])).toBe(false);
    expect(rawHeadersNameMetadata([])).toBe(false);
  });
});

// Deno keys every request's inner request with the same symbol.
const SYMBOLS = { request: Symbol("request"), other: Symbol("other") };

/** A stand-in for a `Deno.serve` request: its Headers, and the inner request under a `request` symbol. */
function denoLike(
  names: Record<string, string>,
  options: { lookUp?: (name: string) => string | null; headersRead?: () => void; symbol?: keyof typeof SYMBOLS } = {},
): ServerRequest {
  const headers = new Headers(names);
  const inner = { header: options.lookUp ?? ((name: string) => headers.get(name)) };
  const request = {
    get headers() {
      options.headersRead?.();
      return headers;
    },
    [SYMBOLS[options.symbol ?? "request"]]: inner,
  };
  return request as unknown as ServerRequest;
}

describe("createDenoPresence (Deno's single-header lookup)", () => {
  it("checks its lookup against the first request's Headers, then asks only the lookup", () => {
    const presence = createDenoPresence();
    let reads = 0;
    const headersRead = () => reads++;
    expect(presence(denoLike({ host: "a" }, { headersRead }))).toBe(false);
    expect(reads).toBe(1);
    expect(presence(denoLike({ host: "a" }, { headersRead }))).toBe(false);
    expect(presence(denoLike({ "x-containerflare-signature": "s" }, { headersRead }))).toBe(true);
    expect(presence(denoLike({ "x-containerflare-metadata": "{}" }, { headersRead }))).toBe(true);
    expect(reads).toBe(1);
  });

  it("gives the lookup up for good when it disagrees with the first request's Headers", () => {
    const presence = createDenoPresence();
    const blind = () => null;
    expect(presence(denoLike({ "x-containerflare-metadata": "{}" }, { lookUp: blind }))).toBe(true);
    // From now on the stage reads Headers (undefined), even where the lookup would answer.
    expect(presence(denoLike({ host: "a" }))).toBeUndefined();
    expect(presence(denoLike({ "x-containerflare-metadata": "{}" }))).toBeUndefined();
  });

  it("cannot tell for a request without the inner lookup, or one whose lookup throws", () => {
    const presence = createDenoPresence();
    expect(presence(denoLike({ host: "a" }, { symbol: "other" }))).toBeUndefined();
    expect(presence(new Request("http://localhost/") as ServerRequest)).toBeUndefined();
    expect(presence(denoLike({ host: "a" }))).toBe(false);
    const closed = () => {
      throw new TypeError("request closed");
    };
    expect(presence(denoLike({ host: "a" }, { lookUp: closed }))).toBeUndefined();
    expect(presence(denoLike({ host: "a" }))).toBe(false);
  });

  it("gives the lookup up when it throws on the first request", () => {
    const presence = createDenoPresence();
    const broken = () => {
      throw new TypeError("no such op");
    };
    expect(presence(denoLike({ host: "a" }, { lookUp: broken }))).toBeUndefined();
    expect(presence(denoLike({ host: "a" }))).toBeUndefined();
  });
});
