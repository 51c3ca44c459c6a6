import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { D1Database, KVNamespace, Queue, R2Bucket, R2Object, R2ObjectBody } from "@cloudflare/workers-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Bindings,
  type CommandClient,
  CommandError,
  createBindings,
  createCommandClient,
  d1Query,
  envGet,
  type Fetcher,
  fetchAsset,
  kvGet,
  loadBindings,
  queueSend,
} from "../../src/command/index.ts";
import { createCommandHost } from "../../src/host/index.ts";
import { type CommandHostListener, listenCommandHost } from "../../src/host/node.ts";
import { memoryBindings } from "../fixtures/bindings/index.ts";

/** What a Worker developer declares: the bindings' Workers types, unchanged. */
interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue<unknown>;
  FILES: R2Bucket;
  ASSETS: Fetcher;
  SECRET_KV: KVNamespace;
  GREETING: string;
}

const directory = mkdtempSync(join(tmpdir(), "cf-bindings-"));
const real = memoryBindings();
let listener: CommandHostListener;
let client: CommandClient;
let env: Bindings<Env>;

beforeAll(async () => {
  const host = createCommandHost({
    bindings: real,
    allow: ["CACHE", "DB", "JOBS", "FILES", "ASSETS"],
    vars: { GREETING: "hello from the host" },
  });
  listener = await listenCommandHost(host, `unix://${join(directory, "host.sock")}`);
  client = createCommandClient({ endpoint: { kind: "unix", path: join(directory, "host.sock") } });
  env = createBindings<Env>(client);
});

afterAll(async () => {
  await client.close();
  await listener.close();
  rmSync(directory, { recursive: true, force: true });
});

/** An R2 object's data fields, comparable between the bus and the binding itself. */
function r2Shape(object: R2Object | null) {
  if (!object) return object;
  return {
    key: object.key,
    version: object.version,
    size: object.size,
    etag: object.etag,
    httpEtag: object.httpEtag,
    checksums: object.checksums.toJSON(),
    md5: [...new Uint8Array(object.checksums.md5!)],
    uploaded: object.uploaded.getTime(),
    httpMetadata: object.httpMetadata,
    customMetadata: object.customMetadata,
    range: object.range,
    storageClass: object.storageClass,
    hasBody: "body" in object,
  };
}

/** D1 meta carries timings that differ run to run. */
function withoutTimings<T>(result: T): T {
  const copy = structuredClone(result) as { meta?: Record<string, unknown> };
  if (copy.meta) {
    delete copy.meta.duration;
    delete copy.meta.timings;
  }
  return copy as T;
}

describe("KV over the command bus", () => {
  it("get (text, json, arrayBuffer, stream, options, many keys) matches the binding", async () => {
    await env.CACHE.put("text", "héllo");
    await env.CACHE.put("json", JSON.stringify({ a: [1, 2] }));
    await env.CACHE.put("bytes", new Uint8Array([0, 1, 255]));
    expect(await env.CACHE.get("text")).toBe(await real.CACHE.get("text"));
    expect(await env.CACHE.get("text", "text")).toBe("héllo");
    expect(await env.CACHE.get("json", "json")).toEqual({ a: [1, 2] });
    expect(await env.CACHE.get("json", { type: "json", cacheTtl: 60 })).toEqual({ a: [1, 2] });
    const buffer = await env.CACHE.get("bytes", "arrayBuffer");
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(buffer!)]).toEqual([0, 1, 255]);
    const stream = await env.CACHE.get("bytes", "stream");
    expect([...new Uint8Array(await new Response(stream as unknown as ReadableStream).arrayBuffer())]).toEqual([
      0, 1, 255,
    ]);
    expect(await env.CACHE.get("missing")).toBeNull();
    expect(await env.CACHE.get("missing", "arrayBuffer")).toBeNull();
    const many = await env.CACHE.get(["text", "missing"]);
    expect(many).toBeInstanceOf(Map);
    expect(many).toEqual(await real.CACHE.get(["text", "missing"]));
    expect(await kvGet(client, "CACHE", "json", "json")).toEqual({ a: [1, 2] });
  });

  it("put with expiration, expirationTtl and metadata; getWithMetadata; list; delete", async () => {
    const expiration = Math.floor(Date.now() / 1000) + 3600;
    await env.CACHE.put("meta/a", "1", { metadata: { owner: "a" }, expiration });
    await env.CACHE.put("meta/b", "2", { expirationTtl: 600 });
    await env.CACHE.put("meta/c", new Blob(["3"]).stream() as never);
    expect(await env.CACHE.getWithMetadata("meta/a")).toEqual(await real.CACHE.getWithMetadata("meta/a"));
    expect(await env.CACHE.getWithMetadata("meta/a")).toEqual({
      value: "1",
      metadata: { owner: "a" },
      cacheStatus: null,
    });
    expect(await env.CACHE.getWithMetadata("meta/b", "json")).toEqual({ value: 2, metadata: null, cacheStatus: null });
    expect(await env.CACHE.getWithMetadata(["meta/a", "meta/b"])).toEqual(
      await real.CACHE.getWithMetadata(["meta/a", "meta/b"]),
    );
    const listed = await env.CACHE.list({ prefix: "meta/" });
    expect(listed).toEqual(await real.CACHE.list({ prefix: "meta/" }));
    expect(listed).toMatchObject({ list_complete: true, cacheStatus: null });
    expect(listed.keys[0]).toEqual({ name: "meta/a", expiration, metadata: { owner: "a" } });
    const page = await env.CACHE.list({ prefix: "meta/", limit: 2 });
    expect(page.list_complete).toBe(false);
    const rest = await env.CACHE.list({ prefix: "meta/", cursor: page.list_complete ? undefined : page.cursor });
    expect(rest.keys.map((key) => key.name)).toEqual(["meta/c"]);
    await env.CACHE.delete("meta/a");
    expect(await env.CACHE.get("meta/a")).toBeNull();
    expect(real.CACHE.entries.has("meta/a")).toBe(false);
  });
});

describe("D1 over the command bus", () => {
  it("exec, prepare/bind/run/all/first/raw and batch give D1's result shapes", async () => {
    const exec = await env.DB.exec(
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, avatar BLOB)",
    );
    expect(exec).toEqual({ count: 1, duration: expect.any(Number) });

    const insert = env.DB.prepare("INSERT INTO users (name, score, avatar) VALUES (?, ?, ?)");
    const run = await insert.bind("ada", 9.5, new Uint8Array([1, 2, 3])).run();
    expect(run).toMatchObject({ success: true, results: [], meta: { changes: 1, last_row_id: 1, changed_db: true } });
    expect(Object.keys(run.meta)).toEqual(
      expect.arrayContaining([
        "duration",
        "size_after",
        "rows_read",
        "rows_written",
        "last_row_id",
        "changed_db",
        "changes",
      ]),
    );

    const batch = await env.DB.batch([
      insert.bind("grace", 8, null),
      insert.bind("linus", 7.25, null),
      env.DB.prepare("SELECT count(*) AS n FROM users"),
    ]);
    expect(batch).toHaveLength(3);
    expect(batch[2]).toMatchObject({ success: true, results: [{ n: 3 }] });

    const select = env.DB.prepare("SELECT id, name, score, avatar FROM users WHERE score > ? ORDER BY id");
    const all = await select.bind(7.5).all();
    expect(withoutTimings(all)).toEqual(
      withoutTimings(
        await real.DB.prepare("SELECT id, name, score, avatar FROM users WHERE score > ? ORDER BY id").bind(7.5).all(),
      ),
    );
    expect(all.results).toEqual([
      { id: 1, name: "ada", score: 9.5, avatar: [1, 2, 3] },
      { id: 2, name: "grace", score: 8, avatar: null },
    ]);
    expect(await select.bind(7.5).first()).toEqual({ id: 1, name: "ada", score: 9.5, avatar: [1, 2, 3] });
    expect(await select.bind(7.5).first("name")).toBe("ada");
    expect(await select.bind(100).first()).toBeNull();
    expect(await select.bind(7.5).raw()).toEqual([
      [1, "ada", 9.5, [1, 2, 3]],
      [2, "grace", 8, null],
    ]);
    expect(await select.bind(7.5).raw({ columnNames: true })).toEqual([
      ["id", "name", "score", "avatar"],
      [1, "ada", 9.5, [1, 2, 3]],
      [2, "grace", 8, null],
    ]);
    const helper = await d1Query<{ name: string }>(client, "DB", "SELECT name FROM users WHERE id = ?", [3]);
    expect(helper.results).toEqual([{ name: "linus" }]);
    const session = env.DB.withSession();
    expect(await session.prepare("SELECT count(*) AS n FROM users").first("n")).toBe(3);
    expect(session.getBookmark()).toBeNull();
  });

  it("rolls a failing batch back and surfaces D1's error message", async () => {
    await env.DB.exec("CREATE TABLE uniq (v TEXT UNIQUE)");
    const insert = env.DB.prepare("INSERT INTO uniq (v) VALUES (?)");
    const failure = await env.DB.batch([insert.bind("a"), insert.bind("a")]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CommandError);
    expect((failure as CommandError).code).toBe("INTERNAL");
    expect((failure as CommandError).message).toMatch(/UNIQUE constraint failed/);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM uniq").first("n")).toBe(0);
    await expect(env.DB.prepare("SELECT ?").bind(undefined).all()).rejects.toThrow(/D1_TYPE_ERROR/);
  });
});

describe("Queues over the command bus", () => {
  it("send and sendBatch deliver JSON, text and bytes bodies with options", async () => {
    const sent = await env.JOBS.send({ job: "resize", id: 7 }, { delaySeconds: 5 });
    expect(sent.metadata.metrics.backlogCount).toBe(1);
    expect(sent.metadata.metrics.oldestMessageTimestamp).toBeInstanceOf(Date);
    await env.JOBS.send("plain", { contentType: "text" });
    await env.JOBS.send(new Uint8Array([9, 8, 7]));
    const batch = await env.JOBS.sendBatch([{ body: { n: 1 } }, { body: { n: 2 }, delaySeconds: 1 }], {
      delaySeconds: 2,
    });
    expect(batch.metadata.metrics.backlogCount).toBe(5);
    await queueSend(client, "JOBS", { via: "helper" }, { contentType: "json" });
    expect(
      real.JOBS.messages.map((message) => ({
        ...message,
        body: message.body instanceof Uint8Array ? [...message.body] : message.body,
      })),
    ).toEqual([
      { body: { job: "resize", id: 7 }, delaySeconds: 5 },
      { body: "plain", contentType: "text" },
      { body: [9, 8, 7], contentType: "bytes" },
      { body: { n: 1 }, delaySeconds: 2 },
      { body: { n: 2 }, delaySeconds: 1 },
      { body: { via: "helper" }, contentType: "json" },
    ]);
  });
});

describe("R2 over the command bus", () => {
  it("put/head/get (body, range, onlyIf)/list/delete match the binding's objects", async () => {
    const cacheExpiry = new Date("2030-01-01T00:00:00.000Z");
    const put = await env.FILES.put("docs/a.txt", "hello r2", {
      httpMetadata: { contentType: "text/plain", cacheExpiry },
      customMetadata: { owner: "ada" },
    });
    expect(r2Shape(put)).toEqual(r2Shape((await real.FILES.head("docs/a.txt")) as unknown as R2Object));
    expect(put.httpMetadata).toEqual({ contentType: "text/plain", cacheExpiry });
    await env.FILES.put("docs/b.bin", new Uint8Array([1, 2, 3, 4, 5]).buffer);
    await env.FILES.put("docs/sub/c.txt", new Blob(["c"]) as never, {
      httpMetadata: new Headers({ "content-type": "text/x-c" }) as never,
    });
    await env.FILES.put("empty", null);

    const head = await env.FILES.head("docs/a.txt");
    expect(r2Shape(head)).toEqual(r2Shape((await real.FILES.head("docs/a.txt")) as unknown as R2Object));
    expect(await env.FILES.head("nope")).toBeNull();

    const object = (await env.FILES.get("docs/a.txt")) as R2ObjectBody;
    expect(r2Shape(object)).toMatchObject({ ...r2Shape(head), hasBody: true });
    expect(object.bodyUsed).toBe(false);
    expect(await object.text()).toBe("hello r2");
    expect(object.bodyUsed).toBe(true);
    await expect(object.arrayBuffer()).rejects.toThrow(TypeError);
    const headers = new Headers();
    object.writeHttpMetadata(headers as never);
    expect(headers.get("content-type")).toBe("text/plain");
    expect(headers.get("expires")).toBe(cacheExpiry.toUTCString());

    const ranged = (await env.FILES.get("docs/b.bin", { range: { offset: 1, length: 3 } })) as R2ObjectBody;
    expect([...new Uint8Array(await ranged.arrayBuffer())]).toEqual([2, 3, 4]);
    expect(ranged.range).toEqual({ offset: 1, length: 3 });
    const suffix = (await env.FILES.get("docs/b.bin", { range: { suffix: 2 } })) as R2ObjectBody;
    expect([...(await suffix.bytes())]).toEqual([4, 5]);
    const streamed = (await env.FILES.get("docs/b.bin")) as R2ObjectBody;
    expect([...new Uint8Array(await new Response(streamed.body as unknown as ReadableStream).arrayBuffer())]).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect(await ((await env.FILES.get("docs/sub/c.txt")) as R2ObjectBody).blob()).toMatchObject({ size: 1 });
    expect(await ((await env.FILES.get("empty")) as R2ObjectBody).text()).toBe("");

    const unmodified = await env.FILES.get("docs/a.txt", { onlyIf: { etagDoesNotMatch: head!.etag } });
    expect(unmodified).not.toBeNull();
    expect("body" in unmodified!).toBe(false);
    const conditional = await env.FILES.get("docs/a.txt", {
      onlyIf: new Headers({ "if-match": head!.httpEtag }) as never,
    });
    expect(await (conditional as R2ObjectBody).text()).toBe("hello r2");
    expect(await env.FILES.put("docs/a.txt", "overwrite", { onlyIf: { etagMatches: "not-the-etag" } })).toBeNull();
    expect(await env.FILES.put("docs/a.txt", "hello r2", { onlyIf: { uploadedAfter: new Date(0) } })).not.toBeNull();
    await expect(env.FILES.put("docs/a.txt", "x", { md5: new Uint8Array(16) })).rejects.toMatchObject({
      code: "INTERNAL",
    });

    const listed = await env.FILES.list({
      prefix: "docs/",
      delimiter: "/",
      include: ["httpMetadata", "customMetadata"],
    });
    const direct = await real.FILES.list({
      prefix: "docs/",
      delimiter: "/",
      include: ["httpMetadata", "customMetadata"],
    });
    expect(listed.objects.map(r2Shape)).toEqual(direct.objects.map((entry) => r2Shape(entry as unknown as R2Object)));
    expect(listed.delimitedPrefixes).toEqual(["docs/sub/"]);
    expect(listed.truncated).toBe(false);
    const page = await env.FILES.list({ limit: 1 });
    expect(page).toMatchObject({ truncated: true, cursor: "1" });

    await env.FILES.delete(["docs/a.txt", "docs/b.bin"]);
    await env.FILES.delete("empty");
    expect([...real.FILES.objects.keys()]).toEqual(["docs/sub/c.txt"]);
    await expect(env.FILES.createMultipartUpload("x")).rejects.toMatchObject({ code: "UNKNOWN_COMMAND" });
  });
});

describe("assets and vars over the command bus", () => {
  it("fetch returns the asset's Response: status, headers, bytes, conditional requests", async () => {
    const page = await env.ASSETS.fetch("http://example.invalid/index.html");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toBe("<h1>hello</h1>");
    const binary = await env.ASSETS.fetch(new Request("http://example.invalid/logo.bin") as never);
    expect([...new Uint8Array(await binary.arrayBuffer())]).toEqual([0, 1, 2, 254, 255]);
    const notModified = await fetchAsset(client, "ASSETS", "/index.html", {
      headers: { "if-none-match": page.headers.get("etag")! },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBeNull();
    const head = await env.ASSETS.fetch("/index.html", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await env.ASSETS.fetch("/nope")).status).toBe(404);
  });

  it("vars read as plain values after loadBindings, and through envGet", async () => {
    expect(await envGet(client, "GREETING")).toBe("hello from the host");
    await loadBindings(env);
    expect(env.GREETING).toBe("hello from the host");
    expect(Object.keys(env).sort()).toEqual(["ASSETS", "CACHE", "DB", "FILES", "GREETING", "JOBS"]);
  });
});

describe("binding names", () => {
  it("a binding the host does not offer is NO_BINDING, synchronously once kinds are known", async () => {
    const fresh = createBindings<Env>(client);
    await expect(fresh.SECRET_KV.get("k")).rejects.toMatchObject({
      code: "NO_BINDING",
      message: expect.stringContaining("no binding named SECRET_KV"),
    });
    expect(() => fresh.SECRET_KV).toThrow(/env\.SECRET_KV: no binding named SECRET_KV \(available: /);
    expect("SECRET_KV" in fresh).toBe(false);
    expect("CACHE" in fresh).toBe(true);
  });

  it("a binding outside the host's allowlist answers FORBIDDEN even when declared locally", async () => {
    real.SECRET_KV.entries.set("k", { value: new TextEncoder().encode("secret") });
    const declared = createBindings<Env>(client, { bindings: { SECRET_KV: "kv" } });
    const error = (await declared.SECRET_KV.get("k").catch((caught: unknown) => caught)) as CommandError;
    expect(error).toBeInstanceOf(CommandError);
    expect(error.code).toBe("FORBIDDEN");
    expect(error.message).toBe("kv.get: binding SECRET_KV is not allowed on this host");
    await expect(client.invoke("kv.get", { binding: "SECRET_KV", key: "k" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("handles wait for host.describe, then act by kind; kinds from CONTAINERFLARE_BINDINGS need no describe", async () => {
    const lazy = createBindings<Env>(client);
    const handle = lazy.CACHE;
    expect(await handle.get("text")).toBe("héllo");
    expect(await (lazy.DB as D1Database).prepare("SELECT 1 AS one").first("one")).toBe(1);
    const declared = createBindings<{ CACHE: KVNamespace }>(client, { bindings: { CACHE: "kv" } });
    expect(await declared.CACHE.get("text")).toBe("héllo");
    expect(() => (declared as unknown as Record<string, unknown>).OTHER).toThrow(
      /no binding named OTHER \(available: CACHE\)/,
    );
  });
});
