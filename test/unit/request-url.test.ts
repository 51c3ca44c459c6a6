// serve()'s URL of srvx's Node requests (src/node/request-url.ts) against srvx's own, on the srvx
// this package installs: for every request target, Host header, socket and trust setting of the
// table below, the URL a request shows with the fast accessor installed is the one srvx builds
// without it; and the fast build is taken exactly for the plain requests.

import type { IncomingMessage } from "node:http";
import { NodeRequest } from "srvx/node";
import { afterEach, describe, expect, it } from "vitest";
import {
  agreesWithSrvx,
  installFastRequestURL,
  isPlainHost,
  isSimpleTarget,
  plainRequestHref,
  plainRequestURLParts,
} from "../../src/node/request-url.ts";

const HOSTS = [
  "localhost",
  "localhost:3000",
  "127.0.0.1:8080",
  "Example.COM",
  "a_b-c.example:65535",
  "a:123456",
  "a:",
  ":80",
  "a..b",
  ".a",
  "a.",
  "[::1]:8080",
  "[::1]",
  "ex ample",
  "evil.com/path",
  "evil.com?x",
  "host:8o",
  "bücher.example",
  "",
  undefined,
];
const TARGETS = [
  "/",
  "/a/b",
  "/a?b=c",
  "/?",
  "/a?b?c",
  "/a/../b",
  "/%2e%2e/x",
  "/a b",
  "/a#frag",
  "/ü",
  "/a?q=<x>",
  "/.well-known/x",
  "/a/./b",
  "/a/%2E/b",
  "/a%2eb/c.d",
  "/a'b?c'd",
  "/a|b",
  "/a?b=|^`{}[]\\",
  "/a-z_0.9~!$&()*+,;=:@%41?q=!$%()*+,-./:;=?@",
  "/a?\u00e9",
  "*",
  "http://other.example/x?y",
  "//x",
  "",
];
type Case = { host: string | undefined; target: string; encrypted: boolean; trustProxy: unknown; forwarded: boolean };

const CASES: Case[] = [];
for (const host of HOSTS)
  for (const target of TARGETS)
    for (const encrypted of [false, true])
      for (const trustProxy of [undefined, false, true])
        for (const forwarded of [false, true]) CASES.push({ host, target, encrypted, trustProxy, forwarded });

/** A node:http request as srvx reads it: target, headers, socket. */
function nodeRequestOf({ host, target, encrypted, forwarded }: Case): IncomingMessage {
  const headers: Record<string, string> = {};
  if (host !== undefined) headers.host = host;
  if (forwarded) {
    headers["x-forwarded-host"] = "proxy.example";
    headers["x-forwarded-proto"] = "https";
    headers["x-forwarded-for"] = "203.0.113.9";
  }
  const rawHeaders = Object.entries(headers).flat();
  const socket = { encrypted, remoteAddress: "10.0.0.1", localAddress: "10.0.0.2", localPort: 8080 };
  return { url: target, method: "GET", headers, rawHeaders, socket } as unknown as IncomingMessage;
}

/** What a request shows of its URL: `url` read first (as routers do) or `_url` first. */
function urlOf(c: Case, urlFirst = false): Record<string, string> {
  const request = new NodeRequest({ req: nodeRequestOf(c), trustProxy: c.trustProxy as never }) as unknown as {
    url: string;
    _url: URL;
  };
  const first = urlFirst ? request.url : undefined;
  const url = request._url;
  return {
    url: first ?? request.url,
    href: url.href,
    protocol: url.protocol,
    host: url.host,
    pathname: url.pathname,
    search: url.search,
  };
}

/** Checks that `predicate` accepts every input of `accepted` and refuses every one of `refused`, naming a wrong one. */
function expectExactly(predicate: (input: string) => boolean, accepted: string[], refused: string[]): void {
  expect(accepted.filter((input) => !predicate(input))).toEqual([]);
  expect(refused.filter((input) => predicate(input))).toEqual([]);
}

let release: (() => void) | undefined;
afterEach(() => {
  release?.();
  release = undefined;
});

describe("the fast request URL (src/node/request-url.ts)", () => {
  it("shows, for every case of the table, the URL srvx builds itself", () => {
    const expected = CASES.map((c) => urlOf(c));
    const prototype = (NodeRequest as unknown as { prototype: object }).prototype;
    const srvxGet = Object.getOwnPropertyDescriptor(prototype, "_url")?.get;
    release = installFastRequestURL();
    // Installed (the probes agreed), so the table compares the two builds.
    expect(Object.getOwnPropertyDescriptor(prototype, "_url")?.get).not.toBe(srvxGet);
    const actual = CASES.map((c) => urlOf(c));
    const urlFirst = CASES.map((c) => urlOf(c, true));
    for (const [index, c] of CASES.entries()) {
      expect({ case: c, url: actual[index] }).toEqual({ case: c, url: expected[index] });
      expect({ case: c, url: urlFirst[index] }).toEqual({ case: c, url: expected[index] });
    }
  });

  it("joins the href itself exactly for plain requests with a simple target", () => {
    release = installFastRequestURL();
    const joined = CASES.filter((c) => plainRequestHref({ req: nodeRequestOf(c), trustProxy: c.trustProxy }));
    expect(new Set(joined.map((c) => c.target))).toEqual(
      new Set([
        "/",
        "//x",
        "/a/b",
        "/a?b=c",
        "/?",
        "/a?b?c",
        "/a?b=|^`{}[]\\",
        "/a%2eb/c.d",
        "/a-z_0.9~!$&()*+,;=:@%41?q=!$%()*+,-./:;=?@",
      ]),
    );
    for (const c of joined)
      expect(plainRequestURLParts({ req: nodeRequestOf(c), trustProxy: c.trustProxy })).toBeDefined();
  });

  it("takes as simple targets exactly paths of pchars without segments starting with . or %, and printable queries", () => {
    expectExactly(
      isSimpleTarget,
      ["/", "/a/b.c/d", "/a%20b", "/a?", "/?x=1&y=/?", "/a:b@c!$&'()*+,;=~_-", "/a?[]{}|^`\\"],
      [
        "",
        "a",
        "*",
        "//.",
        "/.",
        "/..",
        "/a/.b",
        "/%2e",
        "/a/%41",
        "/a b",
        "/a#b",
        "/a|b",
        "/a\\b",
        "/a[b]",
        "/ä",
        "/a?b c",
        "/a?#",
        '/a?"',
        "/a?'",
        "/a?<",
        "/a?>",
        "/a?é",
      ],
    );
  });

  it("answers url from srvx's native request once srvx built one, as srvx does", () => {
    release = installFastRequestURL();
    const req = Object.assign(
      nodeRequestOf({
        host: "Example.COM:80",
        target: "/a?b",
        encrypted: false,
        trustProxy: undefined,
        forwarded: false,
      }),
      {
        once() {},
        complete: true,
      },
    );
    const request = new NodeRequest({ req }) as unknown as { url: string; clone(): Request };
    expect(request.url).toBe("http://Example.COM:80/a?b");
    const clone = request.clone();
    // The native request normalizes the host and drops the default port; srvx then answers its URL.
    expect(clone.url).toBe("http://example.com/a?b");
    expect(request.url).toBe(clone.url);
  });

  it("builds the URL itself for plain requests only", () => {
    const plain = CASES.filter((c) => plainRequestURLParts({ req: nodeRequestOf(c), trustProxy: c.trustProxy }));
    expect(plain.length).toBeGreaterThan(0);
    for (const c of plain) {
      expect(c.trustProxy === undefined || c.trustProxy === false).toBe(true);
      expect(c.target.startsWith("/")).toBe(true);
      expect(isPlainHost(c.host as string)).toBe(true);
    }
    // Every plain shape of the table is taken: any host of the strict shape, any origin-form target.
    const plainHosts = new Set(plain.map((c) => c.host));
    expect([...plainHosts].sort()).toEqual(
      ["localhost", "localhost:3000", "127.0.0.1:8080", "Example.COM", "a_b-c.example:65535"].sort(),
    );
  });

  it("accepts as plain hosts exactly labels joined by single dots with an optional port of 1-5 digits", () => {
    expectExactly(
      isPlainHost,
      ["a", "a.b", "A-1_z.b-2", "1.2.3.4", "a:1", "a.b:65535", "a:99999"],
      ["", ".", "a.", ".a", "a..b", "a:", "a:123456", "a:1a", ":1", "[::1]", "a b", "a/b", "ä", "a:1:2"],
    );
  });

  it("keeps one URL per request, and a URL written to _url wins over the fast build", () => {
    release = installFastRequestURL();
    const c: Case = { host: "localhost:1", target: "/a?b", encrypted: false, trustProxy: undefined, forwarded: false };
    const request = new NodeRequest({ req: nodeRequestOf(c) }) as unknown as { _url: URL; url: string };
    expect(request._url).toBe(request._url);
    const written = new NodeRequest({ req: nodeRequestOf(c) }) as unknown as { _url: URL; url: string };
    const replacement = new URL("http://written.example/z");
    written._url = replacement;
    expect(written._url).toBe(replacement);
    expect(written.url).toBe("http://written.example/z");
  });

  it("gives srvx's accessors back when released, and leaves one installed after it alone", () => {
    const prototype = (NodeRequest as unknown as { prototype: object }).prototype;
    const keys = ["url", "_url", "_request"] as const;
    const srvx = Object.fromEntries(keys.map((key) => [key, Object.getOwnPropertyDescriptor(prototype, key)]));
    const undo = installFastRequestURL();
    for (const key of keys) expect(Object.getOwnPropertyDescriptor(prototype, key)?.get).not.toBe(srvx[key]?.get);
    undo();
    for (const key of keys) expect(Object.getOwnPropertyDescriptor(prototype, key)).toEqual(srvx[key]);
    const undoAgain = installFastRequestURL();
    const later = { configurable: true, get: () => new URL("http://later.example/") };
    Object.defineProperty(prototype, "_url", later);
    undoAgain();
    expect(Object.getOwnPropertyDescriptor(prototype, "_url")?.get).toBe(later.get);
    expect(Object.getOwnPropertyDescriptor(prototype, "url")).toEqual(srvx.url);
    Object.defineProperty(prototype, "_url", srvx._url as PropertyDescriptor);
  });

  it("is installed only where srvx builds the probes' URLs as it does", () => {
    const prototype = (NodeRequest as unknown as { prototype: object }).prototype;
    const srvxGet = Object.getOwnPropertyDescriptor(prototype, "_url")?.get as (this: object) => URL;
    const srvxHref = Object.getOwnPropertyDescriptor(prototype, "url")?.get as (this: object) => string;
    expect(
      agreesWithSrvx(
        (request) => srvxGet.call(request),
        (request) => srvxHref.call(request),
      ),
    ).toBe(true);
    // A srvx that lowercased hosts, say, would not agree: srvx's own getters then stay.
    expect(
      agreesWithSrvx(
        (request) => new URL(srvxGet.call(request).href),
        (request) => srvxHref.call(request),
      ),
    ).toBe(false);
    expect(
      agreesWithSrvx(
        (request) => srvxGet.call(request),
        (request) => new URL(srvxHref.call(request)).href,
      ),
    ).toBe(false);
  });
});
