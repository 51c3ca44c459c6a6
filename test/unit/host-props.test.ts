/**
 * ContainerflareHost's props (src/worker/host-props.ts) and the answer of a host whose props are
 * invalid (src/worker/host-refusal.ts), in Node: the entrypoint class itself needs workerd
 * (test/integration/host-entrypoint.test.ts). A real command client talks to the handler over
 * node:http, so what the app sees is what it sees in production.
 */
import type { KVNamespace } from "@cloudflare/workers-types";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CommandError, createBindings, createCommandClient, envGet } from "../../src/command/index.ts";
import { createRequestVerifier, REQUEST_SIGNATURE_HEADER } from "../../src/request-signature.ts";
import {
  commandHostForProps,
  HOST_PROPS_CACHE_SIZE,
  type HostPropsCache,
  hostPropsProblem,
} from "../../src/worker/host-props.ts";
import { KEEPALIVE_PATH } from "../../src/worker/keep-alive.ts";
import { memoryBindings } from "../fixtures/bindings/index.ts";
import { serveHttpHost } from "../fixtures/command/http-host.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

function captureErrors(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
  return lines;
}

/** The handler for `props` behind node:http, over a Worker-like env; a client to it. */
async function hostWith(props: unknown, cache: HostPropsCache = new Map()) {
  const env = { ...memoryBindings(), GREETING: "hello", TOKEN: "never listed" };
  const { url, close } = await serveHttpHost((request) => commandHostForProps(props, cache)(request, env));
  cleanups.push(close);
  const client = createCommandClient({ endpoint: { kind: "http", url }, timeoutMs: 10_000 });
  cleanups.push(() => client.close());
  return { url, env, client, cache };
}

const frame = (id: number, command: string, payload: unknown) => JSON.stringify({ v: 1, id, command, payload });

describe("hostPropsProblem", () => {
  it("accepts the shapes of CommandHandlerOptions", () => {
    expect(hostPropsProblem({ allow: ["CACHE", "DB"] })).toBeUndefined();
    expect(hostPropsProblem({ allow: { CACHE: "kv", FILES: "r2" }, vars: ["GREETING"], maxFrameBytes: 1 << 20 })).toBe(
      undefined,
    );
    expect(hostPropsProblem({ allow: [], vars: { MODE: "test", LIMIT: 3 } })).toBeUndefined();
  });

  it("names what is wrong and what is expected, in one line", () => {
    const allowMissing =
      'props.allow must list the bindings the container may use, as in ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"] } })';
    expect(hostPropsProblem(undefined)).toBe(
      'props must be an object { allow, vars?, maxFrameBytes?, object? }, as in ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"] } })',
    );
    expect(hostPropsProblem({})).toBe(allowMissing);
    expect(hostPropsProblem({ vars: ["GREETING"] })).toBe(allowMissing);
    expect(hostPropsProblem({ allow: "CACHE" })).toMatch(
      /^props\.allow must list the bindings .*\(\["CACHE"\]\) or a record of kinds/,
    );
    expect(hostPropsProblem({ allow: { CACHE: "redis" } })).toMatch(/kinds kv, d1, queue, r2/);
    expect(hostPropsProblem({ allow: ["CACHE", "not a name"] })).toBe(
      'props.allow[1]: expected a binding name like CACHE, got "not a name"',
    );
    expect(hostPropsProblem({ allow: [], vars: "GREETING" })).toBe(
      'props.vars must be names of env values (["GREETING"]) or a record of values',
    );
    expect(hostPropsProblem({ allow: [], maxFrameBytes: 0 })).toBe(
      "props.maxFrameBytes must be a positive integer number of bytes",
    );
    expect(hostPropsProblem({ allow: [], object: "room-1" })).toBe(
      "props.object must be the Durable Object's id as ctx.id.toString() gives it (64 hex digits)",
    );
    expect(hostPropsProblem({ allow: [], alow: ["CACHE"] })).toBe(
      "props.alow is not a prop of ContainerflareHost (expected { allow, vars?, maxFrameBytes?, object? })",
    );
  });
});

describe("commandHostForProps: host.keepalive", () => {
  const hex = "ab".repeat(32);
  /** A Durable Object namespace double: its idFromString accepts the ids in `own` only, as workerd's does. */
  const namespace = (own: string[], received: Request[]) => ({
    idFromName: () => ({}),
    newUniqueId: () => ({}),
    idFromString(id: string) {
      if (!own.includes(id)) throw new TypeError("Durable Object ID is not valid for this namespace.");
      return { toString: () => id };
    },
    get: () => ({
      fetch: async (request: Request) => {
        received.push(request);
        return new Response(null, { status: 204 });
      },
    }),
  });

  async function keepAliveHost(props: unknown, exports: object) {
    const env = { CONTAINERFLARE_SECRET: "keep-alive secret" };
    const handler = commandHostForProps(props, new Map(), exports);
    const { url, close } = await serveHttpHost((request) => handler(request, env));
    cleanups.push(close);
    const client = createCommandClient({ endpoint: { kind: "http", url }, timeoutMs: 10_000 });
    cleanups.push(() => client.close());
    return client;
  }

  it("sends the object of props.object, in the namespace that owns its id, a keep-alive signed with the secret", async () => {
    const other: Request[] = [];
    const rooms: Request[] = [];
    const client = await keepAliveHost(
      { allow: [], object: hex },
      { OTHER: namespace(["cd".repeat(32)], other), ROOMS: namespace([hex], rooms), ContainerflareHost: () => ({}) },
    );
    expect(await client.invoke("host.keepalive", null)).toEqual({ renewed: true });
    expect(other).toEqual([]);
    expect(rooms).toHaveLength(1);
    const [sent] = rooms;
    expect(new URL(sent!.url).pathname).toBe(KEEPALIVE_PATH);
    const verifier = createRequestVerifier({ secret: "keep-alive secret" });
    expect(
      await verifier.verify({
        method: sent!.method,
        path: KEEPALIVE_PATH,
        body: new Uint8Array(),
        header: sent!.headers.get(REQUEST_SIGNATURE_HEADER),
      }),
    ).toEqual({ ok: true });
  });

  it("answers renewed: false without props.object, and INTERNAL when no namespace owns the id", async () => {
    const received: Request[] = [];
    const without = await keepAliveHost({ allow: [] }, { ROOMS: namespace([hex], received) });
    expect(await without.invoke("host.keepalive", null)).toEqual({ renewed: false });
    const lost = await keepAliveHost({ allow: [], object: hex }, { ROOMS: namespace([], received) });
    await expect(lost.invoke("host.keepalive", null)).rejects.toMatchObject({
      code: "INTERNAL",
      message: expect.stringContaining(
        "no Durable Object namespace of ctx.exports or env holds the object abababababab",
      ),
    });
    expect(received).toEqual([]);
  });
});

describe("commandHostForProps", () => {
  it("valid props: the command host with their allowlist and vars", async () => {
    const { client, env } = await hostWith({ allow: ["CACHE"], vars: ["GREETING"] });
    const bindings = createBindings<{ CACHE: KVNamespace }>(client);
    await bindings.CACHE.put("room", "blue");
    expect(await env.CACHE.get("room")).toBe("blue");
    expect(await bindings.CACHE.get("room")).toBe("blue");
    expect(await envGet(client, "GREETING")).toBe("hello");
    await expect(envGet(client, "TOKEN")).rejects.toMatchObject({ code: "NO_BINDING" });
    await expect(client.invoke("kv.get", { binding: "SECRET_KV", key: "k", type: "text" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("invalid props: every command fails with the reason, HTTP 500, and one console.error line", async () => {
    const errors = captureErrors();
    const { client, url } = await hostWith({ alow: ["CACHE"] });
    const failure = await client.invoke("kv.get", { binding: "CACHE", key: "k", type: "text" }).catch((e) => e);
    expect(failure).toBeInstanceOf(CommandError);
    // Not a protocol code: the client reads INVALID_CONFIG as INTERNAL and keeps it in the message.
    expect(failure).toMatchObject({
      code: "INTERNAL",
      message:
        'INVALID_CONFIG: ContainerflareHost: props.allow must list the bindings the container may use, as in ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"] } })',
    });
    await expect(client.invoke("kv.get", { binding: "CACHE", key: "k", type: "text" })).rejects.toThrow(
      /INVALID_CONFIG/,
    );

    // A batch gets one answer per frame, each with its own id.
    const batch = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: `${frame(7, "host.ping", null)}\n${frame(8, "kv.get", { binding: "CACHE", key: "k" })}\n`,
    });
    expect(batch.status).toBe(500);
    expect(batch.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = (await batch.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.id, line.ok, line.error.code])).toEqual([
      [7, false, "INVALID_CONFIG"],
      [8, false, "INVALID_CONFIG"],
    ]);

    // A solo exchange: the frame line's id, the streamed bytes dropped.
    const solo = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-containerflare-frame" },
      body: `${frame(9, "r2.put", { binding: "FILES", key: "k", value: { encoding: "body", length: 3 } })}\nabc`,
    });
    expect(solo.status).toBe(500);
    expect(await solo.json()).toMatchObject({
      v: 1,
      id: 9,
      ok: false,
      error: { code: "INVALID_CONFIG", retryable: false },
    });

    // Logged when the props were first seen, not per request.
    expect(errors).toEqual([`containerflare: ContainerflareHost: ${hostPropsProblem({ alow: ["CACHE"] })}`]);
  });

  it("keeps one host per distinct props, at most HOST_PROPS_CACHE_SIZE of them, least recently used forgotten first", () => {
    const errors = captureErrors();
    const cache: HostPropsCache = new Map();
    const first = commandHostForProps({ allow: ["CACHE"] }, cache);
    expect(commandHostForProps({ allow: ["CACHE"] }, cache)).toBe(first);
    for (let i = 0; i < HOST_PROPS_CACHE_SIZE; i++) {
      commandHostForProps({ allow: [`KV_${i}`] }, cache);
      // Used again each round: never the least recently used.
      expect(commandHostForProps({ allow: ["CACHE"] }, cache)).toBe(first);
    }
    expect(cache.size).toBe(HOST_PROPS_CACHE_SIZE);
    expect(cache.has(JSON.stringify({ allow: ["KV_0"] }))).toBe(false);
    expect(cache.has(JSON.stringify({ allow: [`KV_${HOST_PROPS_CACHE_SIZE - 1}`] }))).toBe(true);

    // Invalid props are remembered too: logged once while remembered, again once forgotten.
    commandHostForProps({ allow: 1 }, cache);
    commandHostForProps({ allow: 1 }, cache);
    expect(errors).toHaveLength(1);
    for (let i = 0; i < HOST_PROPS_CACHE_SIZE; i++) commandHostForProps({ allow: [`OTHER_${i}`] }, cache);
    commandHostForProps({ allow: 1 }, cache);
    expect(errors).toHaveLength(2);
    expect(cache.size).toBe(HOST_PROPS_CACHE_SIZE);
  });

  it("never throws, whatever the props", async () => {
    captureErrors();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const props of [undefined, null, 42, "allow", [], cyclic, { allow: [1n] }]) {
      const answer = await commandHostForProps(props, new Map())(
        new Request("http://containerflare.internal/v1/commands", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: frame(3, "host.ping", null),
        }),
        {},
      );
      expect(answer.status).toBe(500);
      expect(await answer.json()).toMatchObject({ id: 3, ok: false, error: { code: "INVALID_CONFIG" } });
    }
  });
});
