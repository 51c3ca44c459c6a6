import { type ChildProcess, spawn } from "node:child_process";
import type { ConsolaInstance } from "consola";
import { backoffDelay } from "../../internal/backoff.ts";
import { sleep } from "../../internal/sleep.ts";
import { type LoadableEntry, prepareEntry, siblingModule } from "../entry.ts";
import { errorLine } from "../errors.ts";
import { type RuntimeName, runtimeArguments } from "../runtime.ts";
import { type AppStatus, exitReason, formatDelay } from "./app-state.ts";
import { isListening } from "./ports.ts";

/**
 * How a crashed app is restarted: at once with exponential backoff, never given up on (a file
 * change restarts it at once anyway), with the log kept short while it keeps crashing.
 */
export interface RestartPolicy {
  /** Delay before the restart after a first crash, in ms; it doubles with every crash in a row. */
  firstDelayMs: number;
  /** Longest delay between restarts, in ms. */
  maxDelayMs: number;
  /** An app that stayed up this long starts over at `firstDelayMs` when it crashes, in ms. */
  stableMs: number;
  /** Crashes in a row logged one by one; after that one line says so, and the rest are quiet. */
  loggedCrashes: number;
}

/** 250 ms doubling to 10 s, reset after 10 s up; five crashes in a row logged, then quiet. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  firstDelayMs: 250,
  maxDelayMs: 10_000,
  stableMs: 10_000,
  loggedCrashes: 5,
};

/** How often a starting app's port is tried: 25 ms doubling to 200 ms. */
const READY_POLL = { baseMs: 25, maxMs: 200, jitter: false };

/** Delay before restarting after the `crashes`-th crash in a row (1-based), in ms. */
export function restartDelay(crashes: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  // No jitter: one process restarting its own child, nobody to fall out of step with.
  return backoffDelay(Math.max(crashes, 1), { baseMs: policy.firstDelayMs, maxMs: policy.maxDelayMs, jitter: false });
}

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
  /** Called with every change of the app's state (`containerflare dev` tells the dev Worker). */
  onStatus?(change: AppStatus): void;
  /** How a crashed app is restarted (default {@link DEFAULT_RESTART_POLICY}). */
  restartPolicy?: RestartPolicy;
  /**
   * Restart an app that exits by itself (default true). A container instance is not: like on
   * the platform, its exit is reported (`onExit`) and the next request starts a new one.
   */
  restartOnExit?: boolean;
  /** Called when the app ends by itself: it exited, or its entry or runtime could not be started. */
  onExit?(exit: AppExit): void;
}

/** How an app that ended by itself ended: its exit code or signal, or why it never ran. */
export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the app never ran: its entry failed to build or its runtime could not be started. */
  failure?: string;
}

/** The app as a supervised child process. */
export interface AppProcess {
  /** Starts the app and resolves once its port accepts connections (or it exited). */
  start(): Promise<boolean>;
  /** Stops the running app (if any) and starts it again at once (a file changed); overlapping calls coalesce. */
  restart(): Promise<boolean>;
  /** Stops the app: SIGTERM to its process group, SIGKILL after the stop timeout. */
  stop(): Promise<void>;
  /** Sends `signal` to the running app's process group (nothing when it is not running). */
  signal(signal: NodeJS.Signals): void;
  /** Process id of the running child. */
  readonly pid: number | undefined;
}

/** The module the child runs: `runner.js` in the CLI directory (`runner.ts` from source). */
function runnerPath(): string {
  return siblingModule("../runner", import.meta.url);
}

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
 * group, so stopping it also stops anything it started. An app that exits by itself is
 * restarted after a backoff ({@link RestartPolicy}); every state change goes to `onStatus`.
 */
export function createAppProcess(options: AppProcessOptions): AppProcess {
  const { logger } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 3_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const policy = options.restartPolicy ?? DEFAULT_RESTART_POLICY;
  const report = (change: AppStatus) => options.onStatus?.(change);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let loadable: LoadableEntry | undefined;
  let pending: Promise<boolean> | undefined;
  let again = false;
  let stopped = false;
  // Crashes in a row, when the app last came up, and the pending restart after a crash.
  let crashes = 0;
  let upSince: number | undefined;
  let restartTimer: ReturnType<typeof setTimeout> | undefined;
  // Whatever ends this process, the app's process group goes with it (signals are synchronous).
  const killOnExit = () => {
    if (child) signalGroup(child, "SIGKILL");
  };
  process.on("exit", killOnExit);

  /** The current child exited by itself: report it, and restart it after the backoff. */
  function crashed(code: number | null, signal: NodeJS.Signals | null): void {
    if (options.restartOnExit === false) {
      child = undefined;
      options.onExit?.({ code, signal });
      return;
    }
    if (upSince !== undefined && Date.now() - upSince >= policy.stableMs) crashes = 0;
    upSince = undefined;
    crashes++;
    const delay = restartDelay(crashes, policy);
    const reason = exitReason(code, signal, delay);
    report({ status: "down", reason });
    if (crashes <= policy.loggedCrashes) logger.warn(reason);
    if (crashes === policy.loggedCrashes) {
      logger.warn(
        `the app crashed ${crashes} times in a row: it is restarted every ${formatDelay(policy.maxDelayMs)} at most, ` +
          `without a line per crash until it stays up ${formatDelay(policy.stableMs)} or a file changes`,
      );
    }
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void schedule();
    }, delay);
  }

  async function spawnApp(): Promise<ChildProcess | undefined> {
    try {
      loadable = await prepareEntry(options.entryPath, options.runtime);
    } catch (error) {
      logger.error(`${errorLine(error)}; waiting for a change`);
      options.onExit?.({ code: null, signal: null, failure: "the app failed to build" });
      report({
        status: "down",
        reason: "the app failed to build; waiting for a change (see the dev command's output)",
      });
      return undefined;
    }
    if (stopped) return undefined;
    const args = runtimeArguments(options.runtime, runnerPath(), [
      loadable.path,
      String(options.port),
      options.entryName,
    ]);
    const stdio =
      options.commands === "stdio"
        ? (["pipe", "pipe", "inherit"] as const)
        : (["ignore", "inherit", "inherit"] as const);
    const spawned = spawn(options.binary, args, { env: options.env, stdio: [...stdio], detached: true });
    const current = spawned;
    exited = new Promise((resolve) => {
      let ended = false;
      spawned.once("error", (error) => {
        if (ended) return;
        ended = true;
        logger.error(`cannot start ${options.binary}: ${error.message}`);
        if (child === current && !stopped) {
          options.onExit?.({ code: null, signal: null, failure: "the app's runtime could not be started" });
          report({ status: "down", reason: "the app's runtime could not be started; waiting for a change" });
        }
        resolve();
      });
      spawned.once("exit", (code, signal) => {
        // Anything the app started in its group goes with it.
        signalGroup(spawned, "SIGKILL");
        if (ended) return;
        ended = true;
        // A child stopped on purpose is no longer `child` (stopChild clears it first).
        if (child === current && !stopped) crashed(code, signal);
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
      await sleep(backoffDelay(attempt + 1, READY_POLL));
    }
    logger.warn(`the app did not listen on port ${options.port} within ${readyTimeoutMs / 1000}s`);
    report({
      status: "down",
      reason: `the app did not listen on its port within ${readyTimeoutMs / 1000}s; waiting for a change`,
    });
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
      // Requests wait while the app (re)starts, instead of reaching a stopping one.
      report({ status: "starting" });
      await stopChild();
      if (stopped) return false;
      const spawned = await spawnApp();
      ready = spawned ? await waitUntilReady(spawned) : false;
    } while (again && !stopped);
    if (ready) {
      upSince = Date.now();
      report({ status: "up" });
      if (crashes > 0 && crashes <= policy.loggedCrashes) logger.info("the app is running again");
    }
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
    signal(signal) {
      if (child) signalGroup(child, signal);
    },
    restart() {
      // A change is worth trying at once, whatever the backoff of a crashing app said.
      clearTimeout(restartTimer);
      restartTimer = undefined;
      crashes = 0;
      return schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      // Stopping the child first ends a cycle that waits for it; a cycle that spawned meanwhile
      // is stopped by the second call.
      await stopChild();
      await pending?.catch(() => false);
      await stopChild();
      process.off("exit", killOnExit);
    },
  };
}
