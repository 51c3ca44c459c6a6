// src/bun/requests.ts's decoration, against a stand-in of srvx's Bun adapter (its fields as srvx
// 1.x has them): where srvx's wrapper is replaced, what the requests read, and where it is not.
// The real comparison with srvx on Bun is test/integration/bun-requests.test.ts.
import type { Server } from "srvx";
import { describe, expect, it } from "vitest";
import { createBunRequests } from "../../src/bun/requests.ts";

type Fetch = (request: Request, server?: unknown) => unknown;

function standIn(overrides: { middleware?: unknown[]; serveOptions?: false; otherFetch?: boolean } = {}) {
  const seen: Request[] = [];
  const srvxWrapper: Fetch = () => "srvx's wrapper";
  const waitUntil = (_promise: Promise<unknown>) => {};
  const server = {
    options: {
      fetch: (request: Request) => {
        seen.push(request);
        return "answered";
      },
      middleware: overrides.middleware ?? [],
    },
    fetch: srvxWrapper,
    serveOptions:
      overrides.serveOptions === false ? undefined : { fetch: overrides.otherFetch ? () => "" : srvxWrapper },
    waitUntil,
  };
  return { server, seen, srvxWrapper, waitUntil };
}

const bunServer = (address: string) => ({ requestIP: () => ({ address }), upgrade: () => false });

describe("createBunRequests().decorate", () => {
  it("puts its wrapper in place of srvx's and gives requests srvx's properties from the prototype", () => {
    const { server, seen, srvxWrapper, waitUntil } = standIn();
    expect(createBunRequests(false).decorate(server as unknown as Server)).toBe(true);
    const fetch = server.serveOptions?.fetch as Fetch;
    expect(fetch).not.toBe(srvxWrapper);
    const bun = bunServer("192.0.2.1");
    const requests = [new Request("http://a.test/"), new Request("http://a.test/b")];
    for (const request of requests) expect(fetch(request, bun)).toBe("answered");
    expect(seen).toEqual(requests);
    for (const request of requests) {
      const decorated = request as Request & {
        waitUntil: unknown;
        runtime: { name: string; bun: { server: unknown } };
        ip: string;
      };
      expect(decorated.waitUntil).toBe(waitUntil);
      expect(decorated.runtime).toEqual({ name: "bun", bun: { server: bun } });
      expect(decorated.runtime.bun.server).toBe(bun);
      expect(Object.isFrozen(decorated.runtime) && Object.isFrozen(decorated.runtime.bun)).toBe(true);
      expect(decorated.ip).toBe("192.0.2.1");
      expect(Object.keys(request)).toEqual([]);
      expect(request).toBeInstanceOf(Request);
      expect(new URL(request.url).hostname).toBe("a.test");
    }
    // One prototype for the server's requests: the runtime object is the same for both.
    expect((requests[0] as unknown as { runtime: unknown }).runtime).toBe(
      (requests[1] as unknown as { runtime: unknown }).runtime,
    );
  });

  it("gives a request of another Bun server srvx's own properties", () => {
    const { server } = standIn();
    createBunRequests(false).decorate(server as unknown as Server);
    const fetch = server.serveOptions?.fetch as Fetch;
    fetch(new Request("http://a.test/"), bunServer("192.0.2.1"));
    const other = bunServer("192.0.2.2");
    const request = new Request("http://a.test/");
    fetch(request, other);
    expect(Object.keys(request).sort()).toEqual(["ip", "runtime"]);
    expect((request as unknown as { ip: string }).ip).toBe("192.0.2.2");
    expect((request as unknown as { runtime: { bun: { server: unknown } } }).runtime.bun.server).toBe(other);
  });

  it("leaves srvx's wrapper where srvx composes middleware, has no serve options, or Bun gets another fetch", () => {
    for (const overrides of [{ middleware: [() => {}] }, { serveOptions: false as const }, { otherFetch: true }]) {
      const { server } = standIn(overrides);
      const before = server.serveOptions?.fetch;
      expect(createBunRequests(true).decorate(server as unknown as Server)).toBe(false);
      expect(server.serveOptions?.fetch).toBe(before);
    }
  });
});
