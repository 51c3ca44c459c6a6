/**
 * `containerflare dev` with service bindings and Durable Objects from wrangler.jsonc: the
 * `services` and `durable_objects` sections, the dev-only `containerflare.workers` scripts, the
 * Miniflare options they become, and the whole path end to end (test/fixtures/kinds/dev: an app
 * under node behind dev's Worker in workerd, a real second Worker, a real Durable Object class).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConsola } from "consola";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The built CLI (dist/, `npm run build`): dev runs the app's runner from next to it, and a runner
// of the sources would need Node to strip their types.
import { type DevSession, startDev } from "../../dist/src/cli/dev/session.js";
import { devWorkerOptions } from "../../src/cli/dev/miniflare.ts";
import {
  declaredBindingKinds,
  declaredBindingNames,
  devBindings,
  parseWranglerConfig,
  readDevBindings,
} from "../../src/cli/dev/wrangler.ts";
import { patternBytes } from "../fixtures/bindings/service.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/kinds/dev/", import.meta.url));
const KINDS = fileURLToPath(new URL("../fixtures/kinds/", import.meta.url));

const SETTINGS = { appUrl: "http://127.0.0.1:1", allow: [], vars: [], waitMs: 1 };

describe("wrangler.jsonc: services and durable_objects", () => {
  it("declares the service and the namespace whose class is in another Worker; the Container class is not run", () => {
    const bindings = readDevBindings(`${FIXTURE}app.mjs`);
    expect(bindings.declared).toEqual([
      { name: "API", kind: "service", resource: "kinds-api" },
      { name: "COUNTERS", kind: "durable_object", resource: "Counter in kinds-objects" },
    ]);
    expect(declaredBindingNames(bindings)).toEqual(["API", "COUNTERS"]);
    expect(declaredBindingKinds(bindings)).toEqual({ API: "service", COUNTERS: "durable_object" });
    expect(bindings.workers).toEqual([
      { name: "kinds-api", script: `${KINDS}api-worker.mjs` },
      { name: "kinds-objects", script: `${KINDS}objects-worker.mjs`, compatibilityDate: "2025-09-01" },
    ]);
  });

  it("names a Worker without a script in one line, and keeps configs without these sections as they were", () => {
    const config = parseWranglerConfig(
      `{ "services": [{ "binding": "API", "service": "api", "entrypoint": "Admin" }] }`,
      "wrangler.jsonc",
    );
    expect(() => devBindings(config, "/app", "wrangler.jsonc")).toThrow(
      'wrangler.jsonc: API names the Worker "api", which containerflare dev runs from a script of yours: add "containerflare": { "workers": { "api": "./path/to/worker.ts" } }',
    );
    // Only the Container class: nothing for dev to run, no extra Workers.
    const container = devBindings(
      parseWranglerConfig(
        `{ "durable_objects": { "bindings": [{ "name": "APP", "class_name": "App" }] }, "kv_namespaces": [{ "binding": "CACHE" }] }`,
        "wrangler.jsonc",
      ),
      "/app",
    );
    expect(container.declared).toEqual([{ name: "CACHE", kind: "kv", resource: "CACHE" }]);
    expect(container.workers).toBeUndefined();
    const options = devWorkerOptions({
      bindings: container,
      script: "export default {}",
      host: "127.0.0.1",
      port: 8787,
      persist: "/state",
      secret: "s",
      settings: SETTINGS,
    });
    expect(options).not.toHaveProperty("workers");
    expect(options).not.toHaveProperty("durableObjects");
    expect(options).toMatchObject({ script: "export default {}", kvNamespaces: { CACHE: "CACHE" } });
  });

  it("becomes Miniflare options for several Workers: shared options on top, the dev Worker first", () => {
    const config = parseWranglerConfig(
      `{
        "compatibility_date": "2025-06-01",
        "kv_namespaces": [{ "binding": "CACHE" }],
        "services": [{ "binding": "API", "service": "api", "entrypoint": "Admin" }],
        "durable_objects": { "bindings": [{ "name": "ROOMS", "class_name": "Room", "script_name": "api" }] },
        "containerflare": { "workers": { "api": { "script": "./api.ts", "compatibility_flags": ["nodejs_compat"] } } }
      }`,
      "wrangler.jsonc",
    );
    const bindings = devBindings(config, "/app", "wrangler.jsonc");
    expect(bindings.workers).toEqual([{ name: "api", script: "/app/api.ts", compatibilityFlags: ["nodejs_compat"] }]);
    const options = devWorkerOptions({
      bindings,
      script: "export default {}",
      host: "127.0.0.1",
      port: 8787,
      persist: "/state",
      secret: "s",
      settings: SETTINGS,
      workers: [{ name: "api", code: "export default {}", compatibilityFlags: ["nodejs_compat"] }],
    }) as unknown as { workers: Record<string, unknown>[] } & Record<string, unknown>;
    expect(options).toMatchObject({
      host: "127.0.0.1",
      port: 8787,
      cf: false,
      kvPersist: "/state/kv",
      durableObjectsPersist: "/state/do",
    });
    expect(options).not.toHaveProperty("script");
    expect(options.workers).toHaveLength(2);
    expect(options.workers[0]).toMatchObject({
      script: "export default {}",
      compatibilityDate: "2025-06-01",
      kvNamespaces: { CACHE: "CACHE" },
      serviceBindings: { API: { name: "api", entrypoint: "Admin" } },
      durableObjects: { ROOMS: { className: "Room", scriptName: "api", useSQLite: true } },
      unsafeDirectSockets: [expect.objectContaining({ entrypoint: "commandsEntrypoint" })],
    });
    expect(options.workers[0]).not.toHaveProperty("kvPersist");
    expect(options.workers[1]).toEqual({
      name: "api",
      modules: true,
      script: "export default {}",
      compatibilityDate: "2025-06-01",
      compatibilityFlags: ["nodejs_compat"],
    });
  });
});

describe("containerflare dev with a service binding and a Durable Object namespace", () => {
  let dev: DevSession;
  let persist: string;

  beforeAll(async () => {
    persist = mkdtempSync(join(tmpdir(), "cf-dev-kinds-"));
    dev = await startDev({
      entry: `${FIXTURE}app.mjs`,
      runtime: "node",
      port: 0,
      persist,
      watch: false,
      logger: createConsola({ level: -999 }),
    });
    expect(await dev.ready).toBe(true);
  });

  afterAll(async () => {
    await dev?.close();
    rmSync(persist, { recursive: true, force: true });
  });

  it("the app reaches the second Worker: method, headers, status, and a body of several MiB both ways", async () => {
    const status = await fetch(new URL("/api/status/201", dev.url));
    expect([status.status, status.statusText, await status.text()]).toEqual([201, "Custom 201", "status 201"]);
    expect(status.headers.getSetCookie()).toEqual(["a=1", "b=2"]);

    const bytes = patternBytes(6 * 1024 * 1024 + 7);
    const echo = await fetch(new URL("/api/echo?x=1", dev.url), {
      method: "PUT",
      headers: { "x-test": "dev", "content-type": "application/x-test" },
      body: bytes,
    });
    expect(echo.status).toBe(200);
    expect(echo.headers.get("x-method")).toBe("PUT");
    expect(echo.headers.get("x-url")).toBe("https://kinds-api.internal/echo?x=1");
    expect(JSON.parse(echo.headers.get("x-seen-headers")!)).toEqual(expect.arrayContaining([["x-test", "dev"]]));
    const digest = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
    expect(digest(new Uint8Array(await echo.arrayBuffer()))).toBe(digest(bytes));
  });

  it("the app reaches the Durable Object class of the third Worker: by name, unique, idFromString", async () => {
    const count = async (name: string) =>
      (await (await fetch(new URL(`/count/${name}`, dev.url), { method: "POST" })).json()) as { count: number };
    expect(await count("a")).toEqual({ count: 1 });
    expect(await count("a")).toEqual({ count: 2 });
    expect(await count("b")).toEqual({ count: 1 });
    const unique = (await (await fetch(new URL("/unique", dev.url), { method: "POST" })).json()) as {
      id: string;
      first: unknown;
      second: unknown;
    };
    expect(unique.id).toMatch(/^[0-9a-f]{64}$/);
    expect(unique.first).toEqual({ count: 1 });
    expect(unique.second).toEqual({ count: 1 });
  });
});
