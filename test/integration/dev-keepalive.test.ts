/**
 * Keep-alive of background work through `containerflare dev` (the Worker code in workerd, the app
 * as a real process): with the app's own Worker, a Durable Object on the Container API with a
 * 2 s inactivity timeout, a 5 s `waitUntil` task sends `host.keepalive` every 0.5 s, each one
 * renews the timeout (the object answers 204), and the same process outlives the task; without
 * work nothing is sent and the instance stops once idle; a client of the Worker cannot send the
 * keep-alive (401) and it never reaches the app. Through dev's built-in Worker, which never puts
 * the app to sleep, `host.keepalive` answers `{ renewed: false }`; under examples/basic's
 * `@cloudflare/containers` class it renews through `renewActivityTimeout()`. A GET that reaches a
 * container the platform is stopping (SIGTERM, the app draining its last work) waits for it to
 * exit and is answered by a new process. The app runs under node and bun (Container API) and deno
 * (built-in Worker).
 */
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyApp, startDevCli } from "../../bench/lib/dev-cli.ts";
import { checkedDev, until } from "./dev-checks.ts";
import { ROOT } from "./runtimes.ts";

const created: string[] = [];
afterAll(() => {
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

const FIXTURE = join(ROOT, "test", "fixtures", "dev-keepalive");
const TIMEOUT_MS = 2_000;
const IDLE_LINE = /idle for [^:]+: stopping it \(SIGTERM\)/g;

interface Status {
  startedAt: number;
  finished: number;
  paths: string[];
}

const idleStops = (output: string[]) => output.join("\n").match(IDLE_LINE)?.length ?? 0;

const RUNTIMES = ["node", "bun"] as const;

describe.each(RUNTIMES)(
  "keep-alive through containerflare dev and a Durable Object on the Container API (%s)",
  (runtime) => {
    it("keeps the instance awake during a 5 s waitUntil task under a 2 s inactivity timeout, and lets it stop once idle", async () => {
      const directory = `${copyApp(ROOT, FIXTURE, `dev-keepalive-${process.pid}-${runtime}`)}/`;
      created.push(directory);
      const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", runtime, args: ["--worker", "main"] });
      await checkedDev(dev, directory, async () => {
        const room = `${dev.url}/rooms/busy`;
        const get = async <T>(path: string) => (await fetch(`${room}${path}`)).json() as Promise<T>;

        // Without work: no keep-alive, and the instance stops about one timeout after the request.
        const first = await get<Status>("/status");
        await until("the idle instance to stop", () => (idleStops(dev.output) >= 1 ? true : undefined), 15_000);
        expect((await get<{ statuses: number[] }>("/keepalives")).statuses).toEqual([]);

        // A task of 2.5 timeouts: the instance (a new process) is not stopped while it runs.
        const started = await get<Status>("/status");
        expect(started.startedAt).toBeGreaterThan(first.startedAt);
        const stopsBefore = idleStops(dev.output);
        expect((await fetch(`${room}/work?ms=${2.5 * TIMEOUT_MS}`)).status).toBe(202);
        await new Promise((resolve) => setTimeout(resolve, 2.5 * TIMEOUT_MS + 500));
        expect(idleStops(dev.output)).toBe(stopsBefore);
        // Each keep-alive reached the object, which renewed the timeout (204).
        const { statuses } = await get<{ statuses: number[] }>("/keepalives");
        expect(statuses.length).toBeGreaterThanOrEqual(6);
        expect(new Set(statuses)).toEqual(new Set([204]));
        // The same process did the work: it was never stopped and started anew.
        const after = await get<Status>("/status");
        expect(after).toMatchObject({ startedAt: started.startedAt, finished: 1 });
        // The app's own probe: the host renewed.
        expect(await get("/probe")).toEqual({ renewed: true });

        // Work done: the keep-alives stop and the instance stops once idle.
        const sent = (await get<{ statuses: number[] }>("/keepalives")).statuses.length;
        await until(
          "the instance to stop after the work",
          () => (idleStops(dev.output) > stopsBefore ? true : undefined),
          15_000,
        );
        expect((await get<{ statuses: number[] }>("/keepalives")).statuses.length).toBe(sent);

        // A client of the Worker cannot send the keep-alive: the Worker routes it to the object
        // named "v1", whose containerflareContainer refuses it and neither forwards it nor starts
        // a container for it.
        const forged = await fetch(`${dev.url}/__containerflare/v1/keepalive`, { method: "POST" });
        expect(forged.status).toBe(401);
        expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
        expect(dev.output.some((line) => line.includes('"v1": starting the app'))).toBe(false);
        expect(dev.output.some((line) => line.includes('"busy": starting the app'))).toBe(true);
      });
    }, 120_000);

    it("a GET that reaches the container while the platform stops it waits for the exit and is answered by a new one", async () => {
      const directory = `${copyApp(ROOT, FIXTURE, `dev-keepalive-${process.pid}-${runtime}-stopping`)}/`;
      created.push(directory);
      const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", runtime, args: ["--worker", "main"] });
      await checkedDev(dev, directory, async () => {
        const room = `${dev.url}/rooms/stopping`;
        const first = (await (await fetch(`${room}/status`)).json()) as Status;
        // 3 s of work keeps the signalled app draining (not listening, not yet exited) that long.
        expect((await fetch(`${room}/work?ms=3000`)).status).toBe(202);
        expect((await fetch(`${room}/sigterm`)).status).toBe(202);
        await until("the app to drain", () =>
          dev.output.some((line) => /received SIGTERM/.test(line)) ? true : undefined,
        );
        const began = Date.now();
        const during = await fetch(`${room}/status`);
        expect(during.status).toBe(200);
        const answered = (await during.json()) as Status;
        // A new process: the old one finished its work, then exited, before this answer.
        expect(answered.startedAt).toBeGreaterThan(first.startedAt);
        // Its readiness probe, then this request, once.
        expect(answered.paths).toEqual(["/", "/rooms/stopping/status"]);
        expect(Date.now() - began).toBeLessThan(10_000);
        expect(dev.output.join("\n")).toMatch(/the container stopped under a request, which goes to a new one: /);
      });
    }, 90_000);
  },
);

describe("keep-alive through containerflare dev and examples/basic's Container class (@cloudflare/containers)", () => {
  it("renews the Container's sleepAfter: the outbound handler calls renewActivityTimeout() on the container's object", async () => {
    const tag = `dev-keepalive-${process.pid}-containers`;
    const directory = `${copyApp(ROOT, join(ROOT, "examples", "basic"), tag, ["worker.ts", "wrangler.jsonc"])}/`;
    copyFileSync(join(FIXTURE, "app.ts"), `${directory}app.ts`);
    created.push(directory);
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", args: ["--worker", "main"] });
    await checkedDev(dev, directory, async () => {
      // Only true once the RPC to the Container's Durable Object resolved.
      expect(await (await fetch(`${dev.url}/probe`)).json()).toEqual({ renewed: true });
    });
  }, 90_000);
});

describe("keep-alive through containerflare dev's built-in Worker", () => {
  it("answers host.keepalive with renewed: false (nothing sleeps) and logs no failure during work", async () => {
    const directory = `${copyApp(ROOT, FIXTURE, `dev-keepalive-${process.pid}-builtin`, ["app.ts"])}/`;
    created.push(directory);
    const dev = await startDevCli({
      root: ROOT,
      directory,
      entry: "app.ts",
      runtime: "deno",
      args: ["--worker", "builtin"],
      env: { CONTAINERFLARE_KEEPALIVE_INTERVAL: "0.2" },
    });
    await checkedDev(dev, directory, async () => {
      expect(await (await fetch(`${dev.url}/probe`)).json()).toEqual({ renewed: false });
      expect((await fetch(`${dev.url}/work?ms=1500`)).status).toBe(202);
      await until(
        "the task to finish",
        async () => (((await (await fetch(`${dev.url}/status`)).json()) as Status).finished === 1 ? true : undefined),
        10_000,
      );
      expect(dev.output.join("\n")).not.toMatch(/keep-alive failed|host\.keepalive/);
    });
  }, 90_000);
});
