/**
 * Every log line correlated: while a request (or an event handler, or `waitUntil` work either
 * started) runs, `console.log/info/warn/error/debug/trace` from the app or any library becomes a
 * line of that context's logger, with its request id and trace. The context travels in one async
 * context variable (async-context.ts: AsyncLocalStorage, or Deno's own); console is patched once per
 * process while a server that asks for it runs, and restored when the last one closes. Also the
 * uncaught-error lines of a process serve() owns.
 *
 * Loaded by serve() before it listens, only in the JSON log formats (pretty output on a terminal
 * keeps the runtime's console), and only when the console is `structured` or serve() owns the
 * process: a server that wants neither never loads it, nor `node:async_hooks`.
 *
 * No recursion: the loggers write to their sink (process.stdout.write, Deno's writeSync, Bun's
 * `console.write`), never to console, except Bun's stderr sink, which writes with `console.error`.
 * A console call made while a patched call is logging (that sink, or a logger given to serve()
 * that writes to console) goes to the original method.
 *
 * @module
 */
import type { ConsolaInstance, LogObject } from "consola";
import { exitProcess } from "../exit.ts";
import { formatLogArgs, REPORT_ERROR } from "../log.ts";
import { createAsyncContextVariable } from "./async-context.ts";

/** What a console line needs from its context: the logger whose lines carry the request's id and trace. */
export interface ConsoleContext {
  readonly log: ConsolaInstance;
}

/** The console methods that become log lines, with the consola type and level of each. */
const METHODS = {
  log: ["log", 2],
  info: ["info", 3],
  warn: ["warn", 1],
  error: ["error", 0],
  debug: ["debug", 4],
  trace: ["trace", 5],
} as const satisfies Record<string, readonly [string, number]>;

type Method = keyof typeof METHODS;
type ConsoleFunction = (...args: unknown[]) => void;

// The value is the context itself (a RequestContext): the request id and trace are computed on
// the first console call (ctx.log is built on first read). AsyncLocalStorage, or on Deno its core's
// async context directly (async-context.ts: a fifth of a Deno hello world saved).
const storage = createAsyncContextVariable<ConsoleContext>();
let installed = 0;
let originals: Record<Method, ConsoleFunction> | undefined;
let logging = false;

/**
 * Runs `fn()` with `ctx` as the context of every console line it (and the work it starts) writes.
 * Where the console is not structured it just calls `fn`. For event handlers too.
 */
export function runInContext<R>(ctx: ConsoleContext, fn: () => R): R {
  return installed > 0 ? storage.run(ctx, fn) : fn();
}

const enter = storage.enter;

/**
 * Makes `ctx` the context of every console line for the rest of the running callback and the
 * work it starts (async-context.ts's `enter()`: one context frame where runInContext builds two).
 * Only for a callback of the runtime's that it ends by putting the previous context back: a
 * request listener of `node:http`. Undefined where the variable cannot enter (see there).
 */
export const enterContext: ((ctx: ConsoleContext) => void) | undefined = enter
  ? (ctx) => {
      if (installed > 0) enter(ctx);
    }
  : undefined;

/**
 * The log object of one console call. Console output was never filtered by a log level, so the
 * line is logged at level 0 (it passes any level but `silent`) and then given its own type and
 * level; the arguments are formatted as console formats them (util.format), never read as a
 * consola log object.
 */
export function consoleLogObject(method: Method, args: unknown[]): Partial<LogObject> {
  const [type, level] = METHODS[method];
  if (method !== "trace") return { type, level, args };
  // console.trace writes `Trace: <message>` and the caller's stack.
  const trace: { stack?: string } = {};
  Error.captureStackTrace?.(trace, patched.trace);
  const stack = trace.stack ?? "";
  const frames = stack.includes("\n") ? stack.slice(stack.indexOf("\n")) : "";
  return { type, level, args: [`Trace: ${formatLogArgs(args)}${frames}`] };
}

const patched = {} as Record<Method, ConsoleFunction>;
for (const method of Object.keys(METHODS) as Method[]) {
  patched[method] = function (this: unknown, ...args: unknown[]) {
    const ctx = storage.get();
    if (ctx === undefined || logging) return (originals as Record<Method, ConsoleFunction>)[method].apply(this, args);
    logging = true;
    try {
      ctx.log.fatal(consoleLogObject(method, args) as LogObject);
    } catch {
      // Whatever fails (a sink that throws), the line is not lost: the runtime writes it.
      (originals as Record<Method, ConsoleFunction>)[method].apply(this, args);
    } finally {
      logging = false;
    }
  };
}

/** Patches console (once per process); the returned function undoes this call's share. */
function patchConsole(): () => void {
  if (installed++ === 0) {
    const target = console as unknown as Record<Method, ConsoleFunction>;
    originals = {} as Record<Method, ConsoleFunction>;
    for (const method of Object.keys(METHODS) as Method[]) {
      originals[method] = target[method];
      target[method] = patched[method];
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--installed > 0 || !originals) return;
    const target = console as unknown as Record<Method, ConsoleFunction>;
    // Left alone where something patched console after us (it may call our function).
    for (const method of Object.keys(METHODS) as Method[]) {
      if (target[method] === patched[method]) target[method] = originals[method];
    }
    originals = undefined;
  };
}

/**
 * One line for an uncaught exception or unhandled rejection, on the logger of the request it came
 * from when known; then the process exits 1, as the runtime would, unless the app listens for the
 * event too (then the runtime would not exit either, and the app decides).
 */
function uncaughtHandlers(logger: ConsolaInstance): () => void {
  const handler = (origin: "uncaughtException" | "unhandledRejection") => (value: unknown) => {
    // The Error alone: its stack is then the whole message, where Error Reporting reads it.
    const line = { args: value instanceof Error ? [value] : [`${origin}:`, value], origin, [REPORT_ERROR]: true };
    try {
      try {
        (storage.get()?.log ?? logger).fatal(line as unknown as LogObject);
      } catch {
        logger.fatal(line as unknown as LogObject);
      }
    } finally {
      if (process.listenerCount(origin) <= 1) exitProcess(1);
    }
  };
  const onException = handler("uncaughtException");
  const onRejection = handler("unhandledRejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

/** What {@link installConsole} sets up. */
export interface ConsoleOptions {
  /** The process logger, for uncaught errors outside any request. */
  logger: ConsolaInstance;
  /** Patch console (the `structured` console). */
  structured: boolean;
  /** Log uncaught errors as one line each and exit 1 (serve() owns the process). */
  uncaught: boolean;
}

/** What a server holds while it runs. */
export interface ConsoleInstallation {
  /** Whether requests should run in {@link runInContext} (console is patched). */
  readonly structured: boolean;
  /** Restores console and removes the uncaught-error handlers (idempotent). */
  release(): void;
}

/** Installs the structured console and the uncaught-error handlers that `options` ask for. */
export function installConsole(options: ConsoleOptions): ConsoleInstallation {
  const unpatch = options.structured ? patchConsole() : undefined;
  const unhandle = options.uncaught ? uncaughtHandlers(options.logger) : undefined;
  return {
    structured: options.structured,
    release() {
      unpatch?.();
      unhandle?.();
    },
  };
}
