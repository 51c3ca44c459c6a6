/**
 * The built-in health route on real node, bun and deno processes: off by default, 200 while
 * serving, 503 once the shutdown began (a slow request keeps the server draining), the app's own
 * route at the path wins, GET and HEAD only, the option wins over the variable, a bad value stops
 * start-up with one line.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../../src/internal/sleep.ts";
import { ROOT, RUNTIMES, type RunningApp, spawnApp, startApp, waitForLine } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/health-app.mjs`;
const ENV = { CONTAINERFLARE_LOG_FORMAT: "json", CONTAINERFLARE_SHUTDOWN_TIMEOUT: "20" };
const HEALTH = { ...ENV, CONTAINERFLARE_HEALTH_PATH: "/healthz" };

/** A raw connection to the app, collecting what it receives until it closes. */
function rawConnection(app: RunningApp): { socket: Socket; received: Promise<string> } {
  const socket = connect(Number(new URL(app.url).port), "127.0.0.1");
  let raw = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (raw += chunk));
  socket.on("error", () => {}); // a reset after the last answer is fine
  const received = new Promise<string>((resolve) => socket.once("close", () => resolve(raw)));
  return { socket, received };
}

describe.each(RUNTIMES)("health route on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("is off by default: the path is the app's 404", async () => {
    app = await startApp(runtime, APP, ENV);
    const response = await fetch(`${app.url}/healthz`);
    expect([response.status, await response.text()]).toEqual([404, "not found"]);
  });

  it("answers GET and HEAD at exactly the path with 200 while serving, and logs them", async () => {
    app = await startApp(runtime, APP, { ...HEALTH, CONTAINERFLARE_ACCESS_LOG: "1" });
    for (const path of ["/healthz", "/healthz?probe=1"]) {
      const response = await fetch(`${app.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.json()).toEqual({ status: "serving" });
    }
    const head = await fetch(`${app.url}/healthz`, { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
    // Other methods and neighbouring paths are the app's.
    for (const [path, method] of [
      ["/healthz", "POST"],
      ["/healthz/", "GET"],
      ["/healthzz", "GET"],
    ] as const) {
      const response = await fetch(`${app.url}${path}`, { method });
      expect([path, method, response.status, await response.text()]).toEqual([path, method, 404, "not found"]);
    }
    // Probes are logged like any request.
    await expect
      .poll(() =>
        app!
          .jsonLogs()
          .filter((line) =>
            (line.httpRequest as { requestUrl?: string } | undefined)?.requestUrl?.endsWith("/healthz"),
          ),
      )
      .toEqual(
        expect.arrayContaining([expect.objectContaining({ httpRequest: expect.objectContaining({ status: 200 }) })]),
      );
  });

  it("never shadows the app's own route at the path", async () => {
    app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_HEALTH_PATH: "/app-health" });
    const response = await fetch(`${app.url}/app-health`);
    expect([response.status, response.headers.get("x-app"), await response.text()]).toEqual([
      200,
      "1",
      "the app's own",
    ]);
  });

  it("takes the serve() option over the variable", async () => {
    app = await startApp(runtime, APP, { ...HEALTH, HEALTH_OPTION: "/ready" });
    expect((await fetch(`${app.url}/ready`)).status).toBe(200);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(404);
  });

  // Once the server stopped listening a new connection is refused, so the probe's connection is
  // opened and its request begun before the signal, and finished after it. Deno's shutdown closes
  // every connection without a request in flight at once: there no probe reaches the app after
  // SIGTERM, and this one must not be answered 200.
  it("answers 503 draining once SIGTERM arrived, while a slow request is still answered", {
    timeout: 30_000,
  }, async () => {
    const running = (app = await startApp(runtime, APP, HEALTH));
    const probe = rawConnection(running);
    probe.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const slow = fetch(`${running.url}/slow?ms=1500`).then(
      async (response) => [response.status, await response.text()],
      (error: Error) => [0, error.message],
    );
    await waitForLine(running, "started slow");
    running.child.kill("SIGTERM");
    await waitForLine(running, "signal SIGTERM");
    if (!probe.socket.destroyed) probe.socket.write("\r\n");
    const raw = await Promise.race([probe.received, sleep(10_000).then(() => "no answer")]);
    probe.socket.destroy();
    if (runtime.name === "deno") expect(raw).toBe("");
    else {
      expect(raw).toMatch(/^HTTP\/1\.1 503 /);
      expect(raw.toLowerCase()).toContain("cache-control: no-store");
      expect(raw.toLowerCase()).toContain("connection: close");
      expect(raw).toContain('{"status":"draining"}');
    }
    expect(await slow).toEqual([200, "slow done"]);
    expect(await Promise.race([running.exited, sleep(20_000).then(() => "still running")])).toBe(0);
  });

  it("stops start-up with one line for a bad path", async () => {
    const started = spawnApp(runtime, APP, { ...ENV, CONTAINERFLARE_HEALTH_PATH: "healthz" });
    expect(await Promise.race([started.exited, sleep(15_000).then(() => "still running")])).toBe(1);
    expect(started.stderr).toEqual([
      'containerflare: invalid CONTAINERFLARE_HEALTH_PATH="healthz": expected a path starting with /, without query or spaces, such as /healthz',
    ]);
  });
});
