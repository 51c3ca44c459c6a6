/** Benchmark knobs from BENCH_* environment variables, validated with valibot. */
import * as v from "valibot";

/** Validated benchmark settings. */
export interface BenchSettings {
  /** Measured rounds per variant (interleaved across variants). */
  rounds: number;
  /** Seconds per measured round. */
  durationSeconds: number;
  /** Seconds of load before the first round (discarded). */
  warmupSeconds: number;
  connections: number;
  threads: number;
  /** Spawns per app for the cold-start median. */
  coldRuns: number;
  /** Only these variant ids (empty: all). */
  only: string[];
  /** Write docs/bench.md and docs/bench.svg. */
  write: boolean;
}

const count = (fallback: number, max: number) =>
  v.optional(v.pipe(v.string(), v.trim(), v.toNumber(), v.integer(), v.minValue(1), v.maxValue(max)), String(fallback));

const SettingsSchema = v.object({
  BENCH_ROUNDS: count(7, 50),
  BENCH_DURATION: count(3, 60),
  BENCH_WARMUP: count(2, 60),
  BENCH_CONNECTIONS: count(50, 1000),
  BENCH_THREADS: count(1, 16),
  BENCH_COLD_RUNS: count(7, 50),
  BENCH_ONLY: v.optional(v.string(), ""),
  BENCH_WRITE: v.optional(v.picklist(["0", "1"]), "1"),
});

/** Parses BENCH_* variables; throws one line naming the variable, its value and what is expected. */
export function readSettings(env: Record<string, string | undefined>): BenchSettings {
  const result = v.safeParse(SettingsSchema, env);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.[0]?.key;
    const name = typeof key === "string" ? key : "BENCH_*";
    throw new Error(`${name}=${JSON.stringify(env[name] ?? "")} is invalid: expected ${describe(name)}`);
  }
  const out = result.output;
  return {
    rounds: out.BENCH_ROUNDS,
    durationSeconds: out.BENCH_DURATION,
    warmupSeconds: out.BENCH_WARMUP,
    connections: out.BENCH_CONNECTIONS,
    threads: out.BENCH_THREADS,
    coldRuns: out.BENCH_COLD_RUNS,
    only: out.BENCH_ONLY.split(",")
      .map((id) => id.trim())
      .filter(Boolean),
    write: out.BENCH_WRITE === "1",
  };
}

function describe(name: string): string {
  if (name === "BENCH_WRITE") return '"0" or "1"';
  if (name === "BENCH_ONLY") return "a comma-separated list of variant ids";
  return "a positive whole number within bounds";
}
