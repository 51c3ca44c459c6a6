/**
 * The Hono, H3 and itty-router adapters in real node, bun and deno processes: the context fields
 * reach a route, bindings are reached through each framework's own idiom over a real command host
 * (tcp on loopback), waitUntil work runs and holds shutdown, and containerflare answers errors.
 */
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCommandHost } from "../../src/host/index.ts";
import { type CommandHostListener, listenCommandHost } from "../../src/host/node.ts";
import { MemoryKV } from "../fixtures/bindings/index.ts";
import { freePort, ROOT, RUNTIMES, type RunningApp, type Runtime, startApp } from "./runtimes.ts";

const FIXTURES = `${ROOT}test/fixtures/adapters`;
const ADAPTERS = ["hono", "h3", "itty"] as const;
type Adapter = (typeof ADAPTERS)[number];

/** Where each fixture's waitUntil work reports, and which framework idiom scheduled it. */
const WAIT_MARKERS: Record<Adapter, string[]> = {
  hono: ["waitUntil finished: hono"],
  h3: ["waitUntil finished: h3 event", "waitUntil finished: h3 context"],
  itty: ["waitUntil finished: itty"],
};

/** The KV namespace the command host serves as `CACHE`. */
const CACHE = new MemoryKV();

let host: CommandHostListener;
beforeAll(async () => {
  host = await listenCommandHost(
    createCommandHost({ bindings: { CACHE }, allow: { CACHE: "kv" } }),
    `tcp://127.0.0.1:${await freePort()}`,
  );
});
afterAll(() => host?.close());

interface ContextBody {
  platform: { kind: string };
  request: { id: string; method: string; path: string; clientIp?: string; source: string };
  same?: boolean;
  /** Hono only: what Hono's own getConnInfo for this runtime read from `c.env`. */
  remote?: { address?: string; port?: number };
}

async function stopGracefully(app: RunningApp): Promise<number | string> {
  app.child.kill("SIGTERM");
  return app.exited;
}

describe.each(RUNTIMES)("adapters on $name", (runtime: Runtime) => {
  describe.each(ADAPTERS)("containerflare/%s", (adapter) => {
    let app: RunningApp | undefined;
    afterEach(async () => {
      await app?.stop();
      app = undefined;
    });

    it("routes reach the context, the bindings through the framework's idiom, and waitUntil", async () => {
      app = await startApp(runtime, `${FIXTURES}/${adapter}.mjs`, { CF_CMD_ENDPOINT: host.url });

      const root = await fetch(`${app.url}/`, { headers: { "x-request-id": `req-${adapter}` } });
      expect(root.status).toBe(200);
      const body = (await root.json()) as ContextBody;
      expect(body.platform).toEqual({ kind: "generic" });
      expect(body.request).toMatchObject({ id: `req-${adapter}`, method: "GET", path: "/", source: "http" });
      expect(body.request.clientIp).toMatch(/127\.0\.0\.1$/);
      if (adapter !== "h3") expect(body.same).toBe(true);
      if (adapter === "hono") {
        expect(body.remote?.address).toMatch(/127\.0\.0\.1$/);
        expect(body.remote?.port).toBeGreaterThan(0);
      }

      const key = `${adapter}-${runtime.name}`;
      const put = await fetch(`${app.url}/kv/${key}`, { method: "PUT", body: `hello from ${key}` });
      expect(put.status).toBe(204);
      expect(await CACHE.get(key)).toBe(`hello from ${key}`);
      const read = await fetch(`${app.url}/kv/${key}`);
      expect(read.status).toBe(200);
      const text = await read.text();
      expect(adapter === "itty" ? JSON.parse(text) : text).toBe(`hello from ${key}`);
      const missing = await fetch(`${app.url}/kv/never-written`);
      expect(missing.status).toBe(404);
      await missing.body?.cancel();

      // A binding the host does not offer: containerflare's typed JSON error, not a bare 500.
      const nope = await fetch(`${app.url}/nope`);
      expect(nope.status).toBe(500);
      expect(nope.headers.get("content-type")).toMatch(/application\/json/);
      const nopeText = await nope.text();
      expect(JSON.parse(nopeText).error).toMatchObject({ code: "NO_BINDING", message: "Internal Server Error" });
      // The binding's name and the host's words stay in the log.
      expect(nopeText).not.toContain("NOPE");
      if (adapter === "hono") {
        // onError keeps Hono's own HTTPException and hands every other error to serve().
        const teapot = await fetch(`${app.url}/teapot`);
        expect({ status: teapot.status, body: await teapot.text() }).toEqual({ status: 418, body: "short and stout" });
        const thrown = await fetch(`${app.url}/throw`, { headers: { "x-request-id": "req-throw" } });
        expect(thrown.status).toBe(500);
        expect(await thrown.json()).toEqual({
          error: { code: "INTERNAL", message: "Internal Server Error", retryable: false, requestId: "req-throw" },
        });
      }

      if (adapter === "itty") {
        // onError keeps itty's own StatusError and hands every other error to serve().
        const teapot = await fetch(`${app.url}/teapot`);
        expect({ status: teapot.status, body: await teapot.json() }).toEqual({
          status: 418,
          body: { status: 418, error: "short and stout" },
        });
        const thrown = await fetch(`${app.url}/throw`, { headers: { "x-request-id": "req-throw" } });
        expect(thrown.status).toBe(500);
        expect(await thrown.json()).toEqual({
          error: { code: "INTERNAL", message: "Internal Server Error", retryable: false, requestId: "req-throw" },
        });
      }

      // The work outlives the response and holds the SIGTERM drain until it is done.
      const wait = await fetch(`${app.url}/wait`);
      expect(wait.status).toBe(202);
      expect(await wait.text()).toBe("accepted");
      expect(app.stderr.filter((line) => line.startsWith("waitUntil finished"))).toEqual([]);
      expect(await stopGracefully(app)).toBe(0);
      expect(app.stderr).toEqual(expect.arrayContaining(WAIT_MARKERS[adapter]));
    });
  });
});

describe.each(["Router", "IttyRouter"])("containerflare/itty with %s", (kind) => {
  it("turns undefined into 404 and plain values into JSON", async () => {
    const node = RUNTIMES[0]!;
    const app = await startApp(node, `${FIXTURES}/itty.mjs`, { CF_CMD_ENDPOINT: host.url, ROUTER: kind });
    try {
      const plain = await fetch(`${app.url}/plain`);
      expect(plain.headers.get("content-type")).toMatch(/application\/json/);
      expect(await plain.json()).toEqual({ plain: true });
      const unknown = await fetch(`${app.url}/no-such-route`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ status: 404, error: "Not Found" });
      const root = (await (await fetch(`${app.url}/`)).json()) as ContextBody;
      expect(root).toMatchObject({ platform: { kind: "generic" }, request: { path: "/" }, same: true });
    } finally {
      await app.stop();
    }
  });
});

describe("typed apps", () => {
  it("type-check against the published declarations (tsc --noEmit -p test/types)", () => {
    const tsc = spawnSync(`${ROOT}node_modules/.bin/tsc`, ["--noEmit", "-p", "test/types/tsconfig.json"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  });
});
