/**
 * `containerflare/host` is runtime-agnostic: bundled for a neutral platform (no node: imports
 * allowed) it runs inside workerd (Miniflare) over Miniflare's real KV, D1, R2 and Queue
 * bindings, and the container-side client reaches them over the HTTP transport.
 */

import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WORKER_BUILD_OPTIONS } from "../../src/cli/dev/bundle.ts";
import {
  type CommandClient,
  createBindings,
  createCommandClient,
  type D1Database,
  FixedLengthStream,
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
  const bundle = await build({ ...WORKER_BUILD_OPTIONS, stdin: { contents: WORKER, resolveDir: ROOT, loader: "ts" } });
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

  it("streams a 48 MiB R2 object into workerd's R2 and back, and a 20 MiB KV value, beyond the frame limit", async () => {
    const env = createBindings(client) as unknown as Env;
    const size = 48 * 1024 * 1024;
    const hash = createHash("sha256");
    let sent = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const chunk = new Uint8Array(Math.min(512 * 1024, size - sent)).fill(sent % 251);
        sent += chunk.length;
        hash.update(chunk);
        controller.enqueue(chunk);
      },
    });
    const stored = await env.FILES.put("big.bin", source.pipeThrough(new FixedLengthStream(size)) as never);
    expect(stored?.size).toBe(size);
    const object = (await env.FILES.get("big.bin")) as R2ObjectBody;
    const back = createHash("sha256");
    let read = 0;
    for await (const chunk of object.body as unknown as AsyncIterable<Uint8Array>) {
      back.update(chunk);
      read += chunk.byteLength;
    }
    expect(read).toBe(size);
    expect(back.digest("hex")).toBe(hash.digest("hex"));

    const value = "x".repeat(20 * 1024 * 1024);
    await env.CACHE.put("big", value);
    expect((await env.CACHE.get("big"))?.length).toBe(value.length);
    const keys = Array.from({ length: 100 }, (_, index) => `k${index}`);
    await Promise.all(keys.map((key) => env.CACHE.put(key, key)));
    expect(await Promise.all(keys.map((key) => env.CACHE.get(key)))).toEqual(keys);
  });
});
