/**
 * containerflare/worker in workerd (Miniflare): the Worker forwards to an app served by serve()
 * with a signed metadata header the app verifies, and answers the app's command bus with real
 * Miniflare KV, D1 and Queue bindings, limited to its allowlist.
 */

import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { D1Database, Fetcher, KVNamespace, Queue, R2Bucket } from "@cloudflare/workers-types";
import { createConsola } from "consola";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, nodeImports } from "../../src/cli/dev/bundle.ts";
import { COMMANDS_ENTRYPOINT } from "../../src/cli/dev/miniflare.ts";
import { freePort } from "../../src/cli/dev/ports.ts";
import { devBindings } from "../../src/cli/dev/wrangler.ts";
import { CommandError, envGet } from "../../src/command/index.ts";
import { type ContainerServer, serve } from "../../src/index.ts";
import { signMetadata } from "../../src/metadata.ts";
// The modules themselves: src/worker/index.ts imports cloudflare:workers, which exists in workerd only.
import { withContainerflare } from "../../src/worker/container.ts";
import { containerRequest } from "../../src/worker/forward.ts";
import { requestMetadata } from "../../src/worker/metadata-header.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/worker/", import.meta.url));
const SECRET = randomBytes(32).toString("hex");
const CLIENT_IP = "203.0.113.7";

interface Body {
  request: Record<string, unknown>;
  platform: Record<string, unknown>;
  headers: string[];
}

let miniflare: Miniflare;
let worker: URL;
let app: ContainerServer;
let appUrl: string;

/** The app behind the Worker: one route per thing the test checks. */
async function handler(request: Request, ctx: import("../../src/index.ts").ContainerContext): Promise<Response> {
  const { pathname } = new URL(request.url);
  const env = ctx.env as { CACHE: KVNamespace; DB: D1Database; JOBS: Queue; FILES: R2Bucket; ASSETS: Fetcher };
  try {
    switch (pathname) {
      case "/kv": {
        await env.CACHE.put("greeting", "hello", { metadata: { by: "app" } });
        await env.CACHE.put("object", JSON.stringify({ n: 1 }));
        return Response.json({
          text: await env.CACHE.get("greeting"),
          json: await env.CACHE.get("object", "json"),
          withMetadata: await env.CACHE.getWithMetadata("greeting"),
          missing: await env.CACHE.get("missing"),
        });
      }
      case "/d1": {
        await env.DB.prepare("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, price REAL)").run();
        await env.DB.prepare("INSERT INTO items (name, price) VALUES (?, ?)").bind("apple", 1.5).run();
        return Response.json(await env.DB.prepare("SELECT name, price FROM items WHERE name = ?").bind("apple").all());
      }
      case "/queue":
        await env.JOBS.send({ job: "resize", id: 7 });
        return Response.json({ sent: true });
      case "/forbidden":
        await ctx.commands.invoke("kv.get", { binding: "SECRET_KV", key: "token" });
        return Response.json({ leaked: true });
      case "/var":
        return Response.json({
          greeting: await envGet(ctx.commands, "GREETING"),
          secret: await envGet(ctx.commands, "CONTAINERFLARE_SECRET").catch((e: CommandError) => e.code),
        });
      default:
        return Response.json({ request: ctx.request, platform: ctx.platform, headers: [...request.headers.keys()] });
    }
  } catch (error) {
    if (error instanceof CommandError)
      return Response.json({ code: error.code, message: error.message }, { status: 299 });
    throw error;
  }
}

beforeAll(async () => {
  const { Miniflare } = await import("miniflare");
  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  miniflare = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    cf: false,
    modules: true,
    script: await bundleWorker(`${FIXTURES}worker.ts`),
    compatibilityDate: "2025-09-01",
    compatibilityFlags: ["enable_ctx_exports"],
    bindings: { APP_URL: appUrl, CONTAINERFLARE_SECRET: SECRET, GREETING: "hello from the Worker" },
    kvNamespaces: ["CACHE", "SECRET_KV", "RECEIVED"],
    d1Databases: ["DB"],
    queueProducers: { JOBS: "jobs" },
    queueConsumers: { jobs: { maxBatchTimeout: 0 } },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0, entrypoint: COMMANDS_ENTRYPOINT }],
  });
  worker = await miniflare.ready;
  const commands = new URL("/v1/commands", await miniflare.unsafeGetDirectURL(undefined, COMMANDS_ENTRYPOINT));
  app = serve(handler, {
    port: appPort,
    hostname: "127.0.0.1",
    manageProcess: false,
    fastResponse: false,
    logger: createConsola({ level: -999 }),
    env: { CLOUDFLARE_DEPLOYMENT_ID: "test", CONTAINERFLARE_SECRET: SECRET, CF_CMD_ENDPOINT: commands.href },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close(true);
  await miniflare?.dispose();
});

async function viaWorker(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, worker), init);
}

async function json<T = Body>(response: Response): Promise<T> {
  expect(response.headers.get("content-type")).toMatch(/json/);
  return (await response.json()) as T;
}

describe("forward(): the signed metadata header", () => {
  it("reaches the app verified, with the Worker's view of the request and without the headers", async () => {
    const forged = JSON.stringify({ client_ip: "6.6.6.6", country: "XX" });
    const body = await json(
      await viaWorker("/meta?x=1", {
        headers: {
          "cf-connecting-ip": CLIENT_IP,
          "x-containerflare-metadata": forged,
          "x-containerflare-signature": "t=1,v1=00",
        },
      }),
    );
    expect(body.request).toMatchObject({
      source: "worker",
      clientIp: CLIENT_IP,
      colo: "DFW",
      country: "US",
      city: "Austin",
      region: "Texas",
      method: "GET",
      // The Worker sends path and query (the Rust shim's meaning); ctx.request.path is the path alone.
      path: "/meta",
    });
    expect(body.request.url).toBe(new URL("/meta?x=1", worker).href);
    expect(body.request.id).toMatch(/^[\da-f-]{36}$/);
    expect(body.platform).toMatchObject({ kind: "cloudflare" });
    expect(body.headers).not.toContain("x-containerflare-metadata");
    expect(body.headers).not.toContain("x-containerflare-signature");
  });

  it("is not trusted when a client sends it straight to the app, unsigned or forged", async () => {
    const forged = JSON.stringify({ v: 1, client_ip: "6.6.6.6", request_id: "forged" });
    const unsigned = await json(await fetch(`${appUrl}/meta`, { headers: { "x-containerflare-metadata": forged } }));
    expect(unsigned.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });
    expect(unsigned.request.id).not.toBe("forged");

    const wrongKey = await signMetadata("not-the-secret", { client_ip: "6.6.6.6" });
    const forgedSignature = await json(
      await fetch(`${appUrl}/meta`, {
        headers: { "x-containerflare-metadata": wrongKey.metadata, "x-containerflare-signature": wrongKey.signature },
      }),
    );
    expect(forgedSignature.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });

    const stale = await signMetadata(SECRET, { client_ip: "6.6.6.6" }, Date.now() - 10 * 60_000);
    const expired = await json(
      await fetch(`${appUrl}/meta`, {
        headers: { "x-containerflare-metadata": stale.metadata, "x-containerflare-signature": stale.signature },
      }),
    );
    expect(expired.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });
  });

  it("signed by the Worker is accepted once: a replay or a tampered copy is not trusted", async () => {
    const signed = await json<Record<string, string>>(
      await viaWorker("/__signed", { headers: { "cf-connecting-ip": CLIENT_IP } }),
    );
    const headers = {
      "x-containerflare-metadata": signed["x-containerflare-metadata"]!,
      "x-containerflare-signature": signed["x-containerflare-signature"]!,
    };
    expect(headers["x-containerflare-signature"]).toMatch(/^t=\d+,v1=[\da-f]{64}$/);

    const tampered = headers["x-containerflare-metadata"].replace(CLIENT_IP, "6.6.6.6");
    expect(tampered).not.toBe(headers["x-containerflare-metadata"]);
    const changed = await json(
      await fetch(`${appUrl}/meta`, { headers: { ...headers, "x-containerflare-metadata": tampered } }),
    );
    expect(changed.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });

    const first = await json(await fetch(`${appUrl}/meta`, { headers }));
    expect(first.request).toMatchObject({ source: "worker", clientIp: CLIENT_IP });
    const replayed = await json(await fetch(`${appUrl}/meta`, { headers }));
    expect(replayed.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });
  });
});

describe("containerRequest()", () => {
  const incoming = () => {
    const request = new Request("https://shop.example/cart?item=7", {
      method: "POST",
      body: "payload",
      headers: {
        "cf-connecting-ip": CLIENT_IP,
        "cf-ray": "8c1f-FRA",
        "x-containerflare-metadata": "{}",
        "x-containerflare-signature": "t=1,v1=00",
      },
    });
    return Object.assign(request, { cf: { colo: "FRA", country: "DE", city: "Zürich", region: "Zurich" } });
  };

  it("builds the Rust shim's fields from request.cf and the request", () => {
    expect(requestMetadata(incoming(), { workerName: "edge" })).toEqual({
      request_id: "8c1f-FRA",
      colo: "FRA",
      country: "DE",
      city: "Zürich",
      region: "Zurich",
      client_ip: CLIENT_IP,
      host: "shop.example",
      scheme: "https",
      worker_name: "edge",
      method: "POST",
      path: "/cart?item=7",
      raw_url: "https://shop.example/cart?item=7",
    });
    const long = requestMetadata(new Request(`https://shop.example/${"a".repeat(3000)}`));
    expect(long.path).toBeUndefined();
    expect(long.raw_url).toBeUndefined();
    expect(long.request_id).toMatch(/^[\da-f-]{36}$/);
  });

  it("without a secret sends the header unsigned, replacing the client's; with a base re-roots the URL", async () => {
    const forwarded = await containerRequest(incoming(), {}, { now: 1_780_000_000_000 }, "http://127.0.0.1:9999");
    expect(forwarded.url).toBe("http://127.0.0.1:9999/cart?item=7");
    expect(forwarded.redirect).toBe("manual");
    expect(forwarded.method).toBe("POST");
    expect(await forwarded.text()).toBe("payload");
    expect(forwarded.headers.get("x-containerflare-signature")).toBeNull();
    const header = forwarded.headers.get("x-containerflare-metadata")!;
    expect(header).toContain("Z\\u00fcrich");
    expect(JSON.parse(header)).toMatchObject({
      v: 1,
      ts: 1_780_000_000_000,
      client_ip: CLIENT_IP,
      request_id: "8c1f-FRA",
    });
  });
});

describe("commandHandler(): the app's bindings are the Worker's", () => {
  it("KV put/get/getWithMetadata reach Miniflare's KV", async () => {
    const body = await json<Record<string, unknown>>(await viaWorker("/kv"));
    expect(body).toEqual({
      text: "hello",
      json: { n: 1 },
      withMetadata: { value: "hello", metadata: { by: "app" }, cacheStatus: null },
      missing: null,
    });
    const kv = (await miniflare.getKVNamespace("CACHE")) as unknown as { get(key: string): Promise<string | null> };
    expect(await kv.get("greeting")).toBe("hello");
  });

  it("D1 prepare().bind().all() answers a D1Result", async () => {
    const result = await json<{ success: boolean; results: unknown[]; meta: Record<string, unknown> }>(
      await viaWorker("/d1"),
    );
    expect(result.success).toBe(true);
    expect(result.results[0]).toEqual({ name: "apple", price: 1.5 });
    expect(result.meta).toMatchObject({ rows_read: expect.any(Number), changes: 0 });
  });

  it("Queue send delivers the message to the queue's consumer", async () => {
    expect(await json<unknown>(await viaWorker("/queue"))).toEqual({ sent: true });
    const received = (await miniflare.getKVNamespace("RECEIVED")) as unknown as {
      list(): Promise<{ keys: { name: string }[] }>;
      get(key: string): Promise<string | null>;
    };
    let keys: { name: string }[] = [];
    for (let attempt = 0; attempt < 50 && keys.length === 0; attempt++) {
      keys = (await received.list()).keys;
      if (keys.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(keys).toHaveLength(1);
    expect(JSON.parse((await received.get(keys[0]!.name))!)).toEqual({ job: "resize", id: 7 });
  });

  it("a binding outside the allowlist is FORBIDDEN; only listed vars are readable", async () => {
    const forbidden = await viaWorker("/forbidden");
    expect(forbidden.status).toBe(299);
    expect(await forbidden.json()).toMatchObject({ code: "FORBIDDEN", message: expect.stringContaining("SECRET_KV") });
    // Vars not listed (the secret above all) do not exist for the app.
    expect(await json<unknown>(await viaWorker("/var"))).toEqual({
      greeting: "hello from the Worker",
      secret: "NO_BINDING",
    });
  });
});

describe("withContainerflare()", () => {
  it("registers the command host for containerflare.internal, reached through ContainerProxy", async () => {
    const frame = (id: number, binding: string) =>
      JSON.stringify({ v: 1, id, command: "kv.get", payload: { binding, key: "greeting" } });
    const allowed = await viaWorker("/__outbound", { method: "POST", body: frame(1, "CACHE") });
    expect(await allowed.json()).toEqual({ v: 1, id: 1, ok: true, payload: { value: "hello" } });
    const denied = await viaWorker("/__outbound", { method: "POST", body: frame(2, "SECRET_KV") });
    expect(await denied.json()).toMatchObject({ v: 1, id: 2, ok: false, error: { code: "FORBIDDEN" } });
  });

  it("passes CONTAINERFLARE_SECRET to the container through envVars, after the class's own fields", () => {
    // A class with the two members withContainerflare touches; @cloudflare/containers' Container
    // needs workerd with containers enabled, which Miniflare does not run.
    class Base {
      static outboundByHost: Record<string, () => Response> | undefined = { "api.internal": () => new Response("api") };
      envVars: Record<string, string> | undefined = {};
      constructor(
        readonly ctx: unknown,
        readonly env: unknown,
      ) {}
    }
    class Sidecar extends Base {
      override envVars = { LOG_LEVEL: "debug" };
    }
    const Wired = withContainerflare(Sidecar, { allow: ["CACHE"] });
    expect(Wired.name).toBe("Sidecar");
    expect(Object.keys(Wired.outboundByHost!)).toEqual(["api.internal", "containerflare.internal"]);
    expect(new Wired({}, { CONTAINERFLARE_SECRET: "s3cret" }).envVars).toEqual({
      LOG_LEVEL: "debug",
      CONTAINERFLARE_SECRET: "s3cret",
    });
    expect(new Wired({}, {}).envVars).toEqual({ LOG_LEVEL: "debug" });
    expect(() => withContainerflare(Sidecar, {} as never)).toThrow(/options\.allow/);
  });
});

describe("containerflare/worker in workerd", () => {
  it("imports no Node built-in anywhere in its module graph", async () => {
    const { build } = await import("esbuild");
    const entry = fileURLToPath(new URL("../../src/worker/index.ts", import.meta.url));
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "browser", "import"],
      // workerd's own modules (ContainerflareHost extends cloudflare:workers' WorkerEntrypoint).
      external: ["cloudflare:*"],
      metafile: true,
      logLevel: "silent",
    });
    expect(nodeImports(result.metafile)).toEqual([]);
    expect(Object.keys(result.metafile.inputs).some((file) => file.includes("src/host/"))).toBe(true);
  });

  it("the dev bundler refuses a Worker that imports a Node built-in", async () => {
    await expect(bundleWorker(`${FIXTURES}uses-node.ts`)).rejects.toThrow(/must not use Node built-ins: .*node:fs/);
  });
});

describe("the dev Worker (containerflare dev) in workerd", () => {
  const devSecret = randomBytes(32).toString("hex");
  const WAIT_MS = 3_000;
  let dev: import("../../src/cli/dev/miniflare.ts").DevWorker;
  let states: import("../../src/cli/dev/app-state.ts").AppStatePusher;
  let stateUrl: URL;
  let server: import("node:http").Server;
  let received = 0;
  let persist: string;
  /** What the app does with a request to `/drop`: nothing more than closing the connection, by default. */
  let beforeDrop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const { createServer } = await import("node:http");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { startDevWorker } = await import("../../src/cli/dev/miniflare.ts");
    const { APP_STATE_PATH, createAppStatePusher } = await import("../../src/cli/dev/app-state.ts");
    // The app: counts every request it receives; `/drop` reads the body, then closes the connection
    // without answering, as an app that crashes in its handler does.
    server = createServer(async (request, response) => {
      received++;
      let bytes = 0;
      for await (const chunk of request) bytes += (chunk as Buffer).length;
      if (request.url === "/drop") {
        await beforeDrop();
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ bytes }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as import("node:net").AddressInfo).port;
    persist = mkdtempSync(`${tmpdir()}/containerflare-dev-worker-`);
    dev = await startDevWorker({
      bindings: devBindings({ kv_namespaces: [{ binding: "CACHE", id: "cache" }] }, "/"),
      script: await bundleWorker(),
      host: "127.0.0.1",
      port: 0,
      persist,
      secret: devSecret,
      settings: { appUrl: `http://127.0.0.1:${port}`, allow: ["CACHE"], vars: [], waitMs: WAIT_MS },
    });
    stateUrl = new URL(APP_STATE_PATH, dev.commandsUrl);
    states = createAppStatePusher({ url: stateUrl, secret: devSecret, logger: createConsola({ level: -999 }) });
  });

  afterAll(async () => {
    await dev?.dispose();
    await new Promise((resolve) => server?.close(resolve));
    if (persist) (await import("node:fs")).rmSync(persist, { recursive: true, force: true });
  });

  async function setState(change: import("../../src/cli/dev/app-state.ts").AppStatus): Promise<void> {
    states.push(change);
    await states.flush();
  }

  const viaDev = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, dev.url), { ...init, signal: AbortSignal.timeout(20_000) });

  it("takes the app's state only signed with the dev secret", async () => {
    await setState({ status: "up" });
    const forged = JSON.stringify({ seq: 1_000, status: "down", reason: "forged" });
    const unsigned = await fetch(stateUrl, {
      method: "POST",
      body: forged,
      headers: { "content-type": "application/json" },
    });
    expect(unsigned.status).toBe(401);
    const before = received;
    expect((await viaDev("/")).status).toBe(200);
    expect(received).toBe(before + 1);
  });

  it("answers 502 at once with the reason while the app is down; nothing reaches the app", async () => {
    await setState({ status: "down", reason: "the app exited with code 1 (restarting in 250ms)" });
    const before = received;
    const started = Date.now();
    const answer = await viaDev("/", { method: "POST", body: "not for a dead app" });
    expect(Date.now() - started).toBeLessThan(WAIT_MS);
    expect(answer.status).toBe(502);
    expect(await answer.json()).toEqual({
      error: { code: "UNAVAILABLE", message: "the app exited with code 1 (restarting in 250ms)", retryable: true },
    });
    expect(received).toBe(before);
  });

  it("holds a request while the app starts and sends it once it is up; 502 when it never comes up", async () => {
    await setState({ status: "starting" });
    const before = received;
    let settled = false;
    const pending = viaDev("/", { method: "POST", body: "x".repeat(100_000) }).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(received).toBe(before);
    await setState({ status: "up" });
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ bytes: 100_000 });
    expect(received).toBe(before + 1);

    await setState({ status: "starting" });
    const late = await viaDev("/");
    expect(late.status).toBe(502);
    expect(((await late.json()) as { error: { message: string } }).error.message).toMatch(
      /^the app is still starting after 3s/,
    );
    expect(received).toBe(before + 1);
    await setState({ status: "up" });
  });

  it("never resends a request the app received: one delivery, then 502 naming the exit the CLI reported", async () => {
    await setState({ status: "up" });
    const before = received;
    const dropped = await viaDev("/drop", { method: "POST", body: "run me once" });
    expect(dropped.status).toBe(502);
    expect(((await dropped.json()) as { error: { message: string } }).error.message).toMatch(
      /^the app closed the connection without answering/,
    );
    expect(received).toBe(before + 1);

    // The app goes away and the CLI reports its exit, as when a handler calls process.exit(1).
    beforeDrop = () => setState({ status: "down", reason: "the app exited with code 1 (restarting in 250ms)" });
    const crashed = await viaDev("/drop", { method: "POST", body: "run me once too" });
    beforeDrop = async () => {};
    expect(crashed.status).toBe(502);
    expect(((await crashed.json()) as { error: unknown }).error).toEqual({
      code: "UNAVAILABLE",
      message: "the app exited with code 1 (restarting in 250ms)",
      retryable: true,
    });
    expect(received).toBe(before + 2);
    await setState({ status: "up" });
  });

  it("answers on its commands socket only signed requests that no browser sent, each once", async () => {
    const { REQUEST_SIGNATURE_HEADER, signCommandRequest } = await import("../../src/request-signature.ts");
    const kv = (await dev.miniflare.getKVNamespace("CACHE")) as unknown as {
      get(key: string): Promise<string | null>;
      put(key: string, value: string): Promise<void>;
    };
    await kv.put("k", "before");
    const endpoint = dev.commandsUrl;
    const frame = (id: number, value: string) =>
      new TextEncoder().encode(
        JSON.stringify({ v: 1, id, command: "kv.put", payload: { binding: "CACHE", key: "k", value } }),
      );
    const sign = (body: Uint8Array) => signCommandRequest(devSecret, { method: "POST", path: endpoint.pathname, body });

    const unsigned = await fetch(endpoint, {
      method: "POST",
      body: frame(1, "unsigned"),
      headers: { "content-type": "text/plain" },
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ v: 1, id: 1, ok: false, error: { code: "FORBIDDEN" } });

    const wrongSecret = frame(2, "wrong secret");
    const forged = await fetch(endpoint, {
      method: "POST",
      body: wrongSecret,
      headers: {
        [REQUEST_SIGNATURE_HEADER]: await signCommandRequest("guessed", {
          method: "POST",
          path: endpoint.pathname,
          body: wrongSecret,
        }),
      },
    });
    expect(forged.status).toBe(401);

    const fromPage = frame(3, "from a page");
    const browser = await fetch(endpoint, {
      method: "POST",
      body: fromPage,
      headers: { origin: "http://evil.example", [REQUEST_SIGNATURE_HEADER]: await sign(fromPage) },
    });
    expect(browser.status).toBe(403);
    expect(await kv.get("k")).toBe("before");

    const signed = frame(4, "signed");
    const headers = { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: await sign(signed) };
    const accepted = await fetch(endpoint, { method: "POST", body: signed, headers });
    expect(await accepted.json()).toEqual({ v: 1, id: 4, ok: true, payload: null });
    expect(await kv.get("k")).toBe("signed");
    await kv.put("k", "after");
    const replayed = await fetch(endpoint, { method: "POST", body: signed, headers });
    expect(replayed.status).toBe(401);
    expect(await kv.get("k")).toBe("after");
  });
});
