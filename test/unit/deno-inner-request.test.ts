// The Deno inner-request helpers with stand-ins for the runtime's classes: finding the inner
// request, and wrapping one of its getters for the process (deno-inner-request.ts); and the
// deferred metadata removal built on them (deferred-metadata-removal.ts). The real runtime is
// covered by test/integration/metadata-removal.test.ts and serve.test.ts.
import type { ServerRequest } from "srvx";
import { describe, expect, it } from "vitest";
import {
  createDenoMetadataRemovalDeferral,
  withoutMetadataHeaders,
} from "../../src/serve/deferred-metadata-removal.ts";
import { innerPrototypeOf, innerRequestOf, wrapInnerGetter } from "../../src/serve/deno-inner-request.ts";

/** The symbol a `Deno.serve` request keeps its inner request under, as Deno names it. */
const INNER = Symbol("request");

/** A stand-in for Deno's inner request class, whose `headerList` getter fetches `[name, value]` pairs. */
function innerRequestClass() {
  return class InnerRequest {
    constructor(readonly list: [string, string][]) {}
    get headerList(): [string, string][] {
      return this.list.map(([name, value]) => [name, value]);
    }
  };
}

/** A stand-in for a `Deno.serve` request: its Headers are built from its inner request's list, on first lookup. */
function requestOver(inner: { headerList: [string, string][] }): ServerRequest {
  let headers: Headers | undefined;
  return {
    [INNER]: inner,
    get headers() {
      const lazy = () => (headers ??= new Headers(inner.headerList));
      return { has: (name: string) => lazy().has(name), get: (name: string) => lazy().get(name) };
    },
  } as unknown as ServerRequest;
}

describe("innerRequestOf / innerPrototypeOf", () => {
  it("find the inner request under the `request` symbol, and nothing on any other request", () => {
    const inner = { header: () => null };
    expect(innerRequestOf({ [INNER]: inner })).toBe(inner);
    expect(innerPrototypeOf({ [INNER]: inner })).toBe(Object.prototype);
    expect(innerRequestOf(new Request("http://localhost/"))).toBeUndefined();
    expect(innerRequestOf({ [Symbol("other")]: inner })).toBeUndefined();
    expect(innerPrototypeOf({ [INNER]: null })).toBeUndefined();
  });
});

describe("wrapInnerGetter", () => {
  it("wraps once for all users, and the last release puts the runtime's getter back", () => {
    const InnerRequest = innerRequestClass();
    const runtime = Object.getOwnPropertyDescriptor(InnerRequest.prototype, "headerList");
    let wrapped = 0;
    const wrap = (read: (this: object) => unknown) => {
      wrapped++;
      return function (this: object) {
        return (read.call(this) as [string, string][]).length;
      };
    };
    const first = wrapInnerGetter(InnerRequest.prototype, "headerList", wrap);
    const second = wrapInnerGetter(InnerRequest.prototype, "headerList", wrap);
    expect(wrapped).toBe(1);
    expect(new InnerRequest([["a", "1"]]).headerList).toBe(1);
    // Another prototype for the same getter: refused while this one is wrapped.
    expect(wrapInnerGetter(innerRequestClass().prototype, "headerList", wrap)).toBeUndefined();
    first?.();
    first?.();
    expect(new InnerRequest([["a", "1"]]).headerList).toBe(1);
    second?.();
    expect(Object.getOwnPropertyDescriptor(InnerRequest.prototype, "headerList")).toEqual(runtime);
  });

  it("refuses a getter that is missing or cannot be replaced", () => {
    const frozen = Object.defineProperty({}, "headerList", { get: () => [], configurable: false });
    expect(wrapInnerGetter(frozen, "headerList", (read) => read)).toBeUndefined();
    expect(wrapInnerGetter({ headerList: [] }, "headerList", (read) => read)).toBeUndefined();
  });
});

describe("createDenoMetadataRemovalDeferral", () => {
  const FORGED: [string, string][] = [
    ["host", "a"],
    ["x-containerflare-metadata", "{}"],
    ["X-Containerflare-Signature", "t=1"],
  ];

  it("leaves both headers out of every list once the first request's Headers came through the wrapper", () => {
    const InnerRequest = innerRequestClass();
    const deferral = createDenoMetadataRemovalDeferral();
    const first = requestOver(new InnerRequest(FORGED));
    expect(deferral.presence(first)).toBe(false);
    expect(first.headers.has("x-containerflare-metadata")).toBe(false);
    const later = new InnerRequest(FORGED);
    expect(deferral.presence(requestOver(later))).toBe(false);
    expect(later.headerList).toEqual([["host", "a"]]);
    // Any other request is read the ordinary way.
    expect(deferral.presence(new Request("http://localhost/") as ServerRequest)).toBeUndefined();
    deferral.release();
    expect(new InnerRequest(FORGED).headerList).toEqual(FORGED);
  });

  it("goes the ordinary way for good when the first request's Headers do not come through the wrapper", () => {
    const InnerRequest = innerRequestClass();
    const deferral = createDenoMetadataRemovalDeferral();
    // Headers that name neither header, but were not built from the inner request's list: the
    // wrapper cannot be what removes them, so it is not relied on.
    const inner = new InnerRequest(FORGED);
    const eager = new Headers([["host", "a"]]);
    const request = { [INNER]: inner, headers: eager } as unknown as ServerRequest;
    expect(deferral.presence(request)).toBeUndefined();
    expect(deferral.presence(requestOver(new InnerRequest(FORGED)))).toBeUndefined();
    // The wrapper is off again.
    expect(new InnerRequest(FORGED).headerList).toEqual(FORGED);
  });

  it("copies a list only when it names a metadata header", () => {
    const clean: [string, string][] = [["host", "a"]];
    expect(withoutMetadataHeaders(clean)).toBe(clean);
    expect(withoutMetadataHeaders(FORGED)).toEqual(clean);
  });
});
