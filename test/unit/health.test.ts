// The built-in health route: its configuration (variable and option), the path match and the part
// on its own (the app first, only its 404 replaced). Across real runtimes: test/integration/health.test.ts.

import { NodeRequest } from "srvx/node";
import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../../src/config.ts";
import { requestPath } from "../../src/context.ts";
import { ContainerflareError } from "../../src/errors.ts";
import { healthPart } from "../../src/serve/health.ts";
import type { Step } from "../../src/serve/parts.ts";

describe("CONTAINERFLARE_HEALTH_PATH", () => {
  it("is off by default and reads a path", () => {
    expect(resolveConfig({}).healthPath).toBeUndefined();
    expect(resolveConfig({ CONTAINERFLARE_HEALTH_PATH: "" }).healthPath).toBeUndefined();
    expect(resolveConfig({ CONTAINERFLARE_HEALTH_PATH: "/healthz" }).healthPath).toBe("/healthz");
    expect(resolveConfig({ CONTAINERFLARE_HEALTH_PATH: " /_/ready " }).healthPath).toBe("/_/ready");
    expect(resolveConfig({ CONTAINERFLARE_HEALTH_PATH: "/" }).healthPath).toBe("/");
  });

  it.each(["healthz", "/health z", "/healthz?probe=1", "/healthz#x", "http://x/healthz", `/${"a".repeat(300)}`])(
    "stops start-up with one line for %j",
    (value) => {
      const read = () => resolveConfig({ CONTAINERFLARE_HEALTH_PATH: value });
      expect(read).toThrow(ConfigError);
      expect(read).toThrow(/^invalid CONTAINERFLARE_HEALTH_PATH=.*: expected a path starting with \//);
      expect(() => read()).not.toThrow(/\n/);
    },
  );

  it("lets the option win, and checks it the same way", () => {
    expect(resolveConfig({ CONTAINERFLARE_HEALTH_PATH: "/healthz" }, { healthPath: "/ready" }).healthPath).toBe(
      "/ready",
    );
    expect(resolveConfig({}, { healthPath: "/ready" }).healthPath).toBe("/ready");
    expect(() => resolveConfig({}, { healthPath: "ready" })).toThrow(/^invalid healthPath="ready": expected a path/);
  });
});

/** A request as srvx hands it on Node: the URL string, and the raw node:http request target. */
function nodeRequest(target: string, method = "GET"): Request {
  const request = new Request(`http://127.0.0.1:8787${target.startsWith("/") ? target : "/"}`, { method });
  Object.defineProperty(request, "runtime", { value: { node: { req: { url: target } } } });
  return request;
}

/** The health part's path match: context.ts's requestPath against the configured path. */
const isRequestFor = (request: Request, path: string) => requestPath(request) === path;

describe("the path match (requestPath)", () => {
  it("matches exactly the path, its query ignored", () => {
    for (const url of ["http://h/healthz", "http://h:1/healthz?probe=1", "https://h/healthz#top"])
      expect(isRequestFor(new Request(url), "/healthz")).toBe(true);
    for (const url of ["http://h/healthz/", "http://h/healthzz", "http://h/health", "http://h/", "http://h/x/healthz"])
      expect(isRequestFor(new Request(url), "/healthz")).toBe(false);
    expect(isRequestFor(new Request("http://h"), "/")).toBe(true);
  });

  it("reads Node's raw request target instead of the URL", () => {
    expect(isRequestFor(nodeRequest("/healthz?x=1"), "/healthz")).toBe(true);
    expect(isRequestFor(nodeRequest("/healthzz"), "/healthz")).toBe(false);
    // Not in origin form: the URL decides.
    const absolute = nodeRequest("http://h/healthz");
    expect(isRequestFor(absolute, "/healthz")).toBe(false);
  });

  it("reads the target of srvx's own Node request as sent, not its normalized URL", () => {
    const srvxRequest = (target: string) =>
      new NodeRequest({
        req: { url: target, method: "GET", headers: { host: "h" }, rawHeaders: ["Host", "h"], socket: {} } as never,
      }) as unknown as Request;
    expect(isRequestFor(srvxRequest("/healthz?x=1"), "/healthz")).toBe(true);
    // srvx's URL resolves the dot segment to /healthz; the client sent another path.
    expect((srvxRequest("/a/../healthz") as unknown as { _url: URL })._url.pathname).toBe("/healthz");
    expect(requestPath(srvxRequest("/a/../healthz"))).toBe("/a/../healthz");
    expect(requestPath(srvxRequest("/p%20q"))).toBe("/p%20q");
  });
});

const ctx = {} as never;
const run = (step: Step | undefined, request: Request) => (step as Step)(request as never, ctx);

describe("healthPart", () => {
  const notFound: Step = () => new Response("no such route", { status: 404 });

  it("is left out when no path is set", () => {
    expect(healthPart(undefined, () => false)).toBeUndefined();
  });

  it("answers the app's 404 at the path: 200 serving, 503 draining, no-store JSON", async () => {
    let draining = false;
    const part = healthPart("/healthz", () => draining)!;
    const step: Step = (request, c) => part(request, c, notFound);
    const serving = await run(step, new Request("http://h/healthz"));
    expect(serving.status).toBe(200);
    expect(serving.headers.get("cache-control")).toBe("no-store");
    expect(serving.headers.get("content-type")).toBe("application/json");
    expect(await serving.json()).toEqual({ status: "serving" });
    draining = true;
    const drained = await run(step, new Request("http://h/healthz", { method: "HEAD" }));
    expect(drained.status).toBe(503);
    expect(await drained.json()).toEqual({ status: "draining" });
  });

  it("never shadows the app: its own answer, other paths and other methods pass untouched", async () => {
    const part = healthPart("/healthz", () => true)!;
    const app: Step = async (request) =>
      new URL(request.url).searchParams.has("mine") ? new Response("app health") : notFound(request, ctx);
    const step: Step = (request, c) => part(request, c, app);
    const own = await run(step, new Request("http://h/healthz?mine=1"));
    expect([own.status, await own.text()]).toEqual([200, "app health"]);
    for (const request of [new Request("http://h/other"), new Request("http://h/healthz", { method: "POST" })]) {
      const response = await run(step, request);
      expect([response.status, await response.text()]).toEqual([404, "no such route"]);
    }
  });

  it("lets what the app throws through to the error part", async () => {
    const part = healthPart("/healthz", () => false)!;
    const missing = new ContainerflareError("INVALID_PAYLOAD", "no route", { status: 404 });
    const throwing: Step = () => {
      throw missing;
    };
    const rejecting: Step = async () => {
      throw missing;
    };
    expect(() => part(new Request("http://h/healthz") as never, ctx, throwing)).toThrow(missing);
    await expect(part(new Request("http://h/healthz") as never, ctx, rejecting)).rejects.toBe(missing);
  });
});
