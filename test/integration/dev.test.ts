/**
 * `containerflare dev` end to end: the real CLI (dist/, on the repository's Node 24) runs
 * examples/basic under node, bun and deno behind dev's built-in Worker (`--worker builtin`) in workerd, with local KV, D1
 * and Queue bindings from its wrangler.jsonc; a file change restarts the app; SIGTERM stops
 * everything. Each run works on a copy of the example inside the repository's .tmp directory (so
 * that `import "containerflare"` resolves to the package itself), removed afterwards.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { commandLine, descendants, isRunning } from "../../bench/lib/proctree.ts";
import { freePort } from "../../src/cli/dev/ports.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../src/request-signature.ts";
import { stopAndCheck, until } from "./dev-checks.ts";
import { ROOT } from "./runtimes.ts";

const CLI = `${ROOT}dist/src/cli/index.js`;
const NODE = `${ROOT}node_modules/.bin/node`;
const EXAMPLE = `${ROOT}examples/basic/`;
// Inside the package (so that the self-reference resolves), in the ignored .tmp directory.
const RUNS = `${ROOT}.tmp/dev/`;
const RUNTIMES = ["node", "bun", "deno"] as const;

const created: string[] = [];
afterAll(() => {
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

/** A fresh copy of examples/basic (app.ts and wrangler.jsonc). */
function copyExample(tag: string): string {
  const directory = `${RUNS}run-${process.pid}-${tag}/`;
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const file of ["app.ts", "wrangler.jsonc"]) copyFileSync(`${EXAMPLE}${file}`, `${directory}${file}`);
  created.push(directory);
  return directory;
}

interface Dev {
  child: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<number | string>;
  /** The app process (the runner the CLI started). */
  appPid(): number | undefined;
  stop(): Promise<number | string>;
}

interface DevOptions {
  /** The entry's file name in `directory` (default app.ts). */
  entry?: string;
  /** Extra environment of the CLI (the app inherits it). */
  env?: Record<string, string>;
  /** The line that says the CLI is up (default "ready on"). */
  readyLine?: string;
}

/**
 * Starts `containerflare dev` on a free port. The port is free when picked but may be taken by
 * another test's process before workerd binds it: dev then exits with "port N on 127.0.0.1 is in
 * use" (right, for a port the user named), and this tries again on another one, at most 3 times.
 */
async function startDev(
  directory: string,
  runtime: string,
  extra: string[] = [],
  options: DevOptions = {},
): Promise<Dev> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevOnce(await freePort(), directory, runtime, extra, options);
    } catch (error) {
      if (attempt >= 3 || !/is in use: pass --port/.test((error as Error).message)) throw error;
    }
  }
}

async function startDevOnce(
  port: number,
  directory: string,
  runtime: string,
  extra: string[],
  options: DevOptions,
): Promise<Dev> {
  const readyLine = options.readyLine ?? "ready on";
  const child = spawn(
    NODE,
    [
      CLI,
      "dev",
      `${directory}${options.entry ?? "app.ts"}`,
      "--runtime",
      runtime,
      "--port",
      String(port),
      "--persist",
      `${directory}.state`,
      // examples/basic names its own Worker: these runs are of dev's built-in one (dev-worker.test.ts runs the example's).
      "--worker",
      "builtin",
      ...extra,
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => output.push(...chunk.split("\n").filter(Boolean)));
  }
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const dev: Dev = {
    child,
    url: `http://127.0.0.1:${port}`,
    output,
    exited,
    appPid: () => descendants(child.pid!).find((pid) => commandLine(pid).includes(`${directory}`)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
  try {
    await until(
      "the dev server to be ready",
      () => (output.some((line) => line.includes(readyLine)) ? true : child.exitCode !== null ? false : undefined),
      60_000,
    );
  } catch (error) {
    await dev.stop();
    throw new Error(`${(error as Error).message}\n${output.join("\n")}`);
  }
  if (child.exitCode !== null) throw new Error(`containerflare dev exited: ${output.join("\n")}`);
  return dev;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
async function request(dev: Dev, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${dev.url}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  let body: unknown = text;
  if (response.headers.get("content-type")?.includes("json")) body = JSON.parse(text);
  return { status: response.status, body };
}

/** The four routes of examples/basic, through the Worker, against local bindings. */
async function checkRoutes(dev: Dev, tag: string): Promise<void> {
  const root = await request(dev, "/");
  expect(root.status).toBe(200);
  expect(root.body.platform).toMatchObject({ kind: "cloudflare", cloudflare: { applicationId: "containerflare-dev" } });
  expect(root.body.request).toMatchObject({
    source: "worker",
    workerName: "containerflare-basic",
    clientIp: "127.0.0.1",
    method: "GET",
    path: "/",
  });

  expect(await request(dev, `/kv/${tag}`, { method: "PUT", body: `value of ${tag}` })).toEqual({
    status: 200,
    body: { key: tag, stored: true },
  });
  expect(await request(dev, `/kv/${tag}`)).toEqual({ status: 200, body: `value of ${tag}` });
  const missing = await request(dev, "/kv/never-stored");
  expect(missing.status).toBe(404);

  expect(await request(dev, "/visits")).toEqual({ status: 200, body: { count: 1 } });
  expect(await request(dev, "/visits")).toEqual({ status: 200, body: { count: 2 } });

  const job = { task: "thumbnail", tag };
  expect(await request(dev, "/jobs", { method: "POST", body: JSON.stringify(job) })).toEqual({
    status: 202,
    body: { queued: true },
  });
  // wrangler.jsonc consumes the queue: dev delivers the batch to the app's queue handler, which
  // records the job in D1.
  await until("the queued job to be processed by the app's queue handler", async () => {
    const { body } = await request(dev, "/jobs");
    return (body as { jobs?: { body: unknown }[] }).jobs?.some(
      (entry) => JSON.stringify(entry.body) === JSON.stringify(job),
    )
      ? true
      : undefined;
  });
}

describe.each(RUNTIMES)("containerflare dev --runtime %s", (runtime) => {
  it("serves examples/basic through the Worker, restarts on change, stops cleanly", async () => {
    const directory = copyExample(runtime);
    const dev = await startDev(directory, runtime);
    try {
      await checkRoutes(dev, runtime);

      const before = dev.appPid();
      expect(before).toBeTypeOf("number");
      const source = readFileSync(`${directory}app.ts`, "utf8");
      writeFileSync(`${directory}app.ts`, source.replace("no route for", "nothing is served at"));
      const changed = await until("the restarted app", async () => {
        const answer = await request(dev, "/nowhere");
        return answer.body?.error?.message?.startsWith("nothing is served at") ? answer : undefined;
      });
      expect(changed.status).toBe(404);
      const after = dev.appPid();
      expect(after).toBeTypeOf("number");
      expect(after).not.toBe(before);
      expect(isRunning(before!)).toBe(false);
      expect(dev.output.some((line) => line.includes("app.ts changed: restarting the app"))).toBe(true);
      // State persists across restarts.
      expect(await request(dev, "/visits")).toEqual({ status: 200, body: { count: 3 } });
    } finally {
      if (dev.child.exitCode === null) await stopAndCheck(dev, directory);
    }
    expect(existsSync(`${directory}.state`)).toBe(true);
  }, 150_000);

  it("carries the command bus over the app's stdin/stdout with --commands stdio", async () => {
    const directory = copyExample(`${runtime}-stdio`);
    const dev = await startDev(directory, runtime, ["--commands", "stdio", "--no-watch"]);
    try {
      expect(dev.output.some((line) => line.includes("commands over stdio"))).toBe(true);
      await checkRoutes(dev, `${runtime}-stdio`);
    } finally {
      if (dev.child.exitCode === null) await stopAndCheck(dev, directory);
    }
  }, 120_000);
});

/** A fresh copy of a fixture directory of test/fixtures/dev/. */
function copyFixture(name: string, tag: string): string {
  const directory = `${RUNS}run-${process.pid}-${tag}/`;
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  const source = `${ROOT}test/fixtures/dev/${name}/`;
  for (const file of readdirSync(source)) copyFileSync(`${source}${file}`, `${directory}${file}`);
  created.push(directory);
  return directory;
}

/** A POST with exactly these headers (Node's fetch would add and replace some). */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(body.byteLength) }, timeout: 20_000 },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: incoming.statusCode!, body: text.startsWith("{") ? JSON.parse(text) : text });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 20 s")));
    outgoing.end(body);
  });
}

describe("containerflare dev: the command host accepts only the app's signed requests", () => {
  it("refuses unsigned (401), browser (403) and replayed (401) requests; the app's own commands work", async () => {
    const secret = randomBytes(32).toString("hex");
    const directory = copyFixture("crash", "auth");
    const dev = await startDev(directory, "node", ["--no-watch"], {
      entry: "app.mjs",
      env: { CONTAINERFLARE_SECRET: secret },
    });
    try {
      const value = async () => (await request(dev, "/kv/k")).body.value;
      expect(await request(dev, "/kv/k", { method: "PUT", body: "by the app" })).toEqual({
        status: 200,
        body: { stored: "k" },
      });
      const endpoint = (await request(dev, "/endpoint")).body.endpoint as string;
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/commands$/);
      const path = new URL(endpoint).pathname;
      const frame = (id: number, text: string) =>
        new TextEncoder().encode(
          JSON.stringify({ v: 1, id, command: "kv.put", payload: { binding: "CACHE", key: "k", value: text } }),
        );

      // Any local process, or a page's `text/plain` POST, without the secret.
      const unsigned = await fetch(endpoint, {
        method: "POST",
        body: frame(1, "unsigned"),
        headers: { "content-type": "text/plain" },
      });
      expect(unsigned.status).toBe(401);
      expect(await unsigned.json()).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      expect(await value()).toBe("by the app");

      // A browser's request, even carrying a valid signature.
      const browsers: Record<string, string>[] = [
        { origin: "http://evil.example" },
        { "sec-fetch-site": "cross-site" },
      ];
      for (const browser of browsers) {
        const body = frame(2, "from a browser");
        const signature = await signCommandRequest(secret, { method: "POST", path, body });
        const answer = await rawPost(
          endpoint,
          { "content-type": "text/plain", [REQUEST_SIGNATURE_HEADER]: signature, ...browser },
          body,
        );
        expect(answer.status, JSON.stringify(browser)).toBe(403);
        expect(answer.body).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
      }
      expect(await value()).toBe("by the app");

      // A signed request is accepted once; sent again it is refused.
      const body = frame(3, "signed by the test");
      const headers = {
        "content-type": "application/json",
        [REQUEST_SIGNATURE_HEADER]: await signCommandRequest(secret, { method: "POST", path, body }),
      };
      expect(await rawPost(endpoint, headers, body)).toEqual({
        status: 200,
        body: { v: 1, id: 3, ok: true, payload: null },
      });
      expect(await value()).toBe("signed by the test");
      await request(dev, "/kv/k", { method: "PUT", body: "by the app again" });
      const replayed = await rawPost(endpoint, headers, body);
      expect(replayed.status).toBe(401);
      expect(replayed.body.error.message).toContain("replayed");
      expect(await value()).toBe("by the app again");
    } finally {
      if (dev.child.exitCode === null) await stopAndCheck(dev, directory);
    }
  }, 120_000);
});

describe.each(RUNTIMES)("containerflare dev --runtime %s: an app that crashes", (runtime) => {
  it("in a POST handler ran it once, answered 502 at once naming the exit, and is restarted without a file change", async () => {
    const directory = copyFixture("crash", `${runtime}-crash`);
    const hits = `${directory}hits.log`;
    const dev = await startDev(directory, runtime, ["--no-watch"], { entry: "app.mjs", env: { CRASH_LOG: hits } });
    try {
      const first = await request(dev, "/");
      expect(first.status).toBe(200);

      const started = Date.now();
      const crash = await request(dev, "/crash", { method: "POST", body: "the one request" });
      const elapsed = Date.now() - started;
      expect(crash.status).toBe(502);
      expect(crash.body.error).toMatchObject({
        code: "UNAVAILABLE",
        message: expect.stringMatching(/^the app exited with code 1\b/),
      });
      // The Worker used to resend for 10 s before answering; now it answers as soon as the exit is known.
      expect(elapsed).toBeLessThan(8_000);

      const restarted = await until("the app restarted by itself", async () => {
        const answer = await request(dev, "/").catch(() => undefined);
        return answer?.status === 200 && answer.body.pid !== first.body.pid ? answer : undefined;
      });
      expect(restarted.body.pid).toBeTypeOf("number");
      expect(await request(dev, "/kv/after", { method: "PUT", body: "restarted" })).toEqual({
        status: 200,
        body: { stored: "after" },
      });
      expect(await request(dev, "/kv/after")).toEqual({ status: 200, body: { value: "restarted" } });
      expect(readFileSync(hits, "utf8")).toBe("the one request\n");
      expect(dev.output.some((line) => line.includes("the app exited with code 1 (restarting in"))).toBe(true);
    } finally {
      if (dev.child.exitCode === null) await stopAndCheck(dev, directory);
    }
  }, 120_000);
});

describe("containerflare dev: an app that crashes at start-up", () => {
  it("answers 502 at once with the exit, never the app's error, and keeps restarting it", async () => {
    const directory = copyFixture("boot-crash", "boot-crash");
    const dev = await startDev(directory, "node", ["--no-watch"], {
      entry: "app.mjs",
      readyLine: "the app is not running yet",
    });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const started = Date.now();
        const answer = await request(dev, `/attempt-${attempt}`);
        expect(Date.now() - started).toBeLessThan(8_000);
        expect(answer.status).toBe(502);
        expect(answer.body.error).toEqual({
          code: "UNAVAILABLE",
          message: expect.stringMatching(/^the app exited with code 1 \(restarting in [\d.]+m?s\)$/),
          retryable: true,
        });
        expect(JSON.stringify(answer.body)).not.toMatch(/boot failed|internal detail|at /);
      }
      const restarts = () =>
        dev.output.filter((line) => line.includes("the app exited with code 1 (restarting in")).length;
      await until("three restarts", () => (restarts() >= 3 ? true : undefined));
      expect(dev.output.some((line) => line.includes("restarting in 500ms"))).toBe(true);
    } finally {
      if (dev.child.exitCode === null) await stopAndCheck(dev, directory);
    }
  }, 120_000);
});

describe("examples/basic without a command host (Cloud Run)", () => {
  it("answers the binding routes 503 UNAVAILABLE, not 500", async () => {
    const port = await freePort();
    const child = spawn(NODE, [CLI, "serve", `${EXAMPLE}app.ts`, "--port", String(port)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, K_SERVICE: "basic", CF_CONTAINER_ADDR: "127.0.0.1" },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const dev = { url: `http://127.0.0.1:${port}` } as Dev;
      const root = await until("the app", () => request(dev, "/").catch(() => undefined));
      expect(root.body.platform).toMatchObject({ kind: "cloud-run", cloudRun: { service: "basic" } });
      for (const [path, init] of [
        ["/kv/key", {}],
        ["/kv/key", { method: "PUT", body: "v" }],
        ["/visits", {}],
        ["/jobs", { method: "POST", body: "{}" }],
      ] as const) {
        const answer = await request(dev, path, init);
        expect(answer.status, `${init.method ?? "GET"} ${path}`).toBe(503);
        expect(answer.body.error).toMatchObject({ code: "UNAVAILABLE", message: "Service Unavailable" });
      }
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });
});

describe("containerflare dev on an old Node", () => {
  const system = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => {
    if (!existsSync(path)) return false;
    const major = Number(spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim().slice(1).split(".")[0]);
    return major < 22;
  });

  it.runIf(system)("says in one line that Node.js >= 22 is needed and exits 1", () => {
    const result = spawnSync(system!, [CLI, "dev", "examples/basic/app.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^containerflare: dev needs Node\.js >= 22 for Miniflare, this is Node\.js 2\d\./),
    ]);
  });
});
