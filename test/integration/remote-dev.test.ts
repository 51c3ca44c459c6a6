/**
 * `containerflare dev` lends its bindings to a second process started as Cloud Run starts one:
 * the real CLI (dist/) runs test/fixtures/remote/app.mjs with local KV, D1, Queue and R2 and the
 * secret from its environment; the same app code, served under node, bun and deno with
 * `K_SERVICE`, `CF_CMD_ENDPOINT=http://127.0.0.1:<dev port>/__containerflare/v1/commands` and
 * that secret, reads what the dev app wrote and writes what the dev app then reads. And a Cloud
 * Run start with an https:// endpoint but no secret stops with one line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/cli/dev/ports.ts";
import { REMOTE_COMMAND_PATH } from "../../src/worker/remote-route.ts";
import { requireBuiltCli } from "../fixtures/cli/harness.ts";
import { until } from "./dev-checks.ts";
import { ROOT, RUNTIMES, type RunningApp, spawnApp, startApp } from "./runtimes.ts";

const CLI = `${ROOT}dist/src/cli/index.js`;
const NODE = `${ROOT}node_modules/.bin/node`;
const SECRET = randomBytes(32).toString("hex");
// A copy inside the package (so that `import "containerflare"` resolves to it), in the ignored .tmp.
const DIRECTORY = `${ROOT}.tmp/remote-dev/run-${process.pid}/`;

interface Dev {
  child: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<number | string>;
}

let dev: Dev;

beforeAll(async () => {
  requireBuiltCli();
  rmSync(DIRECTORY, { recursive: true, force: true });
  mkdirSync(DIRECTORY, { recursive: true });
  const source = `${ROOT}test/fixtures/remote/`;
  for (const file of readdirSync(source)) copyFileSync(`${source}${file}`, `${DIRECTORY}${file}`);

  const port = await freePort();
  const child = spawn(
    NODE,
    [CLI, "dev", `${DIRECTORY}app.mjs`, "--port", String(port), "--persist", `${DIRECTORY}.state`, "--no-watch"],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", CONTAINERFLARE_SECRET: SECRET },
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
  dev = { child, url: `http://127.0.0.1:${port}`, output, exited };
  await until(
    "the dev server to be ready",
    () => (output.some((line) => line.includes("ready on")) ? true : child.exitCode !== null ? false : undefined),
    60_000,
  ).then((ready) => {
    if (!ready) throw new Error(`containerflare dev exited: ${output.join("\n")}`);
  });
});

afterAll(async () => {
  if (dev && dev.child.exitCode === null) {
    dev.child.kill("SIGTERM");
    const timer = setTimeout(() => dev.child.kill("SIGKILL"), 20_000);
    await dev.exited;
    clearTimeout(timer);
  }
  rmSync(DIRECTORY, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field.
async function call(base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("json");
  return { status: response.status, body: json ? JSON.parse(text) : text };
}

/** The environment Cloud Run gives a service, with dev's route as its command host. */
function cloudRunEnv(port: number, secret = SECRET): Record<string, string> {
  return {
    K_SERVICE: "remote-dev",
    K_REVISION: "remote-dev-00001",
    K_CONFIGURATION: "remote-dev",
    PORT: String(port),
    CF_CMD_ENDPOINT: `${dev.url}${REMOTE_COMMAND_PATH}`,
    CONTAINERFLARE_SECRET: secret,
  };
}

describe("containerflare dev's public command route", () => {
  it("is announced with the secret's origin", () => {
    expect(dev.output).toContainEqual(
      expect.stringContaining(`remote commands on ${dev.url}${REMOTE_COMMAND_PATH}, signed with CONTAINERFLARE_SECRET`),
    );
  });

  it("answers nothing unsigned, and the dev app's own routes still reach the app", async () => {
    const unsigned = await fetch(`${dev.url}${REMOTE_COMMAND_PATH}`, {
      method: "POST",
      body: JSON.stringify({ v: 1, id: 1, command: "kv.put", payload: { binding: "CACHE", key: "k", value: "x" } }),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(dev.url, "/kv/k")).toEqual({ status: 200, body: { value: null } });
    expect(await call(dev.url, "/")).toEqual({ status: 200, body: { platform: "cloudflare" } });
  });
});

describe.each(RUNTIMES)("a second app process on $name with a Cloud Run environment", (runtime) => {
  let app: RunningApp | undefined;
  afterAll(async () => {
    await app?.stop();
  });

  it("uses dev's KV, D1, Queue and R2: sees what the dev app wrote, and the dev app sees its writes", async () => {
    const tag = runtime.name;
    const port = await freePort();
    app = await startApp(runtime, `${DIRECTORY}serve.mjs`, cloudRunEnv(port));
    const remote = app.url;
    expect(await call(remote, "/")).toEqual({ status: 200, body: { platform: "cloud-run" } });

    // KV: written by the dev app, read on "Cloud Run"; and the other way round.
    expect((await call(dev.url, `/kv/dev-${tag}`, { method: "PUT", body: `dev for ${tag}` })).status).toBe(200);
    expect(await call(remote, `/kv/dev-${tag}`)).toEqual({ status: 200, body: { value: `dev for ${tag}` } });
    expect(await call(remote, `/kv/run-${tag}`, { method: "PUT", body: `from ${tag}` })).toEqual({
      status: 200,
      body: { stored: `run-${tag}` },
    });
    expect(await call(dev.url, `/kv/run-${tag}`)).toEqual({ status: 200, body: { value: `from ${tag}` } });

    // D1: one table, rows from both sides.
    await call(dev.url, "/d1", { method: "POST", body: `dev before ${tag}` });
    const remoteNotes = (await call(remote, "/d1", { method: "POST", body: `${tag} note` })).body.notes;
    expect(remoteNotes.slice(-2)).toEqual([`dev before ${tag}`, `${tag} note`]);
    expect((await call(dev.url, "/d1")).body.notes).toEqual(remoteNotes);

    // R2: bytes both ways.
    const bytes = randomBytes(32 * 1024);
    expect(
      await call(remote, `/r2/${tag}.bin`, {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "application/x-test" },
      }),
    ).toEqual({ status: 200, body: { stored: `${tag}.bin`, size: bytes.byteLength } });
    const viaDev = await fetch(`${dev.url}/r2/${tag}.bin`);
    expect(viaDev.headers.get("content-type")).toBe("application/x-test");
    expect(Buffer.from(await viaDev.arrayBuffer()).equals(bytes)).toBe(true);
    await call(dev.url, `/r2/dev-${tag}.txt`, {
      method: "PUT",
      body: `dev file for ${tag}`,
      headers: { "content-type": "text/plain" },
    });
    expect(await call(remote, `/r2/dev-${tag}.txt`)).toEqual({ status: 200, body: `dev file for ${tag}` });

    // Queue: what "Cloud Run" sends is consumed by dev's Worker, which prints it.
    const job = { job: "from Cloud Run", runtime: tag };
    expect(await call(remote, "/queue", { method: "POST", body: JSON.stringify(job) })).toEqual({
      status: 202,
      body: { queued: true },
    });
    await until("the queued job in dev's output", () =>
      dev.output.some((line) => line.includes(`queue containerflare-remote-jobs: ${JSON.stringify(job)}`))
        ? true
        : undefined,
    );
  }, 90_000);
});

describe("a Cloud Run process with the wrong secret", () => {
  it("gets FORBIDDEN from every binding and changes nothing", async () => {
    const node = RUNTIMES[0]!;
    const port = await freePort();
    const app = await startApp(node, `${DIRECTORY}serve.mjs`, cloudRunEnv(port, "not the dev secret"));
    try {
      await call(dev.url, "/kv/guarded", { method: "PUT", body: "by dev" });
      const answer = await call(app.url, "/kv/guarded", { method: "PUT", body: "by a stranger" });
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ code: "FORBIDDEN" });
      expect(await call(dev.url, "/kv/guarded")).toEqual({ status: 200, body: { value: "by dev" } });
    } finally {
      await app.stop();
    }
  }, 60_000);
});

describe.each(RUNTIMES)("Cloud Run on $name, an https:// endpoint and no secret", (runtime) => {
  it("stops start-up with one line naming what is missing", async () => {
    const port = await freePort();
    const app = spawnApp(runtime, `${DIRECTORY}serve.mjs`, {
      K_SERVICE: "remote-dev",
      PORT: String(port),
      CF_CMD_ENDPOINT: "https://worker.example/__containerflare/v1/commands?token=hidden",
    });
    expect(await app.exited).toBe(1);
    expect(app.stderr.filter(Boolean)).toEqual([
      "containerflare: CF_CMD_ENDPOINT=https://worker.example/__containerflare/v1/commands needs CONTAINERFLARE_SECRET on Cloud Run: the Worker's command route answers signed requests only (gcloud run deploy --set-secrets CONTAINERFLARE_SECRET=<secret>:latest)",
    ]);
    expect(app.stdout.filter(Boolean)).toEqual([]);
  }, 30_000);
});
