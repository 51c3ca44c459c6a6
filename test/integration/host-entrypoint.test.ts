/**
 * ContainerflareHost (src/worker/host-entrypoint.ts) in workerd (Miniflare, compatibility date
 * 2025-11-17 for ctx.exports): a Durable Object makes Fetchers with
 * `this.ctx.exports.ContainerflareHost({ props })`, as containerflareContainer hands one to
 * `ctx.container.interceptOutboundHttp`, and a real command client in this process sends its
 * frames through the Worker and the Durable Object to them: real KV, the allowlist, vars, and the
 * typed error of bad props. Also type-checks a Worker written against @cloudflare/workers-types
 * (test/types/workers) with the published declarations.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { KVNamespace } from "@cloudflare/workers-types";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WORKER_BUILD_OPTIONS } from "../../src/cli/dev/bundle.ts";
import {
  type CommandClient,
  CommandError,
  createBindings,
  createCommandClient,
  envGet,
} from "../../src/command/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// Each case is a Fetcher made once, in the object's constructor, and used by every later request
// of the object: what a Durable Object on the Container API does with its host.
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export { ContainerflareHost } from "./src/worker/index.ts";

const PROPS = {
  good: { allow: ["CACHE"], vars: ["GREETING"] },
  kinds: { allow: { CACHE: "kv" }, vars: { MODE: "test" } },
  empty: {},
  typo: { allow: ["CACHE"], var: ["GREETING"] },
};

export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.hosts = new Map(Object.entries(PROPS).map(([name, props]) => [name, ctx.exports.ContainerflareHost({ props })]));
  }
  fetch(request) {
    const url = new URL(request.url);
    const [, name, ...rest] = url.pathname.split("/");
    const host = this.hosts.get(name);
    if (!host) return new Response("no such case: " + name, { status: 404 });
    // As the container addresses it: http://containerflare.internal/v1/commands.
    return host.fetch(new Request("http://containerflare.internal/" + rest.join("/") + url.search, request));
  }
}

export default {
  fetch(request, env) {
    return env.PROBE.get(env.PROBE.idFromName("probe")).fetch(request);
  },
};`;

let miniflare: Miniflare;
let base: URL;
const logs: { level: string; message: string }[] = [];
const clients: CommandClient[] = [];

function clientFor(name: string): CommandClient {
  const client = createCommandClient({
    endpoint: { kind: "http", url: new URL(`${name}/v1/commands`, base).href },
    timeoutMs: 20_000,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  const bundle = await build({ ...WORKER_BUILD_OPTIONS, stdin: { contents: WORKER, resolveDir: ROOT, loader: "ts" } });
  miniflare = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]!.text,
    compatibilityDate: "2025-11-17",
    kvNamespaces: ["CACHE", "OTHER"],
    bindings: { GREETING: "hello from the Worker", TOKEN: "never listed" },
    durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
    handleStructuredLogs: (entry: { level: string; message: string }) =>
      void logs.push({ level: entry.level, message: entry.message }),
  });
  base = await miniflare.ready;
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await miniflare?.dispose();
});

describe("ContainerflareHost in workerd, reached through ctx.exports from a Durable Object", () => {
  it("answers real command frames with the Worker's KV, within the props' allowlist and vars", async () => {
    const client = clientFor("good");
    const env = createBindings<{ CACHE: KVNamespace; OTHER: KVNamespace }>(client);
    await env.CACHE.put("room", "blue", { metadata: { by: "container" } });
    expect(await env.CACHE.get("room")).toBe("blue");
    expect(await env.CACHE.getWithMetadata("room")).toMatchObject({ value: "blue", metadata: { by: "container" } });
    // The Worker's real namespace holds it.
    expect(await (await miniflare.getKVNamespace("CACHE")).get("room")).toBe("blue");
    // A value above the inline limit travels as a streamed solo exchange, both ways.
    const large = "x".repeat(200_000);
    await env.CACHE.put("large", large);
    expect(await env.CACHE.get("large")).toBe(large);

    expect(await envGet(client, "GREETING")).toBe("hello from the Worker");
    expect((await client.describe()).bindings).toEqual({ CACHE: "kv", GREETING: "var" });
  });

  it("answers FORBIDDEN for a binding outside props.allow, NO_BINDING for an env value outside props.vars", async () => {
    const client = clientFor("good");
    const forbidden = await client.invoke("kv.get", { binding: "OTHER", key: "room", type: "text" }).catch((e) => e);
    expect(forbidden).toBeInstanceOf(CommandError);
    expect(forbidden).toMatchObject({
      code: "FORBIDDEN",
      message: "kv.get: binding OTHER is not allowed on this host",
    });
    await expect(envGet(client, "TOKEN")).rejects.toMatchObject({ code: "NO_BINDING" });
  });

  it("takes allow as a record of kinds and vars as a record of values", async () => {
    const client = clientFor("kinds");
    const env = createBindings<{ CACHE: KVNamespace }>(client);
    await env.CACHE.put("kinds", "yes");
    expect(await env.CACHE.get("kinds")).toBe("yes");
    expect(await envGet(client, "MODE")).toBe("test");
  });

  it("answers a path other than /v1/commands with 404", async () => {
    const response = await fetch(new URL("good/v2/other", base), { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "UNKNOWN_COMMAND" } });
  });

  it("bad props: every frame answered with the typed INVALID_CONFIG error, HTTP 500, logged once", async () => {
    const allowMissing =
      'ContainerflareHost: props.allow must list the bindings the container may use, as in ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"] } })';
    for (const name of ["typo", "typo", "empty"]) {
      const response = await fetch(new URL(`${name}/v1/commands`, base), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"v":1,"id":5,"command":"kv.get","payload":{"binding":"CACHE","key":"room"}}',
      });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        v: 1,
        id: 5,
        ok: false,
        error: {
          code: "INVALID_CONFIG",
          message:
            name === "typo"
              ? "ContainerflareHost: props.var is not a prop of ContainerflareHost (expected { allow, vars?, maxFrameBytes?, object? })"
              : allowMissing,
          retryable: false,
        },
      });
    }
    // The app's command fails with the reason (the client reads the unknown code as INTERNAL).
    const client = clientFor("empty");
    await expect(client.invoke("kv.get", { binding: "CACHE", key: "room", type: "text" })).rejects.toMatchObject({
      code: "INTERNAL",
      message: `INVALID_CONFIG: ${allowMissing}`,
    });
    const typoLines = logs.filter((entry) => entry.message.includes("props.var is not a prop"));
    expect(typoLines.map((entry) => [entry.level, entry.message])).toEqual([
      [
        "error",
        "containerflare: ContainerflareHost: props.var is not a prop of ContainerflareHost (expected { allow, vars?, maxFrameBytes?, object? })",
      ],
    ]);
    expect(logs.filter((entry) => entry.message.includes(allowMissing))).toHaveLength(1);
  });
});

describe("a Worker on the Container API, type-checked against @cloudflare/workers-types", () => {
  it("tsc --noEmit -p test/types/workers (the published declarations: npm run build first)", () => {
    const tsc = spawnSync(`${ROOT}node_modules/.bin/tsc`, ["--noEmit", "-p", "test/types/workers/tsconfig.json"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  });
});
