// The pure parts of the structured console and of the error lines: the top stack frame, Error
// Reporting's fields, the plain JSON error object, a console call's log object, the variable;
// and the patch itself on this process's console, in and outside a context.
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../../src/config.ts";
import {
  cloudLoggingLine,
  createLogger,
  createRequestLogger,
  errorReportFields,
  plainJsonLine,
  REPORT_ERROR,
  REPORTED_ERROR_EVENT,
  topStackFrame,
} from "../../src/log.ts";
import type { PlatformInfo } from "../../src/platform.ts";
import { consoleLogObject, installConsole, runInContext } from "../../src/serve/console.ts";

const CLOUD_RUN: PlatformInfo = {
  kind: "cloud-run",
  cloudRun: { resource: "service", service: "api", revision: "api-00007-abc", projectId: "demo" },
};
const REQUEST = { requestId: "r1", method: "POST", url: "https://api.example.com/orders?x=1" };

function errorWith(stack: string | undefined, message = "kaput"): Error {
  const error = new Error(message);
  if (stack === undefined) delete (error as { stack?: string }).stack;
  else error.stack = stack;
  return error;
}

const logObj = (type: string, args: unknown[], extra: Record<string, unknown> = {}) =>
  ({ type, level: 0, tag: "", args, date: new Date(0), ...extra }) as never;

describe("topStackFrame", () => {
  it("reads V8's and Bun's frames, with and without a function name", () => {
    expect(topStackFrame("Error: x\n    at handle (file:///app/server.mjs:12:7)\n    at next (/b.js:1:1)")).toEqual({
      file: "file:///app/server.mjs",
      line: 12,
      function: "handle",
    });
    expect(topStackFrame("Error: x\n    at file:///app/server.mjs:3:9")).toEqual({
      file: "file:///app/server.mjs",
      line: 3,
    });
    expect(topStackFrame("Error: x\n      at <anonymous> (/app/server.mjs:4:21)")).toEqual({
      file: "/app/server.mjs",
      line: 4,
    });
  });

  it("skips frames without a file and line, and gives up on a stack without any", () => {
    expect(topStackFrame("Error: x\n    at new Promise (<anonymous>)\n    at run (/app/a.js:5:1)")).toEqual({
      file: "/app/a.js",
      line: 5,
      function: "run",
    });
    expect(topStackFrame("Error: x")).toBeUndefined();
    expect(topStackFrame(undefined)).toBeUndefined();
    // Only the first lines are read: a frame after a long message is not searched for.
    expect(topStackFrame(`Error: x${"\nline".repeat(40)}\n    at run (/app/a.js:5:1)`)).toBeUndefined();
  });
});

describe("errorReportFields", () => {
  it("gives the stack, the service, the request and the location for an Error with a stack", () => {
    const stack = "Error: kaput\n    at handle (/app/server.mjs:12:7)";
    expect(errorReportFields(errorWith(stack), CLOUD_RUN, REQUEST)).toEqual({
      stack_trace: stack,
      serviceContext: { service: "api", version: "api-00007-abc" },
      context: {
        httpRequest: { method: "POST", url: "https://api.example.com/orders?x=1" },
        reportLocation: { filePath: "/app/server.mjs", lineNumber: 12, functionName: "handle" },
      },
      "logging.googleapis.com/sourceLocation": { file: "/app/server.mjs", line: "12", function: "handle" },
    });
  });

  it("marks a ReportedErrorEvent where there is no frame to detect", () => {
    expect(
      errorReportFields(errorWith(undefined), { kind: "cloud-run", cloudRun: { resource: "job", job: "nightly" } }),
    ).toEqual({ "@type": REPORTED_ERROR_EVENT, serviceContext: { service: "nightly" } });
    expect(errorReportFields(undefined, { kind: "cloud-run" })).toEqual({ "@type": REPORTED_ERROR_EVENT });
  });
});

describe("error lines", () => {
  const stack = "Error: kaput\n    at handle (/app/server.mjs:12:7)";

  it("on Cloud Run: Error Reporting's fields on error lines only, the stack in the message too", () => {
    const error = errorWith(stack);
    const line = cloudLoggingLine(logObj("error", ["failed:", error], { containerflare: REQUEST }), CLOUD_RUN);
    expect(line).toMatchObject({ severity: "ERROR", message: `failed: ${stack}`, stack_trace: stack, requestId: "r1" });
    expect(cloudLoggingLine(logObj("warn", [error]), CLOUD_RUN).stack_trace).toBeUndefined();
    expect(cloudLoggingLine(logObj("error", ["no error here"]), CLOUD_RUN).serviceContext).toBeUndefined();
    // An uncaught value that is no Error still asks for a report.
    expect(
      cloudLoggingLine(logObj("fatal", ["unhandledRejection:", "nope"], { [REPORT_ERROR]: true }), CLOUD_RUN),
    ).toMatchObject({ severity: "CRITICAL", "@type": REPORTED_ERROR_EVENT });
  });

  it("elsewhere: the error object Workers Logs shows, and no field from the report key", () => {
    const line = plainJsonLine(logObj("error", ["failed:", errorWith(stack)], { [REPORT_ERROR]: true }));
    expect(line).toEqual({
      level: "error",
      message: `failed: ${stack}`,
      time: new Date(0).toISOString(),
      error: { name: "Error", message: "kaput", stack },
    });
  });
});

describe("consoleLogObject", () => {
  it("keeps console's own type and level, and its arguments as arguments", () => {
    expect(consoleLogObject("warn", [{ message: "not a log object" }])).toEqual({
      type: "warn",
      level: 1,
      args: [{ message: "not a log object" }],
    });
    expect(consoleLogObject("debug", [])).toEqual({ type: "debug", level: 4, args: [] });
  });
});

describe("the console patch", () => {
  let release: (() => void) | undefined;
  afterEach(() => {
    release?.();
    release = undefined;
  });

  it("turns console calls in a context into the context's lines, and gives console back", () => {
    const lines: string[] = [];
    const platform: PlatformInfo = { kind: "generic" };
    // Level warn: console lines are not filtered by the log level, ctx.log lines are.
    const logger = createLogger({ level: 1, format: "json", platform, sink: { write: (text) => lines.push(text) } });
    const original = console.log;
    release = installConsole({ logger, structured: true, uncaught: false }).release;
    expect(console.log).not.toBe(original);
    const ctx = { log: createRequestLogger(logger, { requestId: "r9" }) };
    runInContext(ctx, () => {
      console.log("in %s", "context", { n: 1 });
      console.debug("debug too");
      console.trace("at %d", 3);
      ctx.log.info("filtered");
    });
    const written = lines.map((line) => JSON.parse(line));
    expect(written).toMatchObject([
      { level: "log", message: "in context { n: 1 }", requestId: "r9" },
      { level: "debug", message: "debug too", requestId: "r9" },
      // console.trace's `Trace:` line with the caller's stack, from the caller on.
      { level: "trace", message: expect.stringMatching(/^Trace: at 3\n\s+at .*console\.test\.ts/), requestId: "r9" },
    ]);
    expect(written).toHaveLength(3);
    release();
    release = undefined;
    expect(console.log).toBe(original);
  });

  it("is idempotent per installation and counts servers", () => {
    const logger = createLogger({ level: 3, format: "json", platform: { kind: "generic" }, sink: { write() {} } });
    const original = console.error;
    const first = installConsole({ logger, structured: true, uncaught: false });
    const second = installConsole({ logger, structured: true, uncaught: false });
    first.release();
    first.release();
    expect(console.error).not.toBe(original);
    second.release();
    expect(console.error).toBe(original);
  });
});

describe("CONTAINERFLARE_CONSOLE", () => {
  it("is structured by default, plain when asked, and refuses anything else in one line", () => {
    expect(resolveConfig({}).console).toBe("structured");
    expect(resolveConfig({ CONTAINERFLARE_CONSOLE: " Plain " }).console).toBe("plain");
    expect(resolveConfig({ CONTAINERFLARE_CONSOLE: "plain" }, { console: "structured" }).console).toBe("structured");
    expect(() => resolveConfig({ CONTAINERFLARE_CONSOLE: "loud" })).toThrow(
      new ConfigError("CONTAINERFLARE_CONSOLE", "loud", "structured or plain"),
    );
  });
});
