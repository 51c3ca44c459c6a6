/**
 * The Worker's public command route (`POST /__containerflare/v1/commands`, src/worker/remote-route.ts)
 * in workerd (Miniflare): an app with a Cloud Run environment whose `CF_CMD_ENDPOINT` is the route
 * uses the Worker's real KV, D1, Queue and R2; requests that are unsigned, tampered with, stale,
 * replayed, keyed with another secret or sent by a browser are refused before any binding is
 * touched (the KV is read back to prove it).
 */

import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { fileURLToPath } from "node:url";
import { createConsola } from "consola";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../src/cli/dev/bundle.ts";
import { freePort } from "../../src/cli/dev/ports.ts";
import { type App, type ContainerServer, serve } from "../../src/index.ts";
import { sleep } from "../../src/internal/sleep.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../src/request-signature.ts";
import { REMOTE_COMMAND_PATH } from "../../src/worker/remote-route.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/remote/", import.meta.url));
const SECRET = randomBytes(32).toString("hex");
const ONLY_SECRET = randomBytes(32).toString("hex");

let miniflare: Miniflare;
/** The Worker with `forwardTo("APP", { remoteCommands })`. */
let worker: URL;
/** The same Worker without CONTAINERFLARE_SECRET (nor ONLY_SECRET). */
let unkeyed: URL;
/** Its bindings-only entrypoint, whose secret function finds nothing. */
let unkeyedOnly: URL;
/** The bindings-only Worker (its own secret). */
let only: URL;
let cloudRun: ContainerServer;
let cloudRunUrl: string;

interface Kv {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
}
let kv: Kv;
/** test/fixtures/remote/app.mjs: the app both clouds run. */
let app: App;

beforeAll(async () => {
  const { Miniflare } = await import("miniflare");
  app = ((await import(`${FIXTURES}app.mjs`)) as { default: App }).default;
  const script = await bundleWorker(`${FIXTURES}worker.ts`);
  const shared = {
    modules: true,
    script,
    compatibilityDate: "2025-09-01",
    kvNamespaces: { CACHE: "cache", SECRET_KV: "secret-kv", RECEIVED: "received" },
    d1Databases: { DB: "db" },
    r2Buckets: { FILES: "files" },
    queueProducers: { JOBS: "jobs" },
    durableObjects: { APP: "FakeContainer" },
  };
  miniflare = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    cf: false,
    workers: [
      {
        name: "main",
        ...shared,
        bindings: { CONTAINERFLARE_SECRET: SECRET, ONLY_SECRET, GREETING: "hello from the Worker" },
        queueConsumers: { jobs: { maxBatchTimeout: 0 } },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: 0, entrypoint: "bindingsOnly" }],
      },
      {
        name: "unkeyed",
        ...shared,
        unsafeDirectSockets: [
          { host: "127.0.0.1", port: 0 },
          { host: "127.0.0.1", port: 0, entrypoint: "bindingsOnly" },
        ],
      },
    ],
  });
  worker = await miniflare.ready;
  only = await miniflare.unsafeGetDirectURL("main", "bindingsOnly");
  unkeyed = await miniflare.unsafeGetDirectURL("unkeyed");
  unkeyedOnly = await miniflare.unsafeGetDirectURL("unkeyed", "bindingsOnly");
  kv = (await miniflare.getKVNamespace("CACHE", "main")) as unknown as Kv;

  // The identical app code, started as Cloud Run starts it, pointed at the Worker's route.
  const port = await freePort();
  cloudRunUrl = `http://127.0.0.1:${port}`;
  cloudRun = serve(app, {
    port,
    hostname: "127.0.0.1",
    manageProcess: false,
    fastResponse: false,
    logger: createConsola({ level: -999 }),
    env: {
      K_SERVICE: "remote-test",
      K_REVISION: "remote-test-00001",
      CF_CMD_ENDPOINT: new URL(REMOTE_COMMAND_PATH, worker).href,
      CONTAINERFLARE_SECRET: SECRET,
    },
  });
  await cloudRun.ready();
});

afterAll(async () => {
  await cloudRun?.close(true);
  await miniflare?.dispose();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: any };

/** A request with exactly these headers (Node's fetch would add and replace some). */
function raw(url: URL | string, method: string, headers: Record<string, string>, body?: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      // A connection per request: a refusal may come before the body was read, and workerd then
      // closes the connection, which a kept-alive socket would only find out on the next request.
      {
        method,
        headers: { ...headers, "content-length": String(body?.byteLength ?? 0) },
        timeout: 20_000,
        agent: false,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: kept as text.
          }
          resolve({ status: incoming.statusCode!, headers: incoming.headers, body: parsed });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 20 s")));
    outgoing.end(body);
  });
}

const encoder = new TextEncoder();
let nextId = 100;

/** A `kv.put` request frame for `CACHE` (or `binding`). */
function kvPut(key: string, value: string, binding = "CACHE"): Uint8Array {
  return encoder.encode(JSON.stringify({ v: 1, id: nextId++, command: "kv.put", payload: { binding, key, value } }));
}

/** Sends `body` to the route of `base`, signed with `secret` over `signed` (default: what is sent). */
async function signedPost(
  base: URL,
  body: Uint8Array,
  options: {
    secret?: string;
    signed?: Partial<{ method: string; path: string; body: Uint8Array }>;
    now?: number;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer & { signature: string }> {
  const signature = await signCommandRequest(options.secret ?? SECRET, {
    method: options.signed?.method ?? "POST",
    path: options.signed?.path ?? REMOTE_COMMAND_PATH,
    body: options.signed?.body ?? body,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const answer = await raw(
    new URL(REMOTE_COMMAND_PATH, base),
    "POST",
    { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: signature, ...options.headers },
    body,
  );
  return { ...answer, signature };
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
async function viaCloudRun(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${cloudRunUrl}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  return {
    status: response.status,
    body: response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
  };
}

describe("an app on Cloud Run with CF_CMD_ENDPOINT at the Worker's route", () => {
  it("reads and writes the Worker's KV, D1, Queue and R2 with the same code", async () => {
    expect(await viaCloudRun("/")).toEqual({ status: 200, body: { platform: "cloud-run" } });

    await kv.put("from-worker", "written in the Worker");
    expect(await viaCloudRun("/kv/from-worker")).toEqual({ status: 200, body: { value: "written in the Worker" } });
    expect(await viaCloudRun("/kv/from-cloud-run", { method: "PUT", body: "written on Cloud Run" })).toEqual({
      status: 200,
      body: { stored: "from-cloud-run" },
    });
    expect(await kv.get("from-cloud-run")).toBe("written on Cloud Run");

    expect((await viaCloudRun("/d1", { method: "POST", body: "first" })).body).toEqual({ notes: ["first"] });
    expect((await viaCloudRun("/d1", { method: "POST", body: "second" })).body).toEqual({ notes: ["first", "second"] });
    const db = (await miniflare.getD1Database("DB", "main")) as unknown as {
      prepare(sql: string): { all(): Promise<{ results: { text: string }[] }> };
    };
    expect((await db.prepare("SELECT text FROM notes ORDER BY id").all()).results.map((row) => row.text)).toEqual([
      "first",
      "second",
    ]);

    const bytes = randomBytes(64 * 1024);
    expect(
      await viaCloudRun("/r2/blob.bin", {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "application/x-test" },
      }),
    ).toEqual({ status: 200, body: { stored: "blob.bin", size: bytes.byteLength } });
    const back = await fetch(`${cloudRunUrl}/r2/blob.bin`);
    expect(back.headers.get("content-type")).toBe("application/x-test");
    expect(Buffer.from(await back.arrayBuffer()).equals(bytes)).toBe(true);
    const bucket = (await miniflare.getR2Bucket("FILES", "main")) as unknown as {
      get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
    };
    expect(Buffer.from(await (await bucket.get("blob.bin"))!.arrayBuffer()).equals(bytes)).toBe(true);

    expect(await viaCloudRun("/queue", { method: "POST", body: JSON.stringify({ job: "from Cloud Run" }) })).toEqual({
      status: 202,
      body: { queued: true },
    });
    const received = (await miniflare.getKVNamespace("RECEIVED", "main")) as unknown as {
      list(): Promise<{ keys: { name: string }[] }>;
      get(key: string): Promise<string | null>;
    };
    const deadline = Date.now() + 10_000;
    let bodies: string[] = [];
    while (Date.now() < deadline && bodies.length === 0) {
      const { keys } = await received.list();
      bodies = (await Promise.all(keys.map((key) => received.get(key.name)))).filter((body) => body !== null);
      if (bodies.length === 0) await sleep(100);
    }
    expect(bodies).toEqual([JSON.stringify({ job: "from Cloud Run" })]);
  });

  it("carries an R2 object above the 16 MiB frame limit both ways (streamed, signed over the frame line)", async () => {
    const bytes = randomBytes(24 * 1024 * 1024);
    expect(await viaCloudRun("/r2/large.bin", { method: "PUT", body: bytes })).toEqual({
      status: 200,
      body: { stored: "large.bin", size: bytes.byteLength },
    });
    const back = Buffer.from(await (await fetch(`${cloudRunUrl}/r2/large.bin`)).arrayBuffer());
    expect(back.byteLength).toBe(bytes.byteLength);
    expect(back.equals(bytes)).toBe(true);
  }, 60_000);

  it("is held to the allowlist: a binding the route does not list answers FORBIDDEN", async () => {
    const answer = await signedPost(worker, kvPut("token", "leaked", "SECRET_KV"));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const secretKv = (await miniflare.getKVNamespace("SECRET_KV", "main")) as unknown as Kv;
    expect(await secretKv.get("token")).toBeNull();
  });
});

describe("the route refuses what the secret's holder did not send, and touches no binding", () => {
  const KEY = "guarded";
  beforeAll(async () => {
    await kv.put(KEY, "untouched");
  });
  const unchanged = async () => expect(await kv.get(KEY)).toBe("untouched");

  it("answers a signed request", async () => {
    const answer = await signedPost(worker, kvPut("signed", "by the holder"));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ v: 1, ok: true, payload: null });
    expect(await kv.get("signed")).toBe("by the holder");
  });

  it("unsigned: 401", async () => {
    const answer = await raw(
      new URL(REMOTE_COMMAND_PATH, worker),
      "POST",
      { "content-type": "application/json" },
      kvPut(KEY, "unsigned"),
    );
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN", message: expect.stringContaining("unsigned") },
    });
    await unchanged();
  });

  it("malformed signature: 401", async () => {
    const answer = await raw(
      new URL(REMOTE_COMMAND_PATH, worker),
      "POST",
      { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: "t=1,v1=00" },
      kvPut(KEY, "malformed"),
    );
    expect(answer.status).toBe(401);
    await unchanged();
  });

  it("tampered body (signed one value, sent another): 401", async () => {
    const answer = await signedPost(worker, kvPut(KEY, "tampered"), { signed: { body: kvPut(KEY, "harmless") } });
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toContain("bad-signature");
    await unchanged();
  });

  it("signed for another path or method: 401", async () => {
    for (const signed of [{ path: "/v1/commands" }, { method: "PUT" }]) {
      const answer = await signedPost(worker, kvPut(KEY, "elsewhere"), { signed });
      expect(answer.status, JSON.stringify(signed)).toBe(401);
    }
    await unchanged();
  });

  it("stale or future timestamp (beyond 300 s): 401", async () => {
    for (const now of [Date.now() - 301_000, Date.now() + 301_000]) {
      const answer = await signedPost(worker, kvPut(KEY, "stale"), { now });
      expect(answer.status).toBe(401);
      expect(answer.body.error.message).toContain("expired");
    }
    await unchanged();
  });

  it("replayed: the first is answered, the same request again 401", async () => {
    const body = kvPut("replay", "once");
    const first = await signedPost(worker, body);
    expect(first.status).toBe(200);
    expect(await kv.get("replay")).toBe("once");
    await kv.put("replay", "changed since");
    const again = await raw(
      new URL(REMOTE_COMMAND_PATH, worker),
      "POST",
      { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: first.signature },
      body,
    );
    expect(again.status).toBe(401);
    expect(again.body.error.message).toContain("replayed");
    expect(await kv.get("replay")).toBe("changed since");
  });

  it("signed with another secret: 401", async () => {
    const answer = await signedPost(worker, kvPut(KEY, "wrong key"), { secret: randomBytes(32).toString("hex") });
    expect(answer.status).toBe(401);
    await unchanged();
  });

  it("sent by a browser (Origin, Sec-Fetch-*), even signed: 403", async () => {
    const browsers: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-dest": "empty" },
    ];
    for (const headers of browsers) {
      const answer = await signedPost(worker, kvPut(KEY, "from a page"), { headers });
      expect(answer.status, JSON.stringify(headers)).toBe(403);
      expect(answer.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    }
    await unchanged();
  });

  it("a Worker without CONTAINERFLARE_SECRET (or the secret its function reads) refuses every request: 401", async () => {
    const answer = await signedPost(unkeyed, kvPut(KEY, "no secret"));
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toContain("no CONTAINERFLARE_SECRET");
    const viaFunction = await signedPost(unkeyedOnly, kvPut(KEY, "no secret"), { secret: ONLY_SECRET });
    expect(viaFunction.status).toBe(401);
    expect(viaFunction.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    await unchanged();
  });

  it("plain http:// off loopback: 403, even signed", async () => {
    for (const host of ["worker.example", "127.0.0.1.example", "10.0.0.7:8787"]) {
      const answer = await signedPost(worker, kvPut(KEY, "in clear"), { headers: { host } });
      expect(answer.status, host).toBe(403);
      expect(answer.body.error.message).toContain("https:// only");
    }
    await unchanged();
  });

  it("an app with the wrong secret gets FORBIDDEN from its bindings", async () => {
    const port = await freePort();
    const wrong = serve(app, {
      port,
      hostname: "127.0.0.1",
      manageProcess: false,
      fastResponse: false,
      logger: createConsola({ level: -999 }),
      env: {
        K_SERVICE: "remote-test",
        CF_CMD_ENDPOINT: new URL(REMOTE_COMMAND_PATH, worker).href,
        CONTAINERFLARE_SECRET: "not the Worker's secret",
      },
    });
    try {
      await wrong.ready();
      const response = await fetch(`http://127.0.0.1:${port}/kv/${KEY}`, { method: "PUT", body: "wrong" });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: "FORBIDDEN" });
    } finally {
      await wrong.close(true);
    }
    await unchanged();
  });
});

describe("forwardTo(…, { remoteCommands }) and the bindings-only Worker", () => {
  it("forwards every other path, and the route's path for nothing but the route", async () => {
    const other = await raw(new URL("/__containerflare/v1/other", worker), "POST", {}, encoder.encode("x"));
    expect(other).toMatchObject({ status: 200, body: { container: true, path: "/__containerflare/v1/other" } });
    const root = await raw(new URL("/", worker), "GET", {});
    expect(root).toMatchObject({ status: 200, body: { container: true, path: "/" } });
    // The route's path never reaches the container, whatever the method.
    const get = await raw(new URL(REMOTE_COMMAND_PATH, worker), "GET", {});
    expect(get.status).toBe(401);
    expect(get.body.container).toBeUndefined();
  });

  it("a signed GET is refused by the host (405), not forwarded", async () => {
    const signature = await signCommandRequest(SECRET, {
      method: "GET",
      path: REMOTE_COMMAND_PATH,
      body: new Uint8Array(),
    });
    const answer = await raw(new URL(REMOTE_COMMAND_PATH, worker), "GET", { [REQUEST_SIGNATURE_HEADER]: signature });
    expect(answer.status).toBe(405);
  });

  it("the bindings-only Worker verifies with the secret its function reads, and answers 404 elsewhere", async () => {
    expect((await signedPost(only, kvPut("only", "with the Worker's secret"))).status).toBe(401);
    const answer = await signedPost(only, kvPut("only", "with its own secret"), { secret: ONLY_SECRET });
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
    expect(await kv.get("only")).toBe("with its own secret");
    const elsewhere = await raw(new URL("/", only), "GET", {});
    expect(elsewhere.status).toBe(404);
  });
});
