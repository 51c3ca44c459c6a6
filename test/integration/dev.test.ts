/**
 * `containerflare dev` end to end: the real CLI (dist/, on the repository's Node 24) runs
 * examples/basic under node, bun and deno behind the Worker code in workerd, with local KV, D1
 * and Queue bindings from its wrangler.jsonc; a file change restarts the app; SIGTERM stops
 * everything. Each run works on a copy of the example inside the repository's .tmp directory (so
 * that `import "containerflare"` resolves to the package itself), removed afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/cli/dev/ports.ts";
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

interface ProcessEntry {
  pid: number;
  ppid: number;
  state: string;
}

/** The process table, from /proc. */
function processTable(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      entries.push({ pid: Number(name), state: fields[0]!, ppid: Number(fields[1]) });
    } catch {
      // It exited while we looked.
    }
  }
  return entries;
}

/** Live (not zombie) descendants of `pid`. */
function descendants(pid: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const entry of table) {
      if (entry.ppid === parent && entry.state !== "Z") {
        found.push(entry.pid);
        queue.push(entry.pid);
      }
    }
  }
  return found;
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Live processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  return processTable()
    .filter((entry) => entry.state !== "Z" && entry.pid !== process.pid && cmdline(entry.pid).includes(text))
    .map((entry) => entry.pid);
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 250)));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
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

async function startDev(directory: string, runtime: string, extra: string[] = []): Promise<Dev> {
  const port = await freePort();
  const child = spawn(
    NODE,
    [CLI, "dev", `${directory}app.ts`, "--runtime", runtime, "--port", String(port), "--persist", `${directory}.state`, ...extra],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => output.push(...chunk.split("\n").filter(Boolean)));
  }
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const dev: Dev = {
    child,
    url: `http://127.0.0.1:${port}`,
    output,
    exited,
    appPid: () => descendants(child.pid!).find((pid) => cmdline(pid).includes(`${directory}`)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
  try {
    await until("the dev server to be ready", () => (output.some((line) => line.includes("ready on")) ? true : child.exitCode !== null ? false : undefined), 60_000);
  } catch (error) {
    await dev.stop();
    throw new Error(`${(error as Error).message}\n${output.join("\n")}`);
  }
  if (child.exitCode !== null) throw new Error(`containerflare dev exited: ${output.join("\n")}`);
  return dev;
}

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
  expect(root.body.request).toMatchObject({ source: "worker", workerName: "containerflare-basic", clientIp: "127.0.0.1", method: "GET", path: "/" });

  expect(await request(dev, `/kv/${tag}`, { method: "PUT", body: `value of ${tag}` })).toEqual({ status: 200, body: { key: tag, stored: true } });
  expect(await request(dev, `/kv/${tag}`)).toEqual({ status: 200, body: `value of ${tag}` });
  const missing = await request(dev, "/kv/never-stored");
  expect(missing.status).toBe(404);

  expect(await request(dev, "/visits")).toEqual({ status: 200, body: { count: 1 } });
  expect(await request(dev, "/visits")).toEqual({ status: 200, body: { count: 2 } });

  const job = { task: "thumbnail", tag };
  expect(await request(dev, "/jobs", { method: "POST", body: JSON.stringify(job) })).toEqual({ status: 202, body: { queued: true } });
  // The dev Worker consumes the queue and logs each message.
  await until("the queued job to be consumed", () =>
    dev.output.some((line) => line.includes(`queue containerflare-basic-jobs: ${JSON.stringify(job)}`)) ? true : undefined,
  );
}

/** Stops the CLI with SIGTERM and checks that nothing it started is left. */
async function stopAndCheck(dev: Dev, directory: string): Promise<void> {
  const started = descendants(dev.child.pid!);
  expect(started.length).toBeGreaterThanOrEqual(2); // workerd and the app, at least
  expect(await dev.stop()).toBe(0);
  await until("every child to be gone", () => (started.every((pid) => !isRunning(pid)) ? true : undefined), 10_000).catch(() => undefined);
  expect(started.filter(isRunning).map((pid) => `${pid} ${cmdline(pid)}`)).toEqual([]);
  expect(processesMentioning(directory)).toEqual([]);
  expect(dev.output.at(-1)).toMatch(/stopped/);
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
      for (const [path, init] of [["/kv/key", {}], ["/kv/key", { method: "PUT", body: "v" }], ["/visits", {}], ["/jobs", { method: "POST", body: "{}" }]] as const) {
        const answer = await request(dev, path, init);
        expect(answer.status, `${init.method ?? "GET"} ${path}`).toBe(503);
        expect(answer.body.error).toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("no command host on Cloud Run") });
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
    const result = spawnSync(system!, [CLI, "dev", "examples/basic/app.ts"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^containerflare: dev needs Node\.js >= 22 for Miniflare, this is Node\.js 2\d\./)]);
  });
});
