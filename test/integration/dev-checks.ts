/**
 * What the tests of `containerflare dev` (and of processes it starts) check the same way: waiting
 * for a condition within a bound, and stopping the CLI with nothing it started left behind.
 */
import type { ChildProcess } from "node:child_process";
import { expect } from "vitest";
import { commandLine, descendants, isRunning, processTable } from "../../bench/lib/proctree.ts";
import { backoffDelay } from "../../src/internal/backoff.ts";
import { sleep } from "../../src/internal/sleep.ts";

/** Resolves with `probe()`'s first value that is not undefined; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(backoffDelay(attempt + 1, { baseMs: 50, maxMs: 250, jitter: false }));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Live processes other than this one whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  return processTable()
    .filter((entry) => entry.state !== "Z" && entry.pid !== process.pid && commandLine(entry.pid).includes(text))
    .map((entry) => entry.pid);
}

/** A `containerflare dev` child process as the tests hold it. */
export interface DevChild {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | string>;
  stop(): Promise<unknown>;
}

/**
 * Stops the CLI with SIGTERM and checks that it exited 0, said so last, and left nothing it
 * started (workerd and the app processes, at least two) and nothing running from `directory`.
 */
export async function stopAndCheck(dev: DevChild, directory: string): Promise<void> {
  const started = descendants(dev.child.pid!);
  expect(started.length).toBeGreaterThanOrEqual(2);
  await dev.stop();
  expect(await dev.exited).toBe(0);
  await until(
    "every child to be gone",
    () => (started.every((pid) => !isRunning(pid)) ? true : undefined),
    10_000,
  ).catch(() => undefined);
  expect(started.filter(isRunning).map((pid) => `${pid} ${commandLine(pid)}`)).toEqual([]);
  expect(processesMentioning(directory)).toEqual([]);
  expect(dev.output.at(-1)).toMatch(/stopped/);
}

/**
 * Runs `body` with a started dev, then {@link stopAndCheck}s it; when `body` fails, dev is only
 * stopped, so that the failure reported is the body's own.
 */
export async function checkedDev<T extends DevChild>(
  dev: T,
  directory: string,
  body: (dev: T) => Promise<void>,
): Promise<void> {
  try {
    await body(dev);
  } catch (error) {
    await dev.stop();
    // What dev printed says why, far more often than the assertion does.
    if (error instanceof Error)
      error.message += `\n--- containerflare dev's last lines:\n${dev.output.slice(-30).join("\n")}`;
    throw error;
  }
  await stopAndCheck(dev, directory);
}
