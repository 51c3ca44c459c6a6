/**
 * `containerflare dev` running the app's own Worker: the real CLI (dist/, on the repository's
 * Node 24) bundles each example's worker.ts and runs it in workerd with every container class on
 * dev's `ctx.container`, whose containers are app processes under node (24, and the machine's
 * Node 20), bun and deno. The Worker's own code does everything: its routing, the signed
 * metadata header (the app trusts it only with the secret the Worker passed to its container),
 * and the command bus through its own interception (`withContainerflare` on
 * `@cloudflare/containers`, whose ContainerProxy is the real package's). Each run works on a copy
 * inside the repository's .tmp directory, removed afterwards.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyApp, type DevCli, startDevCli } from "../../bench/lib/dev-cli.ts";
import { commandLine, descendants, isRunning } from "../../bench/lib/proctree.ts";
import { checkedDev, until } from "./dev-checks.ts";
import { ROOT } from "./runtimes.ts";

const NODE = `${ROOT}node_modules/.bin/node`;
const CLI = `${ROOT}dist/src/cli/index.js`;

const created: string[] = [];
afterAll(() => {
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

/** A fresh copy of an example (every file of it) under .tmp, as a path ending in "/". */
function copyExample(example: string, tag: string): string {
  const directory = copyApp(ROOT, join(ROOT, "examples", example), `dev-worker-${process.pid}-${example}-${tag}`);
  created.push(directory);
  return `${directory}/`;
}

// biome-ignore lint/suspicious/noExplicitAny: the apps' JSON answers are read field by field.
async function get(dev: DevCli, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(`${dev.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}

/** The app processes the CLI runs from `directory` (each a runtime running the runner). */
function appProcesses(dev: DevCli, directory: string): number[] {
  return descendants(dev.child.pid!).filter((pid) => commandLine(pid).includes(directory));
}

/** PATH without node_modules/.bin directories (npm scripts put the repository's Node 24 first). */
const SYSTEM_PATH = (process.env.PATH ?? "")
  .split(":")
  .filter((dir) => !dir.includes("node_modules"))
  .join(":");
/** The machine's Node: the app runs on it when dev starts outside the repository, with {@link SYSTEM_PATH}. */
const SYSTEM_NODE = spawnSync("sh", ["-c", "command -v node"], {
  env: { PATH: SYSTEM_PATH },
  encoding: "utf8",
}).stdout.trim();

const RUNS = [
  { name: "node", runtime: "node" as const },
  { name: "node (the machine's Node 20)", runtime: "node" as const, cwd: "/tmp", binary: SYSTEM_NODE },
  { name: "bun", runtime: "bun" as const },
  { name: "deno", runtime: "deno" as const },
];

/** A copy of `example` under dev, its app on `run`'s runtime. */
async function startExample(
  example: string,
  run: (typeof RUNS)[number],
  args: string[] = [],
): Promise<{ directory: string; dev: DevCli }> {
  const directory = copyExample(example, run.name.split(" ")[0]! + (run.cwd ? "20" : ""));
  const dev = await startDevCli({
    root: ROOT,
    directory,
    entry: "app.ts",
    runtime: run.runtime,
    args,
    ...(run.cwd ? { cwd: run.cwd, env: { PATH: SYSTEM_PATH } } : {}),
  });
  return { directory, dev };
}

describe.each(RUNS)("containerflare dev runs examples/basic's own worker.ts, app on $name", (run) => {
  it("forwards through the Worker's Container class, answers the command bus through its interception, drains on stop", async () => {
    const { directory, dev } = await startExample("basic", run, ["--trigger-cron", "0 3 * * *"]);
    await checkedDev(dev, directory, async () => {
      expect(dev.output.some((line) => line.includes("worker.ts (your Worker) in workerd"))).toBe(true);
      const home = await get(dev, "/");
      expect(home).toMatchObject({ status: 200 });
      expect(home.body.platform.kind).toBe("cloudflare");
      expect(home.body.platform.cloudflare.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      // "worker": the app verified the Worker's signature with the secret the Worker gave its container.
      expect(home.body.request.source).toBe("worker");
      expect(home.body.request.clientIp).toBe("127.0.0.1");

      const [pid] = appProcesses(dev, directory);
      expect(pid).toBeTypeOf("number");
      if (run.binary) expect(commandLine(pid!).split(" ")[0]).toBe(run.binary);

      // D1 and KV through withContainerflare's handler, reached through the package's ContainerProxy.
      const first = await get(dev, "/visits");
      const second = await get(dev, "/visits");
      expect(first.status).toBe(200);
      expect(second.body.count).toBe(first.body.count + 1);
      expect((await get(dev, "/kv/greeting", { method: "PUT", body: "hi" })).status).toBeLessThan(300);
      expect((await get(dev, "/kv/greeting")).body).toBe("hi");
      // The Worker (forwardTo) consumes the queue and forwards the batch to the app's queue
      // handler through the Container class; the handler records the job in D1 and acks it.
      expect((await get(dev, "/jobs", { method: "POST", body: '{"job":1}' })).status).toBe(202);
      await until("the job processed by the app's queue handler", async () =>
        (await get(dev, "/jobs")).body.jobs?.some(
          (entry: { body: unknown }) => JSON.stringify(entry.body) === '{"job":1}',
        )
          ? true
          : undefined,
      );
      // --trigger-cron ran the app's scheduled handler through the Worker's scheduled (forwardTo).
      await until("the Cron Trigger's outcome", () =>
        dev.output.some((line) => line.includes('scheduled "0 3 * * *": ok')) ? true : undefined,
      );
      expect(dev.output.some((line) => line.includes('cron \\"0 3 * * *\\": removed 0 visits'))).toBe(true);
      // One container: one process.
      expect(appProcesses(dev, directory)).toEqual([pid]);
    });
    expect(dev.output.some((line) => line.includes("received SIGTERM, draining"))).toBe(true);
    expect(dev.output.some((line) => line.includes("shutdown complete"))).toBe(true);
  }, 120_000);
});

describe.each(RUNS)("containerflare dev runs examples/durable-object's own worker.ts, app on $name", (run) => {
  it("starts one container per room on the Durable Object Container API, each its own process, and drains them all on stop", async () => {
    const { directory, dev } = await startExample("durable-object", run, ["--trigger-cron", "0 * * * *"]);
    await checkedDev(dev, directory, async () => {
      // --trigger-cron: the Worker's scheduled sent it to the lobby's container (forwardScheduled).
      await until("the Cron Trigger's outcome", () =>
        dev.output.some((line) => line.includes('scheduled "0 * * * *": ok')) ? true : undefined,
      );
      const lobby = await get(dev, "/rooms/lobby/");
      const kitchen = await get(dev, "/rooms/kitchen/");
      expect(lobby).toMatchObject({ status: 200, body: { room: "lobby", visits: 1, request: { source: "worker" } } });
      expect(kitchen).toMatchObject({ status: 200, body: { room: "kitchen", visits: 1 } });
      expect(lobby.body.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      expect(kitchen.body.lastCron).toEqual({
        cron: "0 * * * *",
        at: expect.any(String),
        durableObjectId: lobby.body.durableObjectId,
      });
      expect(kitchen.body.durableObjectId).not.toBe(lobby.body.durableObjectId);
      expect((await get(dev, "/rooms/lobby/")).body).toMatchObject({
        visits: 2,
        durableObjectId: lobby.body.durableObjectId,
      });
      const processes = appProcesses(dev, directory);
      expect(processes).toHaveLength(2);
      if (run.binary) for (const pid of processes) expect(commandLine(pid).split(" ")[0]).toBe(run.binary);
    });
    // Both rooms' apps drained on SIGTERM.
    expect(dev.output.filter((line) => line.includes("received SIGTERM, draining"))).toHaveLength(2);
    expect(dev.output.filter((line) => line.includes("shutdown complete"))).toHaveLength(2);
  }, 120_000);
});

describe.each(["hono", "h3", "itty"])("containerflare dev runs examples/%s's own worker.ts", (example) => {
  it("serves the app through it with the Worker's signed metadata and bindings", async () => {
    const directory = copyExample(example, "node");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      const home = await get(dev, "/");
      expect(home).toMatchObject({ status: 200 });
      expect(JSON.stringify(home.body)).toContain('"source":"worker"');
      expect((await get(dev, "/kv/answer", { method: "PUT", body: "42" })).status).toBeLessThan(300);
      expect((await get(dev, "/kv/answer")).body).toBe(42);
    });
  }, 90_000);
});

describe("containerflare dev reloads the app's own Worker and its instances", () => {
  it("restarts the instances when app.ts changes and reloads the Worker when worker.ts changes", async () => {
    const directory = copyExample("basic", "reload");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", watch: true });
    await checkedDev(dev, directory, async () => {
      expect(await get(dev, "/nowhere")).toMatchObject({
        status: 404,
        body: { error: { message: expect.stringMatching(/^no route for/) } },
      });
      const before = appProcesses(dev, directory);
      expect(before).toHaveLength(1);

      const app = readFileSync(`${directory}app.ts`, "utf8");
      writeFileSync(`${directory}app.ts`, app.replace("no route for", "nothing is served at"));
      // A request that reaches the instance while it restarts waits for the new process: no 5xx.
      await until("the restarted instance", async () => {
        const answer = await get(dev, "/nowhere");
        if (answer.status >= 500)
          throw new Error(`answered ${answer.status} during the restart: ${JSON.stringify(answer.body)}`);
        return answer.body?.error?.message?.startsWith("nothing is served at") ? true : undefined;
      });
      expect(dev.output.some((line) => line.includes("changed: restarting the app's instances"))).toBe(true);
      expect(isRunning(before[0]!)).toBe(false);

      // The Worker now keeps CACHE from the container: the app no longer has that binding.
      const worker = readFileSync(`${directory}worker.ts`, "utf8");
      expect(worker).toContain('allow: ["CACHE", "DB", "JOBS"]');
      writeFileSync(`${directory}worker.ts`, worker.replace('allow: ["CACHE", "DB", "JOBS"]', 'allow: ["DB", "JOBS"]'));
      // While workerd reloads, its port refuses connections for a moment (as under wrangler dev).
      const refused = await until("the reloaded Worker", async () => {
        const answer = await get(dev, "/kv/greeting").catch(() => undefined);
        if (!answer) return undefined;
        return answer.body?.error?.code === "NO_BINDING" ? answer : undefined;
      });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(dev.output.some((line) => line.includes("worker.ts changed: reloading the Worker"))).toBe(true);
      expect(dev.output.some((line) => line.includes("the Worker reloaded"))).toBe(true);
      // D1 is still allowed, and its data persisted across the reload.
      expect((await get(dev, "/visits")).status).toBe(200);
    });
  }, 120_000);
});

describe("containerflare dev runs the Container class's own lifecycle", () => {
  it("stops the container once sleepAfter passes (the package's alarm, SIGTERM), and the next request starts a new one", async () => {
    const directory = copyExample("basic", "sleep");
    const worker = readFileSync(`${directory}worker.ts`, "utf8");
    expect(worker).toContain('sleepAfter = "5m"');
    writeFileSync(`${directory}worker.ts`, worker.replace('sleepAfter = "5m"', 'sleepAfter = "2s"'));
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      expect((await get(dev, "/")).status).toBe(200);
      const [first] = appProcesses(dev, directory);
      await until(
        "the idle container to stop",
        () =>
          dev.output.some((line) => line.includes('BasicApp "cf-singleton-container" exited with code 0'))
            ? true
            : undefined,
        20_000,
      );
      expect(dev.output.some((line) => line.includes("received SIGTERM, draining"))).toBe(true);
      expect(isRunning(first!)).toBe(false);
      expect((await get(dev, "/")).status).toBe(200);
      expect(appProcesses(dev, directory)).toHaveLength(1);
      expect(appProcesses(dev, directory)[0]).not.toBe(first);
    });
  }, 90_000);
});

/** Runs `containerflare dev` on `directory` and returns its exit code and stderr lines (it must fail at once). */
function failingDev(directory: string): { status: number | null; lines: string[] } {
  const result = spawnSync(NODE, [CLI, "dev", `${directory}app.ts`, "--no-watch"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, lines: result.stderr.trim().split("\n").filter(Boolean) };
}

describe("containerflare dev refuses a Worker it cannot run, in one line", () => {
  it("names a container class the Worker does not export", () => {
    const directory = copyExample("basic", "unknown-export");
    const config = readFileSync(`${directory}wrangler.jsonc`, "utf8");
    writeFileSync(`${directory}wrangler.jsonc`, config.replaceAll('"BasicApp"', '"NoSuchClass"'));
    const { status, lines } = failingDev(directory);
    expect(status).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(
        /^containerflare: .*wrangler\.jsonc: containers names the class "NoSuchClass", but .*worker\.ts does not export it \(it exports BasicApp, ContainerProxy\)$/,
      ),
    ]);
  });

  it("names the missing ContainerProxy export of a Worker on @cloudflare/containers", () => {
    const directory = copyExample("basic", "no-proxy");
    const worker = readFileSync(`${directory}worker.ts`, "utf8");
    writeFileSync(`${directory}worker.ts`, worker.replace("export { ContainerProxy };", ""));
    const { status, lines } = failingDev(directory);
    expect(status).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(
        /^containerflare: .*worker\.ts uses @cloudflare\/containers but does not export ContainerProxy: add `export \{ ContainerProxy \} from "@cloudflare\/containers";`/,
      ),
    ]);
  });
});

/** A copy of test/fixtures/dev-container-api (a Worker driving `ctx.container` by hand). */
function copyFixture(tag: string): string {
  const directory = copyApp(
    ROOT,
    join(ROOT, "test", "fixtures", "dev-container-api"),
    `dev-worker-${process.pid}-api-${tag}`,
  );
  created.push(directory);
  return `${directory}/`;
}

describe("containerflare dev's ctx.container, as the Durable Object Container API sees it", () => {
  it("runs one app process per Durable Object, with the start env, the object's id and its interception", async () => {
    const directory = copyFixture("instances");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      expect((await get(dev, "/boxes/a/state")).body).toEqual({ running: false });
      expect((await get(dev, "/boxes/a/start")).body).toEqual({ running: true });
      expect((await get(dev, "/boxes/a/ready")).body.ready).toBe(true);
      expect((await get(dev, "/boxes/b/start")).body).toEqual({ running: true });
      expect((await get(dev, "/boxes/b/ready")).body.ready).toBe(true);

      const a = (await get(dev, "/boxes/a/app/who")).body;
      const b = (await get(dev, "/boxes/b/app/who")).body;
      expect(a.greeting).toBe("hello a");
      expect(b.greeting).toBe("hello b");
      expect(a.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      expect(b.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      expect(a.durableObjectId).not.toBe(b.durableObjectId);
      expect(a.pid).not.toBe(b.pid);
      // The same name reaches the same object and process.
      expect((await get(dev, "/boxes/a/app/who")).body).toEqual(a);
      expect(appProcesses(dev, directory)).toHaveLength(2);

      // KV through the Durable Object's own interception (its Host entrypoint): one count per object.
      expect((await get(dev, "/boxes/a/app/count")).body).toEqual({ count: 1 });
      expect((await get(dev, "/boxes/a/app/count")).body).toEqual({ count: 2 });
      expect((await get(dev, "/boxes/b/app/count")).body).toEqual({ count: 1 });
      // Not through the object: a request under its blockConcurrencyWhile gets its command answered.
      expect((await get(dev, "/boxes/b/locked/count")).body).toEqual({ count: 2 });

      // max_instances is 2: a third object's container is refused with the platform's words.
      await get(dev, "/boxes/c/start");
      expect((await get(dev, "/boxes/c/outcome")).body).toEqual({
        outcome: "there is no container instance that can be provided to this durable object",
        running: false,
      });

      // An exit code reaches monitor() as the platform words it; the object can start a new one.
      await get(dev, "/boxes/a/app/exit?code=3");
      expect((await get(dev, "/boxes/a/outcome")).body).toEqual({
        outcome: "container exited with unexpected exit code: 3",
        running: false,
      });
      expect((await get(dev, "/boxes/a/not-listening")).body.error).toMatch(/the container is not running/);
      await get(dev, "/boxes/a/start");
      expect((await get(dev, "/boxes/a/ready")).body.ready).toBe(true);
      expect((await get(dev, "/boxes/a/app/who")).body.pid).not.toBe(a.pid);

      // signal(15): the app drains and exits 0.
      await get(dev, "/boxes/b/signal");
      expect((await get(dev, "/boxes/b/outcome")).body).toEqual({ outcome: "exited 0", running: false });
      // destroy(): killed.
      await get(dev, "/boxes/a/destroy");
      expect((await get(dev, "/boxes/a/outcome")).body).toEqual({
        outcome: "runtime signalled the container to exit: 137",
        running: false,
      });
      await until("no app process left", () => (appProcesses(dev, directory).length === 0 ? true : undefined));
    });
    expect(dev.output.some((line) => line.includes("received SIGTERM, draining"))).toBe(true);
    expect(dev.output.some((line) => line.includes("max_instances is 2"))).toBe(true);
  }, 120_000);

  it("stops an instance after its inactivity timeout, and answers only the instance's own command route", async () => {
    const directory = copyFixture("idle");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      await get(dev, "/boxes/sleepy/start?idle=1500");
      expect((await get(dev, "/boxes/sleepy/ready")).body.ready).toBe(true);
      const who = (await get(dev, "/boxes/sleepy/app/who")).body;
      expect(who.source).toBe("http");
      // The app's command endpoint names its instance and a token: another one is refused, and so is a browser.
      const endpoint = readFileSync(`/proc/${who.pid}/environ`, "utf8")
        .split("\0")
        .find((entry) => entry.startsWith("CF_CMD_ENDPOINT="))!
        .slice("CF_CMD_ENDPOINT=".length);
      const url = new URL(endpoint);
      const forged = new URL(
        url.pathname.replace(/\/[0-9a-f]{64}\/v1\/commands$/, `/${"0".repeat(64)}/v1/commands`),
        url,
      );
      const frame = JSON.stringify({ v: 1, id: 1, command: "host.ping", payload: {} });
      expect((await fetch(forged, { method: "POST", body: frame })).status).toBe(401);
      expect(
        (await fetch(url, { method: "POST", body: frame, headers: { origin: "http://evil.example" } })).status,
      ).toBe(403);
      const ping = await fetch(url, { method: "POST", body: frame, headers: { "content-type": "application/json" } });
      expect(ping.status).toBe(200);
      expect(await ping.json()).toMatchObject({ v: 1, id: 1, ok: true });

      expect((await get(dev, "/boxes/sleepy/outcome")).body).toEqual({ outcome: "exited 0", running: false });
      expect(dev.output.some((line) => line.includes('Box "sleepy" idle for 1.5s: stopping it (SIGTERM)'))).toBe(true);
    });
  }, 90_000);

  it("reports an app that does not build as the container's exit, in the platform's words", async () => {
    const directory = copyFixture("broken");
    writeFileSync(`${directory}app.ts`, "export default function app( {\n");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      await get(dev, "/boxes/x/start");
      expect((await get(dev, "/boxes/x/outcome")).body).toEqual({
        outcome: "container exited with unexpected exit code: 1",
        running: false,
      });
      expect(dev.output.some((line) => line.includes("the app failed to build"))).toBe(true);
    });
  }, 60_000);

  it("carries an instance's command bus over its stdin/stdout with --commands stdio", async () => {
    const directory = copyFixture("stdio");
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", args: ["--commands", "stdio"] });
    await checkedDev(dev, directory, async () => {
      await get(dev, "/boxes/s/start");
      expect((await get(dev, "/boxes/s/ready")).body.ready).toBe(true);
      expect((await get(dev, "/boxes/s/app/count")).body).toEqual({ count: 1 });
      expect((await get(dev, "/boxes/s/app/count")).body).toEqual({ count: 2 });
    });
  }, 60_000);
});

describe("containerflare dev with containerflareContainer's healthPath", () => {
  it("gives the app process CONTAINERFLARE_HEALTH_PATH and starts a room once its health route answers 200", async () => {
    const directory = copyExample("durable-object", "health");
    const worker = readFileSync(`${directory}worker.ts`, "utf8");
    const patched = worker.replace(
      "inactivityTimeoutMs: 5 * 60_000,",
      'inactivityTimeoutMs: 5 * 60_000, healthPath: "/healthz", startTimeoutMs: 10_000, env: { CONTAINERFLARE_ACCESS_LOG: "1" },',
    );
    expect(patched).not.toBe(worker);
    writeFileSync(`${directory}worker.ts`, patched);
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts" });
    await checkedDev(dev, directory, async () => {
      // Without the variable the app's /healthz is its 404, and the start would wait for a 200 in vain.
      expect(await get(dev, "/rooms/lobby/")).toMatchObject({ status: 200, body: { room: "lobby", visits: 1 } });
      const [pid] = appProcesses(dev, directory);
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      expect(environ).toContain("CONTAINERFLARE_HEALTH_PATH=/healthz");
      // The readiness wait asked the health route (the app's access log has its 200) before the room's request.
      const lines = dev.output.filter((line) => line.includes('"message":"GET /'));
      const probe = lines.findIndex((line) => line.includes('"message":"GET /healthz 200 '));
      expect(probe).toBeGreaterThanOrEqual(0);
      expect(probe).toBeLessThan(lines.findIndex((line) => line.includes('"message":"GET /rooms/lobby/ 200 ')));
    });
  }, 90_000);
});
