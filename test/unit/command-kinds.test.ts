/**
 * Service bindings and Durable Object namespaces over the command bus, against in-memory doubles:
 * over a unix socket (bodies inlined in the frames) and over HTTP v2 (bodies streamed raw both
 * ways, through a node:http server in front of `host.handle`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { DurableObjectNamespace, Fetcher } from "@cloudflare/workers-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandClient, CommandError, createBindings, createCommandClient } from "../../src/command/index.ts";
import { type CommandHost, createCommandHost } from "../../src/host/index.ts";
import { type CommandHostListener, listenCommandHost } from "../../src/host/node.ts";
import { chunked, sha256 } from "../fixtures/bindings/bytes.ts";
import {
  counterObject,
  echoService,
  MemoryAssets,
  MemoryDurableObjectNamespace,
  MemoryService,
  patternBytes,
} from "../fixtures/bindings/index.ts";

interface Env {
  API: Fetcher;
  NS: DurableObjectNamespace;
  OTHER: DurableObjectNamespace;
  ASSETS: Fetcher;
}

const real = {
  API: new MemoryService(echoService),
  NS: new MemoryDurableObjectNamespace(counterObject),
  OTHER: new MemoryDurableObjectNamespace(counterObject),
  ASSETS: new MemoryAssets({ "/a.txt": { body: "a", type: "text/plain" } }),
};

const directory = mkdtempSync(join(tmpdir(), "cf-kinds-"));
let host: CommandHost;
let listener: CommandHostListener;
let server: ReturnType<typeof createServer>;
/** Over a unix socket: bodies inlined. */
let socketClient: CommandClient;
/** Over HTTP v2: bodies streamed. */
let httpClient: CommandClient;

/** `host.handle` behind node:http, both bodies streamed through as they come. */
function serveHttp(commandHost: CommandHost) {
  return createServer(async (incoming, outgoing) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      for (const one of Array.isArray(value) ? value : [value ?? ""]) headers.append(name, one);
    }
    const answer = await commandHost.handle(
      new Request(`http://127.0.0.1${incoming.url}`, {
        method: incoming.method,
        headers,
        body: Readable.toWeb(incoming) as ReadableStream,
        duplex: "half",
      } as RequestInit),
    );
    outgoing.writeHead(answer.status, Object.fromEntries(answer.headers));
    if (answer.body) for await (const chunk of answer.body) outgoing.write(chunk);
    outgoing.end();
  });
}

beforeAll(async () => {
  host = createCommandHost({ bindings: real, allow: ["API", "NS", "OTHER", "ASSETS"] });
  listener = await listenCommandHost(host, `unix://${join(directory, "host.sock")}`);
  socketClient = createCommandClient({ endpoint: { kind: "unix", path: join(directory, "host.sock") } });
  server = serveHttp(host);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/commands`;
  httpClient = createCommandClient({ endpoint: { kind: "http", url }, timeoutMs: 20_000 });
});

afterAll(async () => {
  await socketClient.close();
  await httpClient.close();
  await listener.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(directory, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<CommandError> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    return error as CommandError;
  }
  throw new Error("expected a rejection");
}

describe("host.describe and detection", () => {
  it("tells a service binding (fetch and connect) from an assets binding (fetch alone) and a namespace", async () => {
    expect((await socketClient.describe()).bindings).toEqual({
      API: "service",
      NS: "durable_object",
      OTHER: "durable_object",
      ASSETS: "assets",
    });
  });
});

for (const [transport, client] of [
  ["unix socket", () => socketClient],
  ["HTTP v2", () => httpClient],
] as const) {
  describe(`service bindings over the ${transport}`, () => {
    it("carry method, URL, headers (repeated names kept) and body; answer status, statusText, headers", async () => {
      const env = createBindings<Env>(client(), { bindings: { API: "service" } });
      const response = await env.API.fetch("https://api.internal/echo?x=1", {
        method: "PATCH",
        headers: [
          ["x-one", "1"],
          ["accept", "text/plain"],
          ["accept", "application/json"],
        ],
        body: "héllo",
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-method")).toBe("PATCH");
      expect(response.headers.get("x-url")).toBe("https://api.internal/echo?x=1");
      expect(JSON.parse(response.headers.get("x-seen-headers")!)).toEqual([
        ["accept", "text/plain, application/json"],
        ["content-type", "text/plain;charset=UTF-8"],
        ["x-one", "1"],
      ]);
      expect(await response.text()).toBe("héllo");

      const status = await env.API.fetch(
        // The runtime's own Request, which workers-types' Request type does not describe.
        new Request("https://api.internal/status/418", { method: "DELETE" }) as never,
      );
      expect(status.status).toBe(418);
      expect(status.statusText).toBe("Custom 418");
      expect(status.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
      expect(await status.text()).toBe("status 418");
      const empty = await env.API.fetch("https://api.internal/status/204");
      expect([empty.status, empty.body]).toEqual([204, null]);
      const head = await env.API.fetch("https://api.internal/bytes/10", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe("");
      const redirect = await env.API.fetch("https://api.internal/redirect", { redirect: "manual" });
      expect([redirect.status, redirect.headers.get("location")]).toEqual([302, "/echo"]);
    });

    it("send bytes, a Request's body and a stream as the request body", async () => {
      const env = createBindings<Env>(client(), { bindings: { API: "service" } });
      const bytes = patternBytes(70_000);
      const fromBytes = await env.API.fetch("https://api.internal/echo", { method: "POST", body: bytes });
      expect(sha256(new Uint8Array(await fromBytes.arrayBuffer()))).toBe(sha256(bytes));
      const request = new Request("https://api.internal/echo", { method: "PUT", body: "from a Request" });
      expect(await (await env.API.fetch(request as never)).text()).toBe("from a Request");
      const stream = await env.API.fetch("https://api.internal/echo", {
        method: "POST",
        body: chunked(bytes) as never,
        duplex: "half",
      } as never);
      expect(sha256(new Uint8Array(await stream.arrayBuffer()))).toBe(sha256(bytes));
    });

    it("refuse relative URLs like Workers, and connect() and RPC calls with UNKNOWN_COMMAND", async () => {
      const env = createBindings<Env>(client(), { bindings: { API: "service" } });
      await expect(env.API.fetch("/echo")).rejects.toBeInstanceOf(TypeError);
      expect(() => env.API.connect("example.com:443")).toThrow(
        expect.objectContaining({ code: "UNKNOWN_COMMAND", message: expect.stringMatching(/^env\.API\.connect\(\)/) }),
      );
      const rpc = await rejection((env.API as unknown as { add(a: number): Promise<number> }).add(1));
      expect(rpc).toBeInstanceOf(CommandError);
      expect(rpc.code).toBe("UNKNOWN_COMMAND");
      expect(rpc.message).toBe("env.API.add(): RPC methods are not carried by the command bus; use env.API.fetch()");
      // Promise checks and serialisers see no RPC method.
      expect((env.API as unknown as { then?: unknown }).then).toBeUndefined();
    });
  });

  describe(`Durable Object namespaces over the ${transport}`, () => {
    it("idFromName: the same name reaches the same object; the hex is known once the host answered", async () => {
      const env = createBindings<Env>(client(), { bindings: { NS: "durable_object" } });
      const name = `counter-${transport}`;
      const id = env.NS.idFromName(name);
      expect(id.name).toBe(name);
      expect(() => id.toString()).toThrow(TypeError);
      expect(() => id.toString()).toThrow(/not known in the container yet/);
      const first = await env.NS.get(id).fetch("https://do/increment", { method: "POST" });
      expect(await first.json()).toEqual({ count: 1 });
      expect(first.headers.get("x-name")).toBe(name);
      expect(id.toString()).toBe(real.NS.idFromName(name).toString());
      expect(first.headers.get("x-id")).toBe(id.toString());
      // A second id of the same name: its hex is known at once, and it is the same object.
      const again = env.NS.idFromName(name);
      expect(again.toString()).toBe(id.toString());
      expect(again.equals(id)).toBe(true);
      expect(env.NS.idFromName("another").equals(id)).toBe(false);
      const second = await env.NS.get(again).fetch("https://do/increment", { method: "POST" });
      expect(await second.json()).toEqual({ count: 2 });
      const byName = env.NS.getByName(name);
      expect(byName.name).toBe(name);
      expect(await (await byName.fetch("https://do/")).json()).toEqual({ count: 2 });
    });

    it("newUniqueId: ids from a prefetched batch, refilled in the background; idFromString round-trips", async () => {
      const env = createBindings<Env>(client(), { bindings: { NS: "durable_object", OTHER: "durable_object" } });
      const id = env.NS.newUniqueId();
      expect(id.name).toBeUndefined();
      const stub = env.NS.get(id);
      expect(await (await stub.fetch("https://do/increment", { method: "POST" })).json()).toEqual({ count: 1 });
      const hex = id.toString();
      expect(hex).toMatch(/^[0-9a-f]{64}$/);
      // The batch is here: the next ids know their hex at once, and each is new.
      const more = [env.NS.newUniqueId(), env.NS.newUniqueId(), env.NS.newUniqueId()];
      const hexes = more.map((unique) => unique.toString());
      expect(new Set([hex, ...hexes]).size).toBe(4);
      expect(more[0]!.equals(id)).toBe(false);
      const parsed = env.NS.idFromString(hex);
      expect(parsed.name).toBeUndefined();
      expect(parsed.equals(id)).toBe(true);
      expect(await (await env.NS.get(parsed).fetch("https://do/")).json()).toEqual({ count: 1 });
      expect(() => env.NS.idFromString("not-an-id")).toThrow("Invalid Durable Object ID: must be 64 hex digits");
      // The form is checked at once, the namespace by the host when the id is used.
      const foreign = env.NS.idFromString(real.OTHER.newUniqueId().toString());
      const refused = await rejection(env.NS.get(foreign).fetch("https://do/"));
      expect(refused.code).toBe("INVALID_PAYLOAD");
      expect(refused.message).toMatch(/^durable_object\.fetch: id: Durable Object ID is not valid for this namespace/);
      expect(() => env.NS.get(env.OTHER.idFromName("x"))).toThrow("the id belongs to env.OTHER");
    });

    it("stubs carry fetch only: RPC methods and connect() answer UNKNOWN_COMMAND naming fetch()", async () => {
      const env = createBindings<Env>(client(), { bindings: { NS: "durable_object" } });
      const stub = env.NS.getByName("rpc") as unknown as { increment(): Promise<number>; then?: unknown };
      const error = await rejection(stub.increment());
      expect(error.code).toBe("UNKNOWN_COMMAND");
      expect(error.message).toBe(
        "env.NS.getByName(…).increment(): RPC methods are not carried by the command bus; use env.NS.getByName(…).fetch()",
      );
      expect(stub.then).toBeUndefined();
      expect(() => env.NS.get(env.NS.idFromName("x")).connect("a:1")).toThrow(
        expect.objectContaining({ code: "UNKNOWN_COMMAND" }),
      );
    });

    it("jurisdiction(): ids by name are made within it", async () => {
      const env = createBindings<Env>(client(), { bindings: { NS: "durable_object" } });
      const eu = env.NS.jurisdiction("eu").idFromName("j");
      expect(eu.jurisdiction).toBe("eu");
      expect(eu.equals(env.NS.idFromName("j"))).toBe(false);
      await env.NS.get(eu).fetch("https://do/increment", { method: "POST" });
      expect(eu.toString()).toBe(real.NS.jurisdiction("eu").idFromName("j").toString());
      expect(eu.toString()).not.toBe(real.NS.idFromName("j").toString());
    });
  });
}

describe("streamed bodies of service bindings and Durable Objects (HTTP v2)", () => {
  it("a body of several MiB goes out and comes back as a stream, both ways", async () => {
    const env = createBindings<Env>(httpClient, { bindings: { API: "service", NS: "durable_object" } });
    const bytes = patternBytes(24 * 1024 * 1024 + 3);
    const echoed = await env.API.fetch("https://api.internal/echo", {
      method: "POST",
      body: chunked(bytes) as never,
      duplex: "half",
    } as never);
    expect(sha256(new Uint8Array(await echoed.arrayBuffer()))).toBe(sha256(bytes));
    const generated = await env.API.fetch(`https://api.internal/bytes/${bytes.byteLength}`);
    expect(sha256(new Uint8Array(await generated.arrayBuffer()))).toBe(sha256(bytes));
    const object = await env.NS.getByName("big").fetch("https://do/echo", { method: "PUT", body: bytes });
    expect(sha256(new Uint8Array(await object.arrayBuffer()))).toBe(sha256(bytes));
  });

  it("on a stream transport a body above the frame limit fails with one clear error", async () => {
    const env = createBindings<Env>(socketClient, { bindings: { API: "service" } });
    const error = await rejection(
      env.API.fetch("https://api.internal/echo", { method: "POST", body: patternBytes(13 * 1024 * 1024) }),
    );
    expect(error.code).toBe("TOO_LARGE");
    expect(error.message).toMatch(/streamed bodies need the HTTP transport v2/);
  });
});

describe("before the kinds are known", () => {
  it("a handle makes ids and getByName stubs at once, sharing what the namespace knows", async () => {
    const client = createCommandClient({ endpoint: { kind: "unix", path: join(directory, "host.sock") } });
    try {
      const env = createBindings<Env>(client);
      const id = env.NS.idFromName("lazy");
      expect(id.name).toBe("lazy");
      const stub = env.NS.getByName("lazy");
      expect(await (await stub.fetch("https://do/increment", { method: "POST" })).json()).toEqual({ count: 1 });
      expect(id.toString()).toBe(real.NS.idFromName("lazy").toString());
      // get(id) answers the stub at once, like workerd's, though KV's and R2's get() are async.
      const byId = env.NS.get(env.NS.idFromName("lazy"));
      expect(byId).not.toBeInstanceOf(Promise);
      expect(await (await byId.fetch("https://do/increment", { method: "POST" })).json()).toEqual({ count: 2 });
    } finally {
      await client.close();
    }
  });
});
