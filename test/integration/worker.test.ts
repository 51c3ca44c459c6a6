/**
 * containerflare/worker in workerd (Miniflare): the Worker forwards to an app served by serve()
 * with a signed metadata header the app verifies, and answers the app's command bus with real
 * Miniflare KV, D1 and Queue bindings, limited to its allowlist.
 */
import type { Miniflare } from "miniflare";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsola } from "consola";
import { serve, type ContainerServer } from "../../src/index.ts";
import { CommandError, envGet } from "../../src/command/index.ts";
import { bundleWorker, nodeImports } from "../../src/cli/dev/bundle.ts";
import { COMMANDS_ENTRYPOINT } from "../../src/cli/dev/miniflare.ts";
import { freePort } from "../../src/cli/dev/ports.ts";
import { signMetadata } from "../../src/metadata.ts";
import { containerRequest, requestMetadata, withContainerflare } from "../../src/worker/index.ts";

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
  const env = ctx.env as Record<string, any>;
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
        return Response.json({ greeting: await envGet(ctx.commands, "GREETING"), secret: await envGet(ctx.commands, "CONTAINERFLARE_SECRET").catch((e: CommandError) => e.code) });
      default:
        return Response.json({ request: ctx.request, platform: ctx.platform, headers: [...request.headers.keys()] });
    }
  } catch (error) {
    if (error instanceof CommandError) return Response.json({ code: error.code, message: error.message }, { status: 299 });
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
        headers: { "cf-connecting-ip": CLIENT_IP, "x-containerflare-metadata": forged, "x-containerflare-signature": "t=1,v1=00" },
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
      await fetch(`${appUrl}/meta`, { headers: { "x-containerflare-metadata": wrongKey.metadata, "x-containerflare-signature": wrongKey.signature } }),
    );
    expect(forgedSignature.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });

    const stale = await signMetadata(SECRET, { client_ip: "6.6.6.6" }, Date.now() - 10 * 60_000);
    const expired = await json(
      await fetch(`${appUrl}/meta`, { headers: { "x-containerflare-metadata": stale.metadata, "x-containerflare-signature": stale.signature } }),
    );
    expect(expired.request).toMatchObject({ source: "http", clientIp: "127.0.0.1" });
  });

  it("signed by the Worker is accepted once: a replay or a tampered copy is not trusted", async () => {
    const signed = await json<Record<string, string>>(await viaWorker("/__signed", { headers: { "cf-connecting-ip": CLIENT_IP } }));
    const headers = {
      "x-containerflare-metadata": signed["x-containerflare-metadata"]!,
      "x-containerflare-signature": signed["x-containerflare-signature"]!,
    };
    expect(headers["x-containerflare-signature"]).toMatch(/^t=\d+,v1=[\da-f]{64}$/);

    const tampered = headers["x-containerflare-metadata"].replace(CLIENT_IP, "6.6.6.6");
    expect(tampered).not.toBe(headers["x-containerflare-metadata"]);
    const changed = await json(await fetch(`${appUrl}/meta`, { headers: { ...headers, "x-containerflare-metadata": tampered } }));
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
      headers: { "cf-connecting-ip": CLIENT_IP, "cf-ray": "8c1f-FRA", "x-containerflare-metadata": "{}", "x-containerflare-signature": "t=1,v1=00" },
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
    expect(JSON.parse(header)).toMatchObject({ v: 1, ts: 1_780_000_000_000, client_ip: CLIENT_IP, request_id: "8c1f-FRA" });
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
    const result = await json<{ success: boolean; results: unknown[]; meta: Record<string, unknown> }>(await viaWorker("/d1"));
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
    expect(await json<unknown>(await viaWorker("/var"))).toEqual({ greeting: "hello from the Worker", secret: "NO_BINDING" });
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
    expect(new Wired({}, { CONTAINERFLARE_SECRET: "s3cret" }).envVars).toEqual({ LOG_LEVEL: "debug", CONTAINERFLARE_SECRET: "s3cret" });
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
