import { basename, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { defineCommand } from "citty";
import * as v from "valibot";
import { exitProcess } from "../exit.ts";
import { prepareEntry, resolveEntry, siblingModule } from "./entry.ts";
import { CliError } from "./errors.ts";
import {
  currentRuntime,
  findRuntimeBinary,
  parseRuntime,
  RUNTIMES,
  type RuntimeName,
  runChild,
  runtimeArguments,
} from "./runtime.ts";
import { startApp } from "./start.ts";

const portSchema = v.pipe(v.string(), v.trim(), v.regex(/^\d{1,5}$/), v.transform(Number), v.maxValue(65535));

/** Validates a `--port` value; undefined leaves the port to the environment contract. */
export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const result = v.safeParse(portSchema, value);
  if (!result.success) throw new CliError(`invalid port "${value}": expected an integer from 0 to 65535`);
  return result.output;
}

/** Options of {@link serveEntry}. */
export interface ServeEntryOptions {
  /** Runtime to run the app with; defaults to the current one. */
  runtime?: RuntimeName;
  /** Port that wins over `PORT` and `CF_CONTAINER_PORT`. */
  port?: number;
  /** Where relative paths and `node_modules/.bin` lookups start. */
  cwd?: string;
}

/** The module the runtime child executes: `runner.js` next to this file (`runner.ts` from source). */
function runnerPath(): string {
  return siblingModule("./runner", import.meta.url);
}

/**
 * Serves the default export of `entry` through containerflare's `serve()`. On the current runtime
 * it runs in this process (serve() then owns signals and the exit code); on another runtime it
 * spawns that runtime's binary and resolves with the child's exit status.
 */
export async function serveEntry(entry: string, options: ServeEntryOptions = {}): Promise<number | undefined> {
  const cwd = options.cwd ?? process.cwd();
  const runtime = options.runtime ?? currentRuntime();
  const entryPath = resolveEntry(entry, cwd);
  const name = relative(cwd, entryPath) || basename(entryPath);

  if (runtime === currentRuntime()) {
    const loadable = await prepareEntry(entryPath, runtime);
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(loadable.path).href)) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(`cannot load ${name}: ${(error as Error)?.message ?? error}`);
    } finally {
      loadable.dispose();
    }
    startApp(module, name, options.port === undefined ? {} : { port: options.port });
    return undefined;
  }

  const binary = findRuntimeBinary(runtime, cwd);
  const loadable = await prepareEntry(entryPath, runtime);
  try {
    const args = [loadable.path, options.port === undefined ? "" : String(options.port), name];
    return await runChild(binary, runtimeArguments(runtime, runnerPath(), args));
  } finally {
    loadable.dispose();
  }
}

/** `containerflare serve <entry> [--runtime node|bun|deno] [--port N]` */
/** The `<entry>` argument `serve` and `dev` share. */
export const ENTRY_ARG = {
  type: "positional",
  required: true,
  description: "File whose default export is the app (.ts, .js, .mjs, …)",
} as const;

export const serveCommand = defineCommand({
  meta: {
    name: "serve",
    description: "Serve an app's default export (a fetch handler or an object with fetch) with containerflare",
  },
  args: {
    entry: ENTRY_ARG,
    runtime: {
      type: "string",
      valueHint: RUNTIMES.join("|"),
      description: "Runtime to run the app with (default: the one running this CLI)",
    },
    port: {
      type: "string",
      valueHint: "N",
      description: "Port to listen on (default: PORT, then CF_CONTAINER_PORT, then 8787)",
    },
  },
  async run({ args }) {
    const runtime = parseRuntime(args.runtime);
    const port = parsePort(args.port);
    const status = await serveEntry(args.entry, { runtime, port });
    if (status !== undefined) exitProcess(status);
  },
});
