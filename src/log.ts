/**
 * Every log format of containerflare: the Cloud Logging JSON line, the plain JSON line of
 * Cloudflare and generic hosts, consola's pretty output on a terminal, and the access-log entry
 * (with Cloud Logging's `httpRequest`). The format is resolved once, from the configuration and
 * whether the sink is a terminal ({@link resolveLogFormat}).
 *
 * Start-up cost: only `consola/core`. `node:util` (for messages with objects or `%` placeholders)
 * is taken from the runtime on the first such message, and consola's fancy reporter is imported
 * on the first pretty line: on Bun and Deno each costs several milliseconds of a cold start.
 *
 * @module
 */
import { type ConsolaInstance, type ConsolaReporter, createConsola, type LogObject } from "consola/core";
import type { LogFormat } from "./config.ts";
import type { PlatformInfo } from "./platform.ts";
import type { TraceContext } from "./trace.ts";

/** Request fields every log line of a request carries. */
export interface LogRequestFields {
  requestId: string;
  trace?: TraceContext;
  /** The request's method and URL: Error Reporting's `context.httpRequest` on an error line. */
  method?: string;
  url?: string;
}

/** Where log lines go: anything with `write(string)` (process.stdout, process.stderr, a test sink). */
export interface LogSink {
  write(line: string): unknown;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: number;
  /** The format, or a promise of the resolved one (lines wait for it). */
  format: LogFormat | Promise<"json" | "pretty">;
  platform: PlatformInfo;
  /** Defaults to stdout; the stdio command transport owns stdout, so logs then go to stderr. */
  sink?: LogSink;
  /** Whether the sink is a terminal (decides `auto`). */
  isTTY?: boolean;
}

const REQUEST_KEY = "containerflare";

/**
 * A log object key that asks for Error Reporting's fields even without an Error among the
 * arguments (an uncaught value that is no Error). A symbol: it never becomes a field of the line.
 */
export const REPORT_ERROR: unique symbol = Symbol.for("containerflare.reportError");

/** Cloud Error Reporting's type for a log entry it should take as an error event without detecting a stack. */
export const REPORTED_ERROR_EVENT =
  "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent";

/** The consola types whose lines are errors (Error Reporting's fields, see {@link errorReportFields}). */
const ERROR_TYPES = new Set(["error", "fatal", "fail"]);
const LOG_OBJECT_KEYS = new Set(["level", "type", "tag", "args", "date", "message", "additional", REQUEST_KEY]);

const SEVERITY: Record<string, string> = {
  fatal: "CRITICAL",
  error: "ERROR",
  warn: "WARNING",
  log: "INFO",
  info: "INFO",
  success: "INFO",
  fail: "ERROR",
  ready: "INFO",
  start: "INFO",
  box: "INFO",
  debug: "DEBUG",
  trace: "DEBUG",
  verbose: "DEBUG",
};

type FormatWithOptions = (options: { colors: boolean; breakLength: number }, ...args: unknown[]) => string;
let formatWithOptions: FormatWithOptions | undefined;

/**
 * `util.formatWithOptions` of the runtime, taken on first use (synchronously: every runtime this
 * runs on has `process.getBuiltinModule`); undefined where there is none.
 */
function nodeFormat(): FormatWithOptions | undefined {
  const process = globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined;
  formatWithOptions ??= (process?.getBuiltinModule?.("node:util") as { formatWithOptions?: FormatWithOptions })
    ?.formatWithOptions;
  return formatWithOptions;
}

/**
 * The text of a log line, as `util.format` writes it. Plain strings without a `%` placeholder
 * in the first (the common case: "listening on …") are joined here, which is what `util.format`
 * does with them, so that a process that logs only those never loads `node:util`.
 */
export function formatLogArgs(args: readonly unknown[]): string {
  // An error's stack belongs in the message: Cloud Error Reporting reads it from there.
  const parts = args.map((arg) => (arg instanceof Error ? (arg.stack ?? String(arg)) : arg));
  const plain =
    parts.every((part) => typeof part === "string") && !(parts.length > 1 && String(parts[0]).includes("%"));
  if (plain) return parts.join(" ");
  const format = nodeFormat();
  if (format) return format({ colors: false, breakLength: Number.POSITIVE_INFINITY }, ...parts);
  return parts.map((part) => (typeof part === "string" ? part : safeJson(part))).join(" ");
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function formatMessage(logObj: LogObject): string {
  return formatLogArgs(logObj.message === undefined ? logObj.args : [logObj.message, ...logObj.args]);
}

function extraFields(logObj: LogObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(logObj)) if (!LOG_OBJECT_KEYS.has(key)) fields[key] = logObj[key];
  return fields;
}

/** The first Error among a line's arguments. */
export function errorOf(args: readonly unknown[]): Error | undefined {
  for (const arg of args) if (arg instanceof Error) return arg;
  return undefined;
}

/** A stack frame: where an error was thrown. */
export interface StackFrame {
  file: string;
  line: number;
  /** Undefined for an anonymous function or top-level code. */
  function?: string;
}

// `    at fn (file:1:2)` or `    at file:1:2` (V8, and Bun's JavaScriptCore, which writes the same).
const FRAME_RE = /^\s*at (?:(.+?) \()?(.+?):(\d+):\d+\)?$/;
const FRAME_LINES = 16;

/**
 * The top frame of `stack` that names a file and line; frames without one (`at new Promise
 * (<anonymous>)`, `at async Promise.all (index 0)`) are skipped. Only the first lines are read.
 */
export function topStackFrame(stack: string | undefined): StackFrame | undefined {
  if (!stack) return undefined;
  let start = 0;
  for (let count = 0; count < FRAME_LINES && start < stack.length; count++) {
    const end = stack.indexOf("\n", start);
    const text = stack.slice(start, end === -1 ? undefined : end);
    start = end === -1 ? stack.length : end + 1;
    const match = FRAME_RE.exec(text);
    if (!match) continue;
    const [, name, file = "", line = ""] = match;
    const frame: StackFrame = { file, line: Number(line) };
    if (name && name !== "<anonymous>") frame.function = name;
    return frame;
  }
  return undefined;
}

/** Error Reporting's `serviceContext` on Cloud Run: the service (or job, or worker pool) and its revision. */
function serviceContext(platform: PlatformInfo): Record<string, string> | undefined {
  const cloudRun = platform.cloudRun;
  const service = cloudRun?.service ?? cloudRun?.job ?? cloudRun?.workerPool;
  if (!service) return undefined;
  return cloudRun?.revision ? { service, version: cloudRun.revision } : { service };
}

/**
 * What Cloud Error Reporting reads from an error line on Cloud Run: the stack in `stack_trace` (the
 * message holds it too, see {@link formatLogArgs}), `serviceContext`, and `context` with the
 * request (`httpRequest`) and the top frame (`reportLocation`, also Cloud Logging's
 * `sourceLocation`). Without a stack frame to detect, the line is marked as a `ReportedErrorEvent`.
 */
export function errorReportFields(
  error: Error | undefined,
  platform: PlatformInfo,
  request?: LogRequestFields,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const stack = typeof error?.stack === "string" ? error.stack : undefined;
  const frame = topStackFrame(stack);
  if (stack) fields.stack_trace = stack;
  if (!frame) fields["@type"] = REPORTED_ERROR_EVENT;
  const service = serviceContext(platform);
  if (service) fields.serviceContext = service;
  const context: Record<string, unknown> = {};
  if (request?.method) context.httpRequest = { method: request.method, url: request.url };
  if (frame) {
    context.reportLocation = { filePath: frame.file, lineNumber: frame.line, functionName: frame.function ?? "" };
    fields["logging.googleapis.com/sourceLocation"] = {
      file: frame.file,
      line: String(frame.line),
      ...(frame.function ? { function: frame.function } : {}),
    };
  }
  if (context.httpRequest || context.reportLocation) fields.context = context;
  return fields;
}

/** The `error` object of a plain JSON line, as Workers Logs shows one: name, message, stack. */
export function errorObject(error: Error): { name: string; message: string; stack?: string } {
  const object: { name: string; message: string; stack?: string } = { name: error.name, message: error.message };
  if (typeof error.stack === "string") object.stack = error.stack;
  return object;
}

/** One JSON object per line as Google Cloud Logging reads it (severity, trace, spanId, …). */
export function cloudLoggingLine(logObj: LogObject, platform: PlatformInfo): Record<string, unknown> {
  const request = logObj[REQUEST_KEY] as LogRequestFields | undefined;
  const error = ERROR_TYPES.has(logObj.type) ? errorOf(logObj.args) : undefined;
  const line: Record<string, unknown> = {
    severity: SEVERITY[logObj.type] ?? "DEFAULT",
    message: formatMessage(logObj),
    time: logObj.date.toISOString(),
    ...(error || (logObj as { [REPORT_ERROR]?: boolean })[REPORT_ERROR]
      ? errorReportFields(error, platform, request)
      : {}),
    ...extraFields(logObj),
  };
  if (logObj.tag) line["logging.googleapis.com/labels"] = { tag: logObj.tag };
  if (request) {
    line.requestId = request.requestId;
    const projectId = platform.cloudRun?.projectId;
    if (request.trace && projectId) {
      line["logging.googleapis.com/trace"] = `projects/${projectId}/traces/${request.trace.traceId}`;
      // X-Cloud-Trace-Context may name no span: Cloud Logging rejects an all-zero span id.
      if (request.trace.spanId !== "0000000000000000") line["logging.googleapis.com/spanId"] = request.trace.spanId;
      line["logging.googleapis.com/trace_sampled"] = request.trace.sampled;
    }
  }
  return line;
}

/**
 * One JSON object per line for Cloudflare's log pipeline and generic hosts; a line with an Error
 * among its arguments carries it as `error: { name, message, stack }`.
 */
export function plainJsonLine(logObj: LogObject): Record<string, unknown> {
  const request = logObj[REQUEST_KEY] as LogRequestFields | undefined;
  const error = errorOf(logObj.args);
  return {
    level: logObj.type,
    message: formatMessage(logObj),
    time: logObj.date.toISOString(),
    ...(logObj.tag ? { tag: logObj.tag } : {}),
    ...(request ? { requestId: request.requestId, traceId: request.trace?.traceId } : {}),
    ...(error ? { error: errorObject(error) } : {}),
    ...extraFields(logObj),
  };
}

function jsonReporter(platform: PlatformInfo, sink: LogSink): ConsolaReporter {
  const toLine =
    platform.kind === "cloud-run" ? (logObj: LogObject) => cloudLoggingLine(logObj, platform) : plainJsonLine;
  return {
    log(logObj) {
      let text: string;
      try {
        text = JSON.stringify(toLine(logObj));
      } catch {
        text = JSON.stringify({ ...toLine({ ...logObj, args: [formatMessage(logObj)] }), unserializable: true });
      }
      sink.write(`${text}\n`);
    },
  };
}

/** Resolves `auto`: pretty on a terminal, JSON everywhere else (Cloud Run, Cloudflare, pipes). */
export function resolveLogFormat(format: LogFormat, isTTY: boolean): "json" | "pretty" {
  return format === "auto" ? (isTTY ? "pretty" : "json") : format;
}

/**
 * The process logger: JSON lines in production, consola's pretty output on a terminal. `format`
 * may be a promise of the resolved format (serve() on Bun, whose terminal check is asynchronous):
 * lines logged before it resolves are queued and written in order.
 */
export function createLogger(options: LoggerOptions): ConsolaInstance {
  const sink = options.sink ?? process.stdout;
  const format =
    typeof options.format === "string"
      ? resolveLogFormat(options.format, options.isTTY ?? Boolean((sink as { isTTY?: boolean }).isTTY))
      : options.format;
  const reporterFor = (resolved: "json" | "pretty"): ConsolaReporter | Promise<ConsolaReporter> =>
    resolved === "pretty" ? fancyReporter(options.level, sink) : jsonReporter(options.platform, sink);
  const reporter =
    format === "json"
      ? jsonReporter(options.platform, sink)
      : deferredReporter(Promise.resolve(format).then(reporterFor));
  return createConsola({ level: options.level, throttle: 0, reporters: [reporter] });
}

/**
 * A reporter that queues lines until `reporter` resolves, then writes them in order and
 * delegates. consola copies the reporters into every child logger, so this one stays and delegates.
 */
function deferredReporter(reporter: Promise<ConsolaReporter>): ConsolaReporter {
  let loaded: ConsolaReporter | undefined;
  let pending: Parameters<ConsolaReporter["log"]>[] = [];
  void reporter.then((ready) => {
    loaded = ready;
    const queued = pending;
    pending = [];
    for (const [logObj, ctx] of queued) ready.log(logObj, ctx);
  });
  return {
    log(logObj, ctx) {
      if (loaded) loaded.log(logObj, ctx);
      else pending.push([logObj, ctx]);
    },
  };
}

/**
 * consola's fancy terminal output, imported on first use: production logs are JSON and should not
 * pay for the fancy reporter (and its prompt and TTY modules) at start-up. Should consola's full
 * build be missing (a trimmed bundle), the lines are plain JSON.
 */
function fancyReporter(level: number, sink: LogSink | ProcessSink): Promise<ConsolaReporter> {
  return import("consola")
    .then(({ createConsola: createFancy }) => {
      const stream = ("stream" in sink ? sink.stream() : sink) as NodeJS.WriteStream;
      const fancy = createFancy({ level, stdout: stream, stderr: stream, fancy: true }).options.reporters[0];
      if (!fancy) return undefined;
      // It writes to the logger's own streams, which the process logger never names (see processSink).
      const reporter: ConsolaReporter = {
        log: (logObj, ctx) =>
          fancy.log(logObj, { ...ctx, options: { ...ctx.options, stdout: stream, stderr: stream } }),
      };
      return reporter;
    })
    .catch(() => undefined)
    .then((loaded) => loaded ?? jsonReporter({ kind: "generic" }, sink));
}

/** The process's stdout or stderr as a log sink (see {@link processSink}). */
export interface ProcessSink extends LogSink {
  /** The stream itself, for consola's pretty output (created on first use, see processSink). */
  stream(): NodeJS.WriteStream;
  /** Whether it is a terminal, which decides `auto`: a promise on Bun (see processSink). */
  isTerminal(): boolean | Promise<boolean>;
}

interface BunStdio {
  stdout: { stat(): Promise<{ isCharacterDevice(): boolean; rdev: number }> };
  stderr: { stat(): Promise<{ isCharacterDevice(): boolean; rdev: number }> };
}
interface DenoStdio {
  writeSync(bytes: Uint8Array): number;
  isTerminal(): boolean;
}

/** Linux's major number of the memory devices (/dev/null, /dev/zero, …): character devices, not terminals. */
const LINUX_MEMORY_DEVICES = 1;

/**
 * The process's stdout or stderr as a log sink, written with the runtime's own synchronous
 * primitive. On Bun and Deno the first touch of `process.stdout` or `process.stderr` builds a
 * Node-style stream and costs 10 to 50 ms of a cold start (measured with the bench's cold-start
 * harness, piped stdio), as does importing `node:tty` for `isatty`; so there:
 *
 * - Deno writes with `Deno.stdout.writeSync` and asks `Deno.stdout.isTerminal()`;
 * - Bun writes with `console.write` (stdout) or `console.error` (stderr), both unformatted for a
 *   single string and ordered with `process.stdout.write`, and tells a terminal by an
 *   asynchronous `stat` of the descriptor: a character device other than Linux's memory devices
 *   (/dev/null). Off Linux it asks the stream.
 *
 * Node's streams are cheap and used as they are.
 */
export function processSink(name: "stdout" | "stderr"): ProcessSink {
  const stream = () => process[name] as NodeJS.WriteStream;
  const runtime = globalThis as { Bun?: BunStdio; Deno?: { stdout: DenoStdio; stderr: DenoStdio } };
  if (runtime.Deno) {
    const deno = runtime.Deno[name];
    const encoder = new TextEncoder();
    return {
      write(line) {
        const bytes = encoder.encode(line);
        // writeSync may write part of the bytes: a full pipe.
        for (let offset = 0; offset < bytes.length; ) offset += deno.writeSync(bytes.subarray(offset));
      },
      stream,
      isTerminal: () => deno.isTerminal(),
    };
  }
  if (runtime.Bun) {
    const bun = runtime.Bun;
    const console = globalThis.console as Console & { write(text: string): void };
    return {
      write: name === "stdout" ? (line) => console.write(line) : (line) => console.error(line.replace(/\n$/, "")),
      stream,
      isTerminal() {
        if (process.platform !== "linux") return Boolean(stream().isTTY);
        return bun[name].stat().then(
          (stat) => stat.isCharacterDevice() && ((stat.rdev >> 8) & 0xfff) !== LINUX_MEMORY_DEVICES,
          () => false,
        );
      },
    };
  }
  return { write: (line) => stream().write(line), stream, isTerminal: () => Boolean(stream().isTTY) };
}

/** What one access-log line records: the request as the client sent it, and what was sent back. */
export interface AccessLogFields {
  method: string;
  /** Path without the query string. */
  path: string;
  url: string;
  /** The status on the wire. */
  status: number;
  /** From the start of the request to the last byte sent (or the connection closing), in ms. */
  latencyMs: number;
  /** Whether the whole response was sent before the connection closed. */
  complete: boolean;
  userAgent?: string | undefined;
  remoteIp?: string | undefined;
}

/**
 * The access-log entry: a one-line message for people, and Cloud Logging's `httpRequest`, which
 * every JSON format carries as a field (Cloud Logging shows it as the request's summary).
 */
export function accessLogEntry(fields: AccessLogFields): { message: string; httpRequest: Record<string, unknown> } {
  const latency = fields.latencyMs / 1000;
  const incomplete = fields.complete ? "" : " (incomplete: the connection closed first)";
  return {
    message: `${fields.method} ${fields.path} ${fields.status} ${fields.latencyMs.toFixed(1)}ms${incomplete}`,
    httpRequest: {
      requestMethod: fields.method,
      requestUrl: fields.url,
      status: fields.status,
      userAgent: fields.userAgent,
      remoteIp: fields.remoteIp,
      latency: `${latency.toFixed(6)}s`,
    },
  };
}

/** A child logger whose lines carry the request id and trace. */
export function createRequestLogger(logger: ConsolaInstance, fields: LogRequestFields): ConsolaInstance {
  return logger.withDefaults({ [REQUEST_KEY]: fields } as Parameters<ConsolaInstance["withDefaults"]>[0]);
}
