/**
 * Service bindings and Durable Object namespaces in workerd (Miniflare, real processes): the
 * command host runs inside a Worker whose `API` is a service binding to a real second Worker
 * (test/fixtures/kinds/api-worker.mjs) and whose `NS` is the namespace of a real Durable Object
 * class (test/fixtures/kinds/objects-worker.mjs); the container-side client runs in this node
 * process and reaches them over the HTTP transport v2, bodies streamed both ways.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DurableObjectNamespace, Fetcher } from "@cloudflare/workers-types";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WORKER_BUILD_OPTIONS } from "../../src/cli/dev/bundle.ts";
import {
  type CommandClient,
  CommandError,
  createBindings,
  createCommandClient,
  loadBindings,
} from "../../src/command/index.ts";
import { chunked, sha256 } from "../fixtures/bindings/bytes.ts";
import { patternBytes } from "../fixtures/bindings/service.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = new URL("../fixtures/kinds/", import.meta.url);

// The bindings are allowed by name only: the host detects their kinds in workerd.
const HOST_WORKER = `
import { createCommandHost } from "./src/host/index.ts";
const hosts = new WeakMap();
export default {
  fetch(request, env) {
    let host = hosts.get(env);
    if (!host) hosts.set(env, (host = createCommandHost({ bindings: env, allow: ["API", "NS"] })));
    return host.handle(request);
  },
};`;

interface Env {
  API: Fetcher;
  NS: DurableObjectNamespace;
}

let miniflare: Miniflare;
let client: CommandClient;

beforeAll(async () => {
  const bundle = await build({
    ...WORKER_BUILD_OPTIONS,
    stdin: { contents: HOST_WORKER, resolveDir: ROOT, loader: "ts" },
  });
  const compatibilityDate = "2025-09-01";
  miniflare = new Miniflare({
    workers: [
      {
        name: "host",
        modules: true,
        script: bundle.outputFiles[0]!.text,
        compatibilityDate,
        serviceBindings: { API: "api" },
        durableObjects: { NS: { className: "Counter", scriptName: "objects", useSQLite: true } },
      },
      {
        name: "api",
        modules: true,
        script: readFileSync(new URL("api-worker.mjs", FIXTURES), "utf8"),
        compatibilityDate,
      },
      {
        name: "objects",
        modules: true,
        script: readFileSync(new URL("objects-worker.mjs", FIXTURES), "utf8"),
        compatibilityDate,
      },
    ],
  });
  const url = await miniflare.ready;
  client = createCommandClient({
    endpoint: { kind: "http", url: new URL("/v1/commands", url).href },
    timeoutMs: 30_000,
  });
});

afterAll(async () => {
  await client?.close();
  await miniflare?.dispose();
});

describe("service bindings and Durable Objects inside workerd", () => {
  it("detects a service binding and a namespace from the real binding objects", async () => {
    expect((await client.describe()).bindings).toEqual({ API: "service", NS: "durable_object" });
  });

  it("service binding: method, URL, headers, status, status text and set-cookie of a real second Worker", async () => {
    const env = await loadBindings(createBindings<Env>(client));
    const echo = await env.API.fetch("https://api.internal/echo?q=1", {
      method: "PATCH",
      headers: [
        ["x-one", "1"],
        ["accept", "text/plain"],
        ["accept", "application/json"],
      ],
      body: "héllo",
    });
    expect(echo.status).toBe(200);
    expect(echo.headers.get("x-method")).toBe("PATCH");
    expect(echo.headers.get("x-url")).toBe("https://api.internal/echo?q=1");
    expect(JSON.parse(echo.headers.get("x-seen-headers")!)).toEqual(
      expect.arrayContaining([
        ["accept", "text/plain, application/json"],
        ["content-type", "text/plain;charset=UTF-8"],
        ["x-one", "1"],
      ]),
    );
    expect(await echo.text()).toBe("héllo");
    const status = await env.API.fetch("https://api.internal/status/418", { method: "DELETE" });
    expect([status.status, status.statusText]).toEqual([418, "Custom 418"]);
    expect(status.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await status.text()).toBe("status 418");
    const empty = await env.API.fetch("https://api.internal/status/204");
    expect([empty.status, empty.body]).toEqual([204, null]);
  });

  it("service binding: a body of several MiB streams out and back (uploaded, echoed, generated)", async () => {
    const env = await loadBindings(createBindings<Env>(client));
    const bytes = patternBytes(20 * 1024 * 1024 + 5);
    const digest = await env.API.fetch("https://api.internal/digest", {
      method: "POST",
      body: chunked(bytes) as never,
      duplex: "half",
    } as never);
    expect(await digest.json()).toEqual({ length: bytes.byteLength, sha256: sha256(bytes) });
    const echoed = await env.API.fetch("https://api.internal/echo", { method: "PUT", body: bytes });
    expect(sha256(new Uint8Array(await echoed.arrayBuffer()))).toBe(sha256(bytes));
    const generated = await env.API.fetch(`https://api.internal/bytes/${bytes.byteLength}`);
    expect(sha256(new Uint8Array(await generated.arrayBuffer()))).toBe(sha256(bytes));
  });

  it("Durable Objects: idFromName twice is one object, getByName too; the object sees the name", async () => {
    const env = await loadBindings(createBindings<Env>(client));
    const first = env.NS.idFromName("room-1");
    expect(() => first.toString()).toThrow(TypeError);
    const one = await env.NS.get(first).fetch("https://do/increment", { method: "POST" });
    expect(await one.json()).toEqual({ count: 1 });
    expect(one.headers.get("x-name")).toBe("room-1");
    expect(first.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(one.headers.get("x-id")).toBe(first.toString());
    const second = env.NS.idFromName("room-1");
    expect(second.toString()).toBe(first.toString());
    expect(second.equals(first)).toBe(true);
    const two = await env.NS.get(second).fetch("https://do/increment", { method: "POST" });
    expect(await two.json()).toEqual({ count: 2 });
    const byName = await env.NS.getByName("room-1").fetch("https://do/");
    expect(await byName.json()).toEqual({ count: 2 });
    const other = await env.NS.getByName("room-2").fetch("https://do/");
    expect(await other.json()).toEqual({ count: 0 });
  });

  it("Durable Objects: newUniqueId gives new objects; idFromString round-trips; a stranger's id is refused", async () => {
    const env = await loadBindings(createBindings<Env>(client));
    const unique = env.NS.newUniqueId();
    expect(unique.name).toBeUndefined();
    const stub = env.NS.get(unique);
    expect(await (await stub.fetch("https://do/increment", { method: "POST" })).json()).toEqual({ count: 1 });
    const hex = unique.toString();
    const response = await env.NS.get(env.NS.idFromString(hex)).fetch("https://do/");
    expect(await response.json()).toEqual({ count: 1 });
    expect(response.headers.get("x-id")).toBe(hex);
    expect(response.headers.get("x-name")).toBe("");
    const next = env.NS.newUniqueId();
    expect(next.toString()).not.toBe(hex);
    expect(await (await env.NS.get(next).fetch("https://do/")).json()).toEqual({ count: 0 });
    const error = await env.NS.get(env.NS.idFromString("0".repeat(64)))
      .fetch("https://do/")
      .catch((caught: unknown) => caught as CommandError);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).code).toBe("INVALID_PAYLOAD");
    expect((error as CommandError).message).toMatch(/^durable_object\.fetch: id: /);
  });

  it("Durable Objects: a body of several MiB streams to the object and back", async () => {
    const env = await loadBindings(createBindings<Env>(client));
    const bytes = patternBytes(8 * 1024 * 1024 + 1);
    const echoed = await env.NS.getByName("echo").fetch("https://do/echo", {
      method: "PUT",
      body: chunked(bytes) as never,
      duplex: "half",
    } as never);
    expect(sha256(new Uint8Array(await echoed.arrayBuffer()))).toBe(sha256(bytes));
  });
});
