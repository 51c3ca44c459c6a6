/**
 * `containerflare/host` is runtime-agnostic: bundled for a neutral platform (no node: imports
 * allowed) it runs inside workerd (Miniflare) over Miniflare's real KV, D1, R2 and Queue
 * bindings, and the container-side client reaches them over the HTTP transport.
 */

import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CommandClient,
  createBindings,
  createCommandClient,
  type D1Database,
  type KVNamespace,
  type Queue,
  type R2Bucket,
  type R2ObjectBody,
} from "../../src/command/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const WORKER = `
import { createCommandHost } from "./src/host/index.ts";
export default {
  fetch(request, env) {
    const host = createCommandHost({ bindings: env, allow: ["CACHE", "DB", "FILES", "JOBS"], vars: { GREETING: "hello from workerd" } });
    return host.handle(request);
  },
};`;

interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  FILES: R2Bucket;
  JOBS: Queue;
  PRIVATE: KVNamespace;
  GREETING: string;
}

let miniflare: Miniflare;
let client: CommandClient;

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: WORKER, resolveDir: ROOT, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    write: false,
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]!.text;
  expect(script).not.toMatch(/from\s*["']node:/);
  miniflare = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2025-01-01",
    kvNamespaces: ["CACHE", "PRIVATE"],
    d1Databases: ["DB"],
    r2Buckets: ["FILES"],
    queueProducers: { JOBS: "jobs" },
  });
  const url = await miniflare.ready;
  client = createCommandClient({
    endpoint: { kind: "http", url: new URL("/v1/commands", url).href },
    timeoutMs: 20_000,
  });
});

afterAll(async () => {
  await client?.close();
  await miniflare?.dispose();
});

describe("command host inside workerd", () => {
  it("describes Miniflare's bindings, detecting each kind, and exposes vars", async () => {
    expect(await client.describe()).toEqual({
      v: 1,
      bindings: { CACHE: "kv", DB: "d1", FILES: "r2", JOBS: "queue", GREETING: "var" },
      vars: { GREETING: "hello from workerd" },
      limits: { maxFrameBytes: 16 * 1024 * 1024 },
    });
  });

  it("round-trips KV, D1, R2 and Queues through real bindings with their result shapes", async () => {
    const env = createBindings<Env>(client);
    await env.CACHE.put("user:1", JSON.stringify({ name: "Ada" }), { metadata: { v: 1 } });
    expect(await env.CACHE.get("user:1", "json")).toEqual({ name: "Ada" });
    expect(await env.CACHE.getWithMetadata("user:1")).toEqual({
      value: '{"name":"Ada"}',
      metadata: { v: 1 },
      cacheStatus: null,
    });
    expect(await env.CACHE.list()).toMatchObject({
      keys: [{ name: "user:1", metadata: { v: 1 } }],
      list_complete: true,
    });

    await env.DB.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)");
    const run = await env.DB.prepare("INSERT INTO t (name, data) VALUES (?, ?)")
      .bind("ada", new Uint8Array([1, 2, 3]))
      .run();
    expect(run).toMatchObject({ success: true, meta: { changes: 1, last_row_id: 1, changed_db: true } });
    expect((await env.DB.prepare("SELECT * FROM t").all()).results).toEqual([{ id: 1, name: "ada", data: [1, 2, 3] }]);
    expect(await env.DB.prepare("SELECT name FROM t").first("name")).toBe("ada");

    const put = await env.FILES.put("a.txt", "hello workerd", {
      httpMetadata: { contentType: "text/plain" },
      customMetadata: { owner: "ada" },
    });
    expect(put).toMatchObject({
      key: "a.txt",
      size: 13,
      httpMetadata: { contentType: "text/plain" },
      customMetadata: { owner: "ada" },
    });
    expect(put.uploaded).toBeInstanceOf(Date);
    const object = (await env.FILES.get("a.txt", { range: { offset: 6, length: 7 } })) as R2ObjectBody;
    expect(await object.text()).toBe("workerd");
    expect((await env.FILES.list()).objects.map((entry) => entry.key)).toEqual(["a.txt"]);

    expect(await env.JOBS.send({ job: 1 })).toMatchObject({ metadata: { metrics: expect.any(Object) } });
    expect(() => env.PRIVATE).toThrow(/no binding named PRIVATE/);
    await expect(client.invoke("kv.get", { binding: "PRIVATE", key: "k" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });
});
