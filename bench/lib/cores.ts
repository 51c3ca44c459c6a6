/**
 * Which core each process of the HTTP benchmark runs on. With two cores or more and `taskset`
 * (util-linux) on the machine, every server runs on core 0 and every wrk on core 1: the load
 * generator never takes the server's core, and the two servers of a paired round (bench/lib/pairs.ts)
 * share one core, so that the scheduler gives each half of it. Without either, nothing is pinned
 * and the report says so.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

/** Where the servers and the load generator run. */
export interface CorePlan {
  /** The core list given to `taskset -c` for servers, or undefined (not pinned). */
  server: string | undefined;
  /** The same for wrk. */
  load: string | undefined;
  /** One sentence for the report. */
  description: string;
}

/** The plan for this machine (see the module comment). */
export function planCores(): CorePlan {
  const cores = availableParallelism();
  const taskset = spawnSync("taskset", ["-c", "0", "true"], { timeout: 5_000 });
  if (cores < 2 || taskset.status !== 0) {
    return {
      server: undefined,
      load: undefined,
      description: `not pinned (${cores < 2 ? "one core" : "taskset is not available"}): servers and wrk share the cores as the scheduler decides`,
    };
  }
  return {
    server: "0",
    load: "1",
    description:
      "every server runs on core 0 and every wrk on core 1 (`taskset -c`), so that the load generator never takes the server's core",
  };
}

/** `command args` to run on `cores` (a `taskset -c` list); unchanged when `cores` is undefined. */
export function onCores(cores: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  // taskset execs the command: the pid the harness reads /proc for is the command's own.
  return cores === undefined ? [command, [...args]] : ["taskset", ["-c", cores, command, ...args]];
}
