import { spawn, type ChildProcess } from "node:child_process";
import type { ConsolaInstance } from "consola";
import { prepareEntry, siblingModule, type LoadableEntry } from "../entry.ts";
import { errorLine } from "../errors.ts";
import { runtimeArguments, type RuntimeName } from "../runtime.ts";
import { isListening } from "./ports.ts";

/** Options of {@link createAppProcess}. */
export interface AppProcessOptions {
  runtime: RuntimeName;
  /** The runtime's executable. */
  binary: string;
  /** Absolute path of the app's entry. */
  entryPath: string;
  /** The entry as shown in messages. */
  entryName: string;
  /** Loopback port the app listens on. */
  port: number;
  /** The child's complete environment. */
  env: NodeJS.ProcessEnv;
  /** `stdio`: the child's stdin/stdout carry the command bus (see {@link AppProcess.onSpawn}). */
  commands: "http" | "stdio";
  logger: ConsolaInstance;
  /** How long a stopping app may drain before it is killed, in ms (default 3000). */
  stopTimeoutMs?: number;
  /** How long to wait for the app's port after a start, in ms (default 30 000). */
  readyTimeoutMs?: number;
  /** Called with every new child (the stdio bridge attaches here). */
  onSpawn?(child: ChildProcess): void;
}

/** The app as a supervised child process. */
export interface AppProcess {
  /** Starts the app and resolves once its port accepts connections (or it exited). */
  start(): Promise<boolean>;
  /** Stops the running app (if any) and starts it again; overlapping calls coalesce. */
  restart(): Promise<boolean>;
  /** Stops the app: SIGTERM to its process group, SIGKILL after the stop timeout. */
  stop(): Promise<void>;
  /** Process id of the running child. */
  readonly pid: number | undefined;
}

/** The module the child runs: `runner.js` in the CLI directory (`runner.ts` from source). */
function runnerPath(): string {
  return siblingModule("../runner", import.meta.url);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `signal` to the child's whole process group (it was spawned detached: pgid = pid). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Runs the app under its runtime through containerflare's runner, exactly like `containerflare
 * serve` does: TypeScript entries are compiled for Node (anew on every start, so that edits of
 * imported files count) and run as they are on Bun and Deno. Each child gets its own process
 * group, so stopping it also stops anything it started.
 */
export function createAppProcess(options: AppProcessOptions): AppProcess {
  const { logger } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 3_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let loadable: LoadableEntry | undefined;
  let pending: Promise<boolean> | undefined;
  let again = false;
  let stopped = false;
  // Whatever ends this process, the app's process group goes with it (signals are synchronous).
  const killOnExit = () => {
    if (child) signalGroup(child, "SIGKILL");
  };
  process.on("exit", killOnExit);

  async function spawnApp(): Promise<ChildProcess | undefined> {
    try {
      loadable = await prepareEntry(options.entryPath, options.runtime);
    } catch (error) {
      logger.error(`${errorLine(error)}; waiting for a change`);
      return undefined;
    }
    if (stopped) return undefined;
    const args = runtimeArguments(options.runtime, runnerPath(), [loadable.path, String(options.port), options.entryName]);
    const stdio = options.commands === "stdio" ? (["pipe", "pipe", "inherit"] as const) : (["ignore", "inherit", "inherit"] as const);
    const spawned = spawn(options.binary, args, { env: options.env, stdio: [...stdio], detached: true });
    const current = spawned;
    exited = new Promise((resolve) => {
      spawned.once("error", (error) => {
        logger.error(`cannot start ${options.binary}: ${error.message}`);
        resolve();
      });
      spawned.once("exit", (code, signal) => {
        // Anything the app started in its group goes with it.
        signalGroup(spawned, "SIGKILL");
        if (child === current && !stopped) {
          logger.warn(`the app exited (${signal ?? `code ${code}`}); waiting for a change to restart it`);
        }
        resolve();
      });
    });
    child = spawned;
    options.onSpawn?.(spawned);
    return spawned;
  }

  async function waitUntilReady(spawned: ChildProcess): Promise<boolean> {
    const deadline = Date.now() + readyTimeoutMs;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      if (spawned.exitCode !== null || spawned.signalCode !== null || child !== spawned) return false;
      if (await isListening(options.port)) return true;
      await sleep(Math.min(25 * 2 ** attempt, 200));
    }
    logger.warn(`the app did not listen on port ${options.port} within ${readyTimeoutMs / 1000}s`);
    return false;
  }

  async function stopChild(): Promise<void> {
    const current = child;
    child = undefined;
    if (current && current.exitCode === null && current.signalCode === null) {
      signalGroup(current, "SIGTERM");
      const timer = setTimeout(() => signalGroup(current, "SIGKILL"), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    }
    loadable?.dispose();
    loadable = undefined;
  }

  async function cycle(): Promise<boolean> {
    let ready = false;
    do {
      again = false;
      await stopChild();
      if (stopped) return false;
      const spawned = await spawnApp();
      ready = spawned ? await waitUntilReady(spawned) : false;
    } while (again && !stopped);
    return ready;
  }

  function schedule(): Promise<boolean> {
    if (pending) {
      again = true;
      return pending;
    }
    pending = cycle().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    get pid() {
      return child?.pid;
    },
    start: schedule,
    restart: schedule,
    async stop() {
      stopped = true;
      // Stopping the child first ends a cycle that waits for it; a cycle that spawned meanwhile
      // is stopped by the second call.
      await stopChild();
      await pending?.catch(() => false);
      await stopChild();
      process.off("exit", killOnExit);
    },
  };
}
