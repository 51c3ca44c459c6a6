/**
 * The pure parts of `containerflare dev`: reading wrangler.jsonc, the Miniflare options it
 * becomes, the app's environment, the watcher's filter and the flags.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { devWorkerOptions } from "../../src/cli/dev/miniflare.ts";
import { appEnvironment, assertNodeVersion } from "../../src/cli/dev/session.ts";
import { isSourceChange, watchDirectory } from "../../src/cli/dev/watch.ts";
import {
  DEFAULT_MAX_INSTANCES,
  declaredBindingNames,
  devBindings,
  parseWranglerConfig,
  readDevBindings,
} from "../../src/cli/dev/wrangler.ts";
import { parseCommandsMode, parseWorkerMode } from "../../src/cli/dev.ts";
import { ROOT } from "./runtimes.ts";

const CONFIG = `// the app's bindings
{
  "name": "shop",
  "compatibility_date": "2025-06-01",
  /* block comment */
  "kv_namespaces": [{ "binding": "CACHE", "id": "abc123" }, { "binding": "SESSIONS" },],
  "d1_databases": [{ "binding": "DB", "database_name": "shop-db" }],
  "queues": { "producers": [{ "binding": "JOBS", "queue": "shop-jobs" }], "consumers": [{ "queue": "shop-jobs" }] },
  "r2_buckets": [{ "binding": "FILES", "bucket_name": "shop-files" }],
  "assets": { "directory": "./public", "binding": "ASSETS" },
  "vars": { "GREETING": "hi", "LIMITS": { "max": 3 } },
  "containers": [{ "class_name": "Shop", "image": "./Containerfile" }],
}`;

describe("wrangler.jsonc", () => {
  it("reads comments and trailing commas, and the bindings dev provides", () => {
    const bindings = devBindings(parseWranglerConfig(CONFIG, "wrangler.jsonc"), "/app");
    expect(bindings).toEqual({
      workerName: "shop",
      compatibilityDate: "2025-06-01",
      compatibilityFlags: [],
      vars: { GREETING: "hi", LIMITS: { max: 3 } },
      declared: [
        { name: "CACHE", kind: "kv", resource: "abc123" },
        { name: "SESSIONS", kind: "kv", resource: "SESSIONS" },
        { name: "DB", kind: "d1", resource: "shop-db" },
        { name: "JOBS", kind: "queue", resource: "shop-jobs" },
        { name: "FILES", kind: "r2", resource: "shop-files" },
        { name: "ASSETS", kind: "assets", resource: "./public" },
        { name: "GREETING", kind: "var", resource: "var" },
        { name: "LIMITS", kind: "var", resource: "var" },
      ],
      sections: expect.objectContaining({ kv_namespaces: expect.any(Array), assets: expect.any(Object) }),
      baseDir: "/app",
    });
    expect(declaredBindingNames(bindings)).toEqual(["CACHE", "SESSIONS", "DB", "JOBS", "FILES", "ASSETS"]);
  });

  it("reads the app's own Worker: main, and each containers class with its binding and bound", () => {
    const config = parseWranglerConfig(
      `{
        "main": "src/worker.ts",
        "containers": [{ "class_name": "Room", "max_instances": 4 }, { "class_name": "Solo" }],
        "durable_objects": { "bindings": [{ "name": "ROOMS", "class_name": "Room" }, { "name": "OTHER", "class_name": "Solo", "script_name": "elsewhere" }] },
        "containerflare": { "workers": { "elsewhere": "../elsewhere.ts" } },
      }`,
      "wrangler.jsonc",
    );
    expect(devBindings(config, "/app").worker).toEqual({
      main: "/app/src/worker.ts",
      containers: [
        { className: "Room", binding: "ROOMS", maxInstances: 4 },
        // A binding to a class of another Worker is not this Worker's: Solo gets a namespace of
        // dev's own, and dev's own bound on instances when unset.
        { className: "Solo", binding: "CONTAINERFLARE_DEV_CLASS_Solo", maxInstances: DEFAULT_MAX_INSTANCES },
      ],
      objects: [
        { binding: "ROOMS", className: "Room" },
        { binding: "CONTAINERFLARE_DEV_CLASS_Solo", className: "Solo" },
      ],
    });
    // No `main`, or no containers: dev's built-in Worker.
    expect(devBindings(parseWranglerConfig(CONFIG, "wrangler.jsonc"), "/app").worker).toBeUndefined();
    expect(devBindings(parseWranglerConfig(`{ "main": "w.ts" }`, "wrangler.jsonc"), "/app").worker).toBeUndefined();
    expect(() =>
      devBindings(
        parseWranglerConfig(
          `{ "main": "w.ts", "containers": [{ "class_name": "A" }, { "class_name": "A" }] }`,
          "w.jsonc",
        ),
        "/app",
      ),
    ).toThrow('wrangler.jsonc: containers names the class "A" twice');
    expect(() =>
      parseWranglerConfig(`{ "containers": [{ "class_name": "A", "max_instances": 0 }] }`, "w.jsonc"),
    ).toThrow(/^invalid w\.jsonc: containers\.0\.max_instances: /);
  });

  it("names what is wrong in one line", () => {
    let syntax = "";
    try {
      parseWranglerConfig(`{ "name": }`, "wrangler.jsonc");
    } catch (error) {
      syntax = (error as Error).message;
    }
    expect(syntax).toMatch(/^cannot parse wrangler\.jsonc: \S/);
    expect(syntax).not.toContain("\n");
    expect(() => parseWranglerConfig(`[1]`, "wrangler.jsonc")).toThrow("wrangler.jsonc must hold a JSON object");
    expect(() => parseWranglerConfig(`{ "kv_namespaces": [{ "binding": "my-cache" }] }`, "w.jsonc")).toThrow(
      "invalid w.jsonc: kv_namespaces.0.binding: expected a binding name like CACHE",
    );
    expect(() => parseWranglerConfig(`{ "queues": { "producers": [{ "binding": "JOBS" }] } }`, "w.jsonc")).toThrow(
      /^invalid w\.jsonc: queues\.producers\.0\.queue: /,
    );
  });

  it("is found next to the entry (examples/basic) or not at all", () => {
    const basic = readDevBindings(`${ROOT}examples/basic/app.ts`);
    expect(basic.file).toBe(`${ROOT}examples/basic/wrangler.jsonc`);
    expect(basic.declared).toEqual(
      expect.arrayContaining([
        { name: "CACHE", kind: "kv", resource: "CACHE" },
        { name: "DB", kind: "d1", resource: "containerflare-basic" },
        { name: "JOBS", kind: "queue", resource: "containerflare-basic-jobs" },
      ]),
    );
    const none = readDevBindings(`${ROOT}test/fixtures/app.mjs`);
    expect(none.file).toBeUndefined();
    expect(declaredBindingNames(none)).toEqual([]);
    expect(() => readDevBindings(`${ROOT}examples/basic/app.ts`, "nowhere.jsonc", ROOT)).toThrow(
      /^config not found: nowhere\.jsonc/,
    );
  });
});

describe("Miniflare options", () => {
  it("persist every store under --persist and consume every produced queue", () => {
    const bindings = devBindings(parseWranglerConfig(CONFIG, "wrangler.jsonc"), "/app");
    const settings = {
      appUrl: "http://127.0.0.1:1234",
      allow: declaredBindingNames(bindings),
      vars: ["GREETING"],
      waitMs: 1,
    };
    const options = devWorkerOptions({
      bindings,
      script: "export default {}",
      host: "127.0.0.1",
      port: 8787,
      persist: "/state",
      secret: "s",
      settings,
    });
    expect(options).toMatchObject({
      host: "127.0.0.1",
      port: 8787,
      cf: false,
      compatibilityDate: "2025-06-01",
      kvNamespaces: { CACHE: "abc123", SESSIONS: "SESSIONS" },
      kvPersist: "/state/kv",
      d1Databases: { DB: "shop-db" },
      d1Persist: "/state/d1",
      r2Buckets: { FILES: "shop-files" },
      r2Persist: "/state/r2",
      queueProducers: { JOBS: "shop-jobs" },
      queueConsumers: { "shop-jobs": { maxBatchTimeout: 0 } },
      assets: { directory: "/app/public", binding: "ASSETS" },
      bindings: { GREETING: "hi", LIMITS: { max: 3 }, CONTAINERFLARE_SECRET: "s", CONTAINERFLARE_DEV: settings },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0, entrypoint: "commandsEntrypoint" }],
    });
  });
});

describe("the app's environment", () => {
  it("looks like a Cloudflare Container's, without another platform's markers", () => {
    const env = appEnvironment({
      base: { PATH: "/bin", K_SERVICE: "api", PORT: "9000", HOME: "/root" },
      secret: "s3cret",
      commandEndpoint: "http://127.0.0.1:5555/v1/commands",
      durableObjectId: "ab".repeat(32),
    });
    expect(env).toEqual({
      PATH: "/bin",
      HOME: "/root",
      CLOUDFLARE_APPLICATION_ID: "containerflare-dev",
      CLOUDFLARE_DEPLOYMENT_ID: "dev",
      CLOUDFLARE_DURABLE_OBJECT_ID: "ab".repeat(32),
      CLOUDFLARE_LOCATION: "dev",
      CF_CONTAINER_ADDR: "127.0.0.1",
      CF_CMD_ENDPOINT: "http://127.0.0.1:5555/v1/commands",
      CONTAINERFLARE_SECRET: "s3cret",
    });
  });

  it("needs Node.js 22 or newer", () => {
    expect(() => assertNodeVersion("20.19.0")).toThrow(
      /^dev needs Node\.js >= 22 for Miniflare, this is Node\.js 20\.19\.0/,
    );
    expect(() => assertNodeVersion("22.0.0")).not.toThrow();
  });
});

describe("flags and the watcher", () => {
  it("--commands is http or stdio", () => {
    expect(parseCommandsMode(undefined)).toBe("http");
    expect(parseCommandsMode("STDIO")).toBe("stdio");
    expect(() => parseCommandsMode("tcp")).toThrow('unknown --commands "tcp": expected http or stdio');
    expect(parseWorkerMode(undefined)).toBe("main");
    expect(parseWorkerMode("Builtin")).toBe("builtin");
    expect(() => parseWorkerMode("mine")).toThrow('unknown --worker "mine": expected main or builtin');
  });

  it("ignores hidden directories and installed packages", () => {
    expect(isSourceChange("app.ts")).toBe(true);
    expect(isSourceChange("lib/routes.ts")).toBe(true);
    expect(isSourceChange(".containerflare/app.123.mjs")).toBe(false);
    expect(isSourceChange("node_modules/x/index.js")).toBe(false);
    expect(isSourceChange(".git/index")).toBe(false);
    expect(isSourceChange("")).toBe(false);
  });

  it("reports one burst of source changes, nothing from node_modules, hidden or ignored directories", async () => {
    const directory = mkdtempSync(`${tmpdir()}/containerflare-watch-`);
    for (const sub of ["lib/deep", "node_modules/pkg", ".containerflare", "state"])
      mkdirSync(`${directory}/${sub}`, { recursive: true });
    const bursts: string[][] = [];
    const stop = watchDirectory(directory, (paths) => bursts.push(paths.sort()), {
      debounceMs: 50,
      ignore: [`${directory}/state`],
    });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    try {
      await settle();
      writeFileSync(`${directory}/app.ts`, "export default 1");
      writeFileSync(`${directory}/lib/deep/routes.ts`, "export {}");
      await settle();
      writeFileSync(`${directory}/node_modules/pkg/index.js`, "");
      writeFileSync(`${directory}/.containerflare/app.1.mjs`, "");
      writeFileSync(`${directory}/state/db.sqlite`, "");
      await settle();
      expect(bursts).toEqual([["app.ts", "lib/deep/routes.ts"]]);
    } finally {
      stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
