import { formatWithOptions } from "node:util";
import { type ConsolaInstance, type ConsolaReporter, createConsola, type LogObject } from "consola/core";
import type { LogFormat } from "./config.ts";
import type { PlatformInfo } from "./platform.ts";
import type { TraceContext } from "./trace.ts";

/** Request fields every log line of a request carries. */
export interface LogRequestFields {
  requestId: string;
  trace?: TraceContext;
}

/** Where log lines go: anything with `write(string)` (process.stdout, process.stderr, a test sink). */
export interface LogSink {
  write(line: string): unknown;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: number;
  format: LogFormat;
  platform: PlatformInfo;
  /** Defaults to stdout; the stdio command transport owns stdout, so logs then go to stderr. */
  sink?: LogSink;
  /** Whether the sink is a terminal (decides `auto`). */
  isTTY?: boolean;
}

const REQUEST_KEY = "containerflare";
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

function formatMessage(logObj: LogObject): string {
  const args = logObj.message === undefined ? logObj.args : [logObj.message, ...logObj.args];
  // An error's stack belongs in the message: Cloud Error Reporting reads it from there.
  const parts = args.map((arg) => (arg instanceof Error ? (arg.stack ?? String(arg)) : arg));
  return formatWithOptions({ colors: false, breakLength: Number.POSITIVE_INFINITY }, ...parts);
}

function extraFields(logObj: LogObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(logObj)) if (!LOG_OBJECT_KEYS.has(key)) fields[key] = logObj[key];
  return fields;
}

/** One JSON object per line as Google Cloud Logging reads it (severity, trace, spanId, …). */
export function cloudLoggingLine(logObj: LogObject, platform: PlatformInfo): Record<string, unknown> {
  const request = logObj[REQUEST_KEY] as LogRequestFields | undefined;
  const line: Record<string, unknown> = {
    severity: SEVERITY[logObj.type] ?? "DEFAULT",
    message: formatMessage(logObj),
    time: logObj.date.toISOString(),
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

/** One JSON object per line for Cloudflare's log pipeline and generic hosts. */
export function plainJsonLine(logObj: LogObject): Record<string, unknown> {
  const request = logObj[REQUEST_KEY] as LogRequestFields | undefined;
  return {
    level: logObj.type,
    message: formatMessage(logObj),
    time: logObj.date.toISOString(),
    ...(logObj.tag ? { tag: logObj.tag } : {}),
    ...(request ? { requestId: request.requestId, traceId: request.trace?.traceId } : {}),
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

/** The process logger: JSON lines in production, consola's pretty output on a terminal. */
export function createLogger(options: LoggerOptions): ConsolaInstance {
  const sink = options.sink ?? process.stdout;
  const format = resolveLogFormat(options.format, options.isTTY ?? Boolean((sink as { isTTY?: boolean }).isTTY));
  if (format === "pretty") return createPrettyLogger(options.level, sink as NodeJS.WriteStream);
  return createConsola({ level: options.level, reporters: [jsonReporter(options.platform, sink)], throttle: 0 });
}

/**
 * consola's fancy terminal output, loaded on first use: production logs are JSON and should not
 * pay for the fancy reporter (and its prompt and TTY modules) at start-up. Lines logged before it
 * has loaded are queued and printed in order.
 */
function createPrettyLogger(level: number, stream: NodeJS.WriteStream): ConsolaInstance {
  let fancy: ConsolaReporter | undefined;
  let pending: Parameters<ConsolaReporter["log"]>[] = [];
  // consola copies the reporters into every child logger, so this one reporter stays and delegates.
  const deferred: ConsolaReporter = {
    log(logObj, ctx) {
      if (fancy) fancy.log(logObj, ctx);
      else pending.push([logObj, ctx]);
    },
  };
  void import("consola")
    .then(
      ({ createConsola: createFancy }) =>
        createFancy({ level, stdout: stream, stderr: stream, fancy: true }).options.reporters[0],
    )
    .catch(() => undefined)
    .then((loaded) => {
      // Should consola's full build be missing (a trimmed bundle), fall back to plain JSON lines.
      fancy = loaded ?? jsonReporter({ kind: "generic" }, stream);
      const queued = pending;
      pending = [];
      for (const [logObj, ctx] of queued) fancy.log(logObj, ctx);
    });
  return createConsola({ level, stdout: stream, stderr: stream, throttle: 0, reporters: [deferred] });
}

/** A child logger whose lines carry the request id and trace. */
export function createRequestLogger(logger: ConsolaInstance, fields: LogRequestFields): ConsolaInstance {
  return logger.withDefaults({ [REQUEST_KEY]: fields } as Parameters<ConsolaInstance["withDefaults"]>[0]);
}
