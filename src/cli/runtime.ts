import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, dirname, join } from "node:path";
import * as v from "valibot";
import { CliError } from "./errors.ts";

/** The JavaScript runtimes an app can be served with. */
export const RUNTIMES = ["node", "bun", "deno"] as const;

/** Name of a supported runtime. */
export type RuntimeName = (typeof RUNTIMES)[number];

const runtimeSchema = v.picklist(RUNTIMES);

/** The runtime executing this code. */
export function currentRuntime(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "node";
}

/** Validates a `--runtime` value; undefined means the current runtime. */
export function parseRuntime(value: string | undefined): RuntimeName {
  if (value === undefined || value === "") return currentRuntime();
  const result = v.safeParse(runtimeSchema, value.trim().toLowerCase());
  if (!result.success) throw new CliError(`unknown runtime "${value}": expected ${RUNTIMES.join(", ")}`);
  return result.output;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Directories searched for a runtime binary: every `node_modules/.bin` from `cwd` up, then PATH. */
export function binarySearchPath(cwd: string, pathVariable = process.env.PATH ?? ""): string[] {
  const directories: string[] = [];
  for (let directory = cwd; ; directory = dirname(directory)) {
    directories.push(join(directory, "node_modules", ".bin"));
    if (dirname(directory) === directory) break;
  }
  return [...directories, ...pathVariable.split(delimiter).filter(Boolean)];
}

/**
 * Finds the executable of `runtime` in `node_modules/.bin` (from `cwd` up) or on PATH. Throws a
 * one-line {@link CliError} when it is not installed.
 */
export function findRuntimeBinary(runtime: RuntimeName, cwd: string, pathVariable?: string): string {
  for (const directory of binarySearchPath(cwd, pathVariable)) {
    const candidate = join(directory, runtime);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new CliError(`${runtime} is not installed: no "${runtime}" executable in node_modules/.bin or on PATH`);
}

/** Command-line arguments that make `runtime` execute the ES module `script` with `args`. */
export function runtimeArguments(runtime: RuntimeName, script: string, args: string[] = []): string[] {
  switch (runtime) {
    case "node":
      return ["--enable-source-maps", script, ...args];
    case "bun":
      return ["run", script, ...args];
    case "deno":
      // The app gets the same access it has on Node and Bun; the image runs it the same way.
      return ["run", "--allow-all", "--quiet", script, ...args];
  }
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs `binary args` with inherited stdio and resolves with its exit status (128 + signal number
 * when a signal ended it). SIGINT, SIGTERM and SIGHUP sent to this process are forwarded once.
 */
export function runChild(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    // Its own process group: a Ctrl-C in the terminal reaches only this process, which forwards
    // it once; otherwise the child would see SIGINT twice and skip its graceful drain.
    const child = spawn(binary, args, { stdio: "inherit", env, detached: true });
    // process.kill rather than child.kill: after child.kill, Deno reports the signal as the exit
    // cause even when the child handled it and exited 0.
    const forward = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(child.pid, signal);
      } catch {
        // Already gone: its exit event follows.
      }
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const stopForwarding = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    };
    child.once("error", (error) => {
      stopForwarding();
      reject(new CliError(`cannot start ${binary}: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      stopForwarding();
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
  });
}
