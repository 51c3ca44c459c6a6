// The structured console on real node (24 and the machine's 20), bun and deno processes: console
// output inside a request and its waitUntil work becomes JSON lines with the request's id and
// trace, Error Reporting's fields on error lines, output outside a request stays as it is, and
// CONTAINERFLARE_CONSOLE=plain leaves console alone. Every stdout line must parse in JSON mode.
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { rawConnection, rawRequest } from "./raw-http.ts";
import { ROOT, RUNTIMES, type RunningApp, spawnApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/serve/console-app.mjs`;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const CLOUD_RUN = {
  CONTAINERFLARE_LOG_FORMAT: "json",
  K_SERVICE: "api",
  K_REVISION: "api-00007-abc",
  GOOGLE_CLOUD_PROJECT: "demo-project",
};
const FIXTURE_FILE = /test\/fixtures\/serve\/console-app\.mjs$/;

type Line = Record<string, unknown>;

/** Every stdout line, parsed: fails on the first one that is no JSON. */
function everyLine(app: RunningApp): Line[] {
  return app.stdout
    .filter((text) => text !== "")
    .map((text) => {
      try {
        return JSON.parse(text) as Line;
      } catch {
        throw new Error(`stdout line is no JSON: ${text}`);
      }
    });
}

const byMessage = (lines: Line[], start: string) => lines.find((line) => String(line.message).startsWith(start));

/**
 * Sends `GET /whoami?n=…` for each `n` on one keep-alive connection, each batch in one write
 * (pipelined) once the one before is answered; returns the `x-request-id` of every answer, in order.
 */
async function onOneConnection(app: RunningApp, batches: string[][]): Promise<string[]> {
  const connection = rawConnection(app);
  try {
    await once(connection.socket, "connect");
    let sent = 0;
    for (const batch of batches) {
      connection.socket.write(batch.map((n) => rawRequest(`/whoami?n=${n}`)).join(""));
      sent += batch.length;
      await connection.responsesBy(sent);
    }
    return connection.responses().map((response) => response.headers["x-request-id"] ?? "");
  } finally {
    connection.socket.destroy();
  }
}

async function requestConsole(app: RunningApp): Promise<string> {
  const response = await fetch(`${app.url}/console`, { headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` } });
  expect(await response.text()).toBe(response.headers.get("x-request-id"));
  return response.headers.get("x-request-id") as string;
}

describe.each(RUNTIMES)("console on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("on Cloud Run: console lines carry the request id and trace, error lines Error Reporting's fields", async () => {
    app = await startApp(runtime, APP, CLOUD_RUN);
    const id = await requestConsole(app);
    await expect.poll(() => byMessage(everyLine(app!), "Error: waitUntil boom"), { timeout: 5000 }).toBeDefined();
    const lines = everyLine(app);
    // Outside any request: written as the app wrote it.
    expect(lines).toContainEqual({ outside: "a request" });
    const correlated = lines.filter((line) => line.requestId !== undefined);
    expect(correlated.map((line) => String(line.message).split("\n")[0])).toEqual([
      "hello from console { n: 1 }",
      "info line",
      "Error: console boom",
      "[lib] oldThing is deprecated { since: '2.0' }",
      "ctx.log with an error: Error: ctx boom",
      "after the response",
      "Error: waitUntil boom",
    ]);
    for (const line of correlated) {
      expect(line).toMatchObject({
        requestId: id,
        "logging.googleapis.com/trace": `projects/demo-project/traces/${TRACE_ID}`,
        "logging.googleapis.com/spanId": SPAN_ID,
        "logging.googleapis.com/trace_sampled": true,
      });
    }
    expect(byMessage(lines, "hello from")?.severity).toBe("INFO");
    expect(byMessage(lines, "[lib]")?.severity).toBe("WARNING");
    for (const start of ["Error: console boom", "ctx.log with an error:", "Error: waitUntil boom"]) {
      const line = byMessage(lines, start) as Line;
      const stack = line.stack_trace as string;
      expect(stack).toMatch(/^Error: \w+ boom\n\s+at /);
      expect(line.message).toContain(stack);
      expect(line).toMatchObject({
        severity: "ERROR",
        serviceContext: { service: "api", version: "api-00007-abc" },
        context: {
          httpRequest: { method: "GET", url: `${app.url}/console` },
          reportLocation: { filePath: expect.stringMatching(FIXTURE_FILE), lineNumber: expect.any(Number) },
        },
        "logging.googleapis.com/sourceLocation": { file: expect.stringMatching(FIXTURE_FILE) },
      });
      // A stack to detect: no ReportedErrorEvent type needed.
      expect(line["@type"]).toBeUndefined();
    }
  });

  it("on Cloudflare JSON: level, message and the error object, with the request id", async () => {
    app = await startApp(runtime, APP, { CONTAINERFLARE_LOG_FORMAT: "json", CLOUDFLARE_APPLICATION_ID: "app-1" });
    const id = await requestConsole(app);
    await expect.poll(() => byMessage(everyLine(app!), "Error: waitUntil boom"), { timeout: 5000 }).toBeDefined();
    const lines = everyLine(app);
    expect(byMessage(lines, "hello from")).toMatchObject({ level: "log", requestId: id, traceId: TRACE_ID });
    expect(byMessage(lines, "Error: console boom")).toMatchObject({
      level: "error",
      requestId: id,
      traceId: TRACE_ID,
      error: { name: "Error", message: "console boom", stack: expect.stringMatching(/^Error: console boom\n/) },
    });
    expect(byMessage(lines, "after the response")).toMatchObject({ level: "log", requestId: id });
    expect(lines).toContainEqual({ outside: "a request" });
  });

  it.each([
    ["/throw-later", "uncaughtException", "Error: uncaught boom"],
    ["/reject-later", "unhandledRejection", "Error: rejected boom"],
  ])("%s: one JSON line with Error Reporting's fields, then exit 1", async (path, origin, start) => {
    app = await startApp(runtime, APP, CLOUD_RUN);
    await (await fetch(`${app.url}${path}`)).text();
    expect(await app.exited).toBe(1);
    const line = byMessage(everyLine(app), start);
    expect(line).toMatchObject({
      severity: "CRITICAL",
      origin,
      stack_trace: expect.stringMatching(new RegExp(`^${start}\\n\\s+at `)),
      serviceContext: { service: "api", version: "api-00007-abc" },
    });
    expect(line?.message).toBe(line?.stack_trace);
  });

  it("follows microtasks, nextTick, timers, awaits and the app's own AsyncLocalStorage, per request", async () => {
    app = await startApp(runtime, APP, CLOUD_RUN);
    // Two requests at once, the first one finishing last: no line may take the other's id.
    const [first, second] = await Promise.all(
      [
        ["a", 40],
        ["b", 5],
      ].map(async ([label, ms]) => (await fetch(`${app!.url}/propagation?label=${label}&ms=${ms}`)).text()),
    );
    const kinds = ["microtask", "nextTick", "timeout", "app storage: %s store", "after await"];
    const expected = (label: string, id: string | undefined) =>
      kinds.map((kind) => ({ message: `${label} ${kind.replace("%s", label)}`, requestId: id }));
    await expect.poll(() => everyLine(app!).filter((line) => /^[ab] /.test(String(line.message))).length).toBe(10);
    const lines = everyLine(app)
      .filter((line) => /^[ab] /.test(String(line.message)))
      .map(({ message, requestId }) => ({ message, requestId }));
    expect(lines).toEqual(expect.arrayContaining([...expected("a", first), ...expected("b", second)]));
  });

  it("keep-alive and pipelined requests on one connection: each line has its own request's id, none leaks", async () => {
    app = await startApp(runtime, APP, CLOUD_RUN);
    // Two requests one after the other, then three in one write, on the same connection.
    const ids = await onOneConnection(app, [["1"], ["2"], ["3", "4", "5"]]);
    expect(new Set(ids).size).toBe(5);
    await expect.poll(() => everyLine(app!).filter((line) => / later$/.test(String(line.message))).length).toBe(5);
    const all = everyLine(app);
    const lines = all
      .filter((line) => /^whoami /.test(String(line.message)))
      .map(({ message, requestId }) => ({ message, requestId }));
    const expected = ids.flatMap((id, index) => [
      { message: `whoami ${index + 1}`, requestId: id },
      { message: `whoami ${index + 1} later`, requestId: id },
    ]);
    expect(lines).toHaveLength(expected.length);
    expect(lines).toEqual(expect.arrayContaining(expected));
    // The middleware's lines, written as they are: no context, so no log entry of a request.
    expect(all.filter((line) => "middleware" in line)).toEqual(
      ["1", "2", "3", "4", "5"].map((n) => ({ middleware: n })),
    );
    expect(all.filter((line) => String(line.message).includes("middleware"))).toEqual([]);
  });

  it("carries the context in AsyncLocalStorage, or on Deno in its core's async context", async () => {
    const probe = spawnApp(runtime, `${ROOT}test/fixtures/serve/async-context-kind.mjs`, {});
    expect(await probe.exited).toBe(0);
    expect(JSON.parse(probe.stdout.join(""))).toEqual({
      kind: runtime.name === "deno" ? "deno-core" : "async-local-storage",
      seen: ["sync", "microtask", "app storage", "inner", "after inner", "timeout", "after await"].map((where) => [
        where,
        where === "inner" ? "inner" : "outer",
      ]),
      outside: null,
      // enter() where AsyncLocalStorage keeps context frames (Node 24, Bun); serve() enters on Node only.
      enters: runtime.name === "node" || runtime.name === "bun",
      entered:
        runtime.name === "node" || runtime.name === "bun"
          ? [
              ["sync", "entered"],
              ["after the callback", null],
              ["timeout", "entered"],
              ["next callback", null],
            ]
          : [],
    });
  });

  it("CONTAINERFLARE_CONSOLE=plain leaves console alone", async () => {
    app = await startApp(runtime, APP, { ...CLOUD_RUN, CONTAINERFLARE_CONSOLE: "plain" });
    await requestConsole(app);
    await expect.poll(() => app!.stdout.includes("after the response"), { timeout: 5000 }).toBe(true);
    // Each runtime's own formatting (Bun spreads objects over lines, Deno quotes with "), unparsed.
    const stdout = app.stdout.join("\n");
    const stderr = app.stderr.join("\n");
    expect(stdout).toMatch(/^hello from console \{/m);
    expect(stdout).toMatch(/^info line$/m);
    expect(stderr).toMatch(/console boom\n[\s\S]*\bat /);
    expect(stderr).toMatch(/^\[lib\] oldThing is deprecated \{/m);
    expect(app.jsonLogs().filter((line) => !line.severity)).toEqual([{ outside: "a request" }]);
    // containerflare's own lines stay JSON.
    expect(byMessage(app.jsonLogs(), "ctx.log with an error:")).toMatchObject({ severity: "ERROR" });
  });
});

it("a bad CONTAINERFLARE_CONSOLE stops start-up with one line", async () => {
  const runtime = RUNTIMES[0]!;
  await expect(startApp(runtime, APP, { CONTAINERFLARE_CONSOLE: "loud" }, 5000)).rejects.toThrow(
    /containerflare: invalid CONTAINERFLARE_CONSOLE="loud": expected structured or plain/,
  );
});
