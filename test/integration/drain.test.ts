/**
 * Graceful drain under continuous keep-alive load, on every runtime (issue 9 item 2): after SIGTERM
 * every response says `Connection: close`, no started request goes unanswered, and the process
 * exits 0 far inside the shutdown deadline; the deadline path still force-closes and exits 1.
 */
import { Agent, request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { sleep } from "../../src/internal/sleep.ts";
import { parseResponses, rawConnection, rawRequest } from "./raw-http.ts";
import { ROOT, RUNTIMES, type RunningApp, startApp, waitForLine } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/drain-app.mjs`;
const ENV = { CONTAINERFLARE_LOG_FORMAT: "json", CONTAINERFLARE_SHUTDOWN_TIMEOUT: "25" };
/** Keep-alive sockets the load uses: one request at a time on each, as a busy proxy would. */
const SOCKETS = 16;
/** Bounds of the load: per socket loop, and in time after the signal. */
const MAX_REQUESTS_PER_LOOP = 1500;
const LOAD_AFTER_SIGNAL_MS = 6000;
/** Far inside the 25 s deadline and the load's length, generous for a loaded 2-core machine. */
const DRAIN_LIMIT_MS = 5000;

interface Answer {
  status: number;
  connection: string | undefined;
  afterSigterm: boolean;
  body: string;
  /** Whether the request was sent after the test saw the fixture's signal line. */
  sentAfterSignal: boolean;
}

interface DrainReport {
  started: number;
  finished: number;
  waitUntilScheduled: number;
  waitUntilDone: number;
}

/** One GET on `agent`; resolves with the whole answer or the client-side error code. */
function get(agent: Agent, url: string, sentAfterSignal: boolean): Promise<Answer | { error: string }> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { agent, timeout: 8000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          connection: response.headers.connection,
          afterSigterm: response.headers["x-after-sigterm"] === "1",
          body,
          sentAfterSignal,
        }),
      );
      response.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end();
  });
}

function drainReport(app: RunningApp): DrainReport | undefined {
  return app.jsonLogs().find((line) => "drainReport" in line)?.drainReport as DrainReport | undefined;
}

/** Handler time per request: mostly 2–20 ms, every 10th 60 ms; every 7th defers waitUntil work. */
function workPath(n: number): string {
  const ms = n % 10 === 0 ? 60 : 2 + (n % 19);
  return `/work?ms=${ms}${n % 7 === 0 ? "&defer=1" : ""}${n % 13 === 0 ? "&redirect=1" : ""}`;
}

describe.each(RUNTIMES)("graceful drain on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("under continuous keep-alive load: closes every connection, answers every started request, exits 0 fast", {
    timeout: 60_000,
  }, async () => {
    const running = (app = await startApp(runtime, APP, ENV));
    const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
    const slowAgent = new Agent({ keepAlive: true, maxSockets: 2 });
    const answers: Answer[] = [];
    const failures: string[] = [];
    let exited = false;
    let exitedAt = 0;
    let signalledAt = 0;
    const exit = running.exited.then((code) => {
      exited = true;
      exitedAt = performance.now();
      return code;
    });
    const signalSeen = () => running.stderr.includes("signal SIGTERM");
    const loadOver = () => exited || (signalledAt > 0 && performance.now() - signalledAt > LOAD_AFTER_SIGNAL_MS);

    let sent = 0;
    async function loop() {
      for (let i = 0; i < MAX_REQUESTS_PER_LOOP && !loadOver(); i++) {
        const result = await get(agent, `${running.url}${workPath(sent++)}`, signalSeen());
        if ("error" in result) {
          failures.push(result.error);
          await sleep(5); // a refused connection answers at once: do not spin
        } else answers.push(result);
      }
    }
    const loops = Array.from({ length: SOCKETS }, loop);

    // Let the load reach every socket, then put a slow request in flight and signal.
    const warm = Date.now() + 10_000;
    while (answers.length < 200 && Date.now() < warm) await sleep(10);
    const slow = get(slowAgent, `${running.url}/work?ms=1200&announce=slow`, false);
    // Response.redirect() has immutable headers: Bun and Deno need a copy to say `Connection: close`.
    const slowRedirect = get(slowAgent, `${running.url}/work?ms=1000&announce=redirect&redirect=1`, false);
    await waitForLine(running, "started slow");
    await waitForLine(running, "started redirect");
    signalledAt = performance.now();
    running.child.kill("SIGTERM");

    const code = await Promise.race([exit, sleep(40_000).then(() => "still running")]);
    const slowAnswer = await slow;
    const redirectAnswer = await slowRedirect;
    await Promise.all(loops);
    agent.destroy();
    slowAgent.destroy();
    const drainMs = Math.round((exitedAt || performance.now()) - signalledAt);
    const report = drainReport(running);
    const work = answers.filter((answer) => answer.status === 200 || answer.status === 302);
    const afterSignal = answers.filter((answer) => answer.afterSigterm || answer.sentAfterSignal);
    const sentAfterSignal = answers.filter((answer) => answer.sentAfterSignal);
    console.info(
      `${runtime.name}: exit ${code} after ${drainMs} ms; ${answers.length} answered (${afterSignal.length} after SIGTERM, ` +
        `${sentAfterSignal.length} of them sent after it), ${failures.length} failed client-side, started ${report?.started}`,
    );

    expect(code).toBe(0);
    expect(drainMs).toBeLessThan(DRAIN_LIMIT_MS);
    // Every request the handler started was answered: the ones that failed never started.
    expect(report).toBeDefined();
    expect(work.length + [slowAnswer, redirectAnswer].filter((answer) => !("error" in answer)).length).toBe(
      report!.started,
    );
    expect(answers.every((answer) => answer.status === 200 || answer.status === 302)).toBe(true);
    expect([...new Set(failures)].filter((error) => !["ECONNREFUSED", "ECONNRESET", "EPIPE"].includes(error))).toEqual(
      [],
    );
    // Every response built or requested after SIGTERM told its client to close the connection.
    expect(afterSignal.length).toBeGreaterThan(0);
    expect(afterSignal.filter((answer) => answer.connection?.toLowerCase() !== "close")).toEqual([]);
    // No connection served a new request once its in-flight one was answered: at most the one a
    // client had already sent on each socket when the signal arrived.
    expect(sentAfterSignal.length).toBeLessThanOrEqual(SOCKETS);
    // The request in flight at SIGTERM was answered completely, with `Connection: close`.
    expect(slowAnswer).toMatchObject({ status: 200, body: "done 1200", afterSigterm: true, connection: "close" });
    expect(redirectAnswer).toMatchObject({ status: 302, connection: "close" });
    // waitUntil work and the onShutdown hook ran after the last response.
    expect(report!.finished).toBe(report!.started);
    expect(report!.waitUntilDone).toBe(report!.waitUntilScheduled);
    expect(report!.waitUntilScheduled).toBeGreaterThan(0);
  });

  it("starts no request sent on a connection after its in-flight response closed it", { timeout: 60_000 }, async () => {
    const running = (app = await startApp(runtime, APP, ENV));
    const connection = rawConnection(running);
    connection.socket.write(rawRequest("/work?ms=600&announce=first"));
    await waitForLine(running, "started first");
    running.child.kill("SIGTERM");
    // The next request goes out the moment the first answer is complete, as a keep-alive client's would.
    const deadline = Date.now() + 10_000;
    while (parseResponses(connection.raw()).length === 0 && Date.now() < deadline) await sleep(1);
    if (!connection.socket.destroyed) connection.socket.write(rawRequest("/work?ms=5&late=1"));

    const code = await Promise.race([running.exited, sleep(40_000).then(() => "still running")]);
    await connection.close();
    const responses = parseResponses(connection.raw());
    expect(code).toBe(0);
    expect(drainReport(running)?.started).toBe(1);
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ status: 200, body: "done 600" });
    expect(responses[0]?.headers.connection?.toLowerCase()).toBe("close");
  });

  // Bun 1.4 closes a connection, dropping the pending response, whenever a request is pipelined
  // behind an asynchronous one, with or without a drain (upstream: oven-sh/bun#38128).
  it.skipIf(runtime.name === "bun")(
    "answers or never starts requests pipelined behind the one in flight at SIGTERM",
    { timeout: 60_000 },
    async () => {
      const running = (app = await startApp(runtime, APP, ENV));
      const connection = rawConnection(running);
      // Two pipelined before the signal (Node starts both at once, Deno one after the other), two after it.
      connection.socket.write(rawRequest("/work?ms=800&announce=first") + rawRequest("/work?ms=5"));
      await waitForLine(running, "started first");
      running.child.kill("SIGTERM");
      await waitForLine(running, "signal SIGTERM");
      connection.socket.write(rawRequest("/work?ms=5&after=1") + rawRequest("/work?ms=5&after=2"));

      const code = await Promise.race([running.exited, sleep(40_000).then(() => "still running")]);
      await connection.close();
      const responses = parseResponses(connection.raw());
      const report = drainReport(running);
      expect(code).toBe(0);
      expect(report).toBeDefined();
      // Every request that started was answered, in order, and the connection ended after the last.
      expect(responses.map((response) => response.status)).toEqual(Array.from({ length: report!.started }, () => 200));
      expect(responses[0]?.body).toBe("done 800");
      expect(responses.at(-1)?.headers.connection?.toLowerCase()).toBe("close");
    },
  );

  it("still force-closes a stuck handler at the deadline and exits 1", { timeout: 60_000 }, async () => {
    const running = (app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_SHUTDOWN_TIMEOUT: "1" }));
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const stuck = get(agent, `${running.url}/work?ms=30000&announce=stuck`, false);
    await waitForLine(running, "started stuck");
    const signalled = performance.now();
    running.child.kill("SIGTERM");
    const code = await Promise.race([running.exited, sleep(20_000).then(() => "still running")]);
    const elapsed = performance.now() - signalled;
    agent.destroy();
    expect(code).toBe(1);
    expect(elapsed).toBeGreaterThan(900);
    expect(elapsed).toBeLessThan(10_000);
    expect(await stuck).toMatchObject({ error: expect.any(String) });
    expect(running.jsonLogs().some((line) => String(line.message).includes("did not finish within 1s"))).toBe(true);
    expect(drainReport(running)).toBeUndefined();
  });
});
