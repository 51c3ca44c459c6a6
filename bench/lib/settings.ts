/** Benchmark knobs from BENCH_* environment variables, validated with valibot (bench/http.ts's, and bench/websocket.ts's BENCH_WS_*). */
import * as v from "valibot";

/** Validated benchmark settings. */
export interface BenchSettings {
  /** Measured rounds per variant (interleaved across variants). */
  rounds: number;
  /** Paired rounds per comparison (bench/lib/pairs.ts). */
  pairRounds: number;
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

const count = (fallback: number, max: number, min = 1) =>
  v.optional(
    v.pipe(v.string(), v.trim(), v.toNumber(), v.integer(), v.minValue(min), v.maxValue(max)),
    String(fallback),
  );

/** A comma-separated list: its trimmed, non-empty items. */
const list = (text: string) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** What a variable expects, for the one-line error (default: a whole number within its bounds). */
const EXPECTED: Record<string, string> = {
  BENCH_WRITE: '"0" or "1"',
  BENCH_ONLY: "a comma-separated list of variant ids",
  BENCH_WS_RUNTIMES: "a comma-separated list of node, bun, deno",
  BENCH_WS_CLIENT: '"raw" or "websocket"',
  BENCH_WS_SLICE_MS: "milliseconds from 100 to 60000",
};

/** `env` through `schema`; a bad variable throws one line naming it, its value and what it expects. */
function parseEnv<Schema extends v.GenericSchema>(
  schema: Schema,
  env: Record<string, string | undefined>,
  fallbackName: string,
): v.InferOutput<Schema> {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  const key = result.issues[0].path?.[0]?.key;
  const name = typeof key === "string" ? key : fallbackName;
  const expected = EXPECTED[name] ?? "a positive whole number within bounds";
  throw new Error(`${name}=${JSON.stringify(env[name] ?? "")} is invalid: expected ${expected}`);
}

const SettingsSchema = v.object({
  BENCH_ROUNDS: count(7, 50),
  BENCH_PAIR_ROUNDS: count(11, 50),
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
  const out = parseEnv(SettingsSchema, env, "BENCH_*");
  return {
    rounds: out.BENCH_ROUNDS,
    pairRounds: out.BENCH_PAIR_ROUNDS,
    durationSeconds: out.BENCH_DURATION,
    warmupSeconds: out.BENCH_WARMUP,
    connections: out.BENCH_CONNECTIONS,
    threads: out.BENCH_THREADS,
    coldRuns: out.BENCH_COLD_RUNS,
    only: list(out.BENCH_ONLY),
    write: out.BENCH_WRITE === "1",
  };
}

/** Validated settings of bench/websocket.ts. */
export interface WebSocketBenchSettings {
  /** Measured rounds per side (the two sides alternate within a round). */
  rounds: number;
  /** Seconds each side is measured per round. */
  durationSeconds: number;
  /** Milliseconds of one slice: a round alternates the sides slice by slice. */
  sliceMs: number;
  /** Seconds of discarded load per side before the first round. */
  warmupSeconds: number;
  /** Sockets the client keeps open, each with one message in flight. */
  sockets: number;
  /** Bytes of each text message. */
  messageBytes: number;
  /** Runtimes to measure, in this order. */
  runtimes: ("node" | "bun" | "deno")[];
  /** The load generator: RFC 6455 over node:net (`raw`) or Node's global WebSocket. */
  client: "raw" | "websocket";
  /** Write docs/bench.md. */
  write: boolean;
}

const RUNTIME_NAMES = ["node", "bun", "deno"] as const;

const WebSocketSettingsSchema = v.object({
  BENCH_WS_ROUNDS: count(5, 50),
  BENCH_WS_SECONDS: count(8, 60),
  BENCH_WS_WARMUP: count(2, 60),
  BENCH_WS_SLICE_MS: count(1000, 60_000, 100),
  BENCH_WS_SOCKETS: count(64, 1024),
  BENCH_WS_MESSAGE_BYTES: count(64, 1024 * 1024),
  BENCH_WS_RUNTIMES: v.optional(
    v.pipe(v.string(), v.transform(list), v.minLength(1), v.array(v.picklist(RUNTIME_NAMES))),
    RUNTIME_NAMES.join(","),
  ),
  BENCH_WS_CLIENT: v.optional(v.picklist(["raw", "websocket"]), "raw"),
  BENCH_WRITE: v.optional(v.picklist(["0", "1"]), "1"),
});

/** Parses the BENCH_WS_* variables (and BENCH_WRITE); throws one line naming a bad variable. */
export function readWebSocketSettings(env: Record<string, string | undefined>): WebSocketBenchSettings {
  const out = parseEnv(WebSocketSettingsSchema, env, "BENCH_WS_*");
  return {
    rounds: out.BENCH_WS_ROUNDS,
    durationSeconds: out.BENCH_WS_SECONDS,
    sliceMs: out.BENCH_WS_SLICE_MS,
    warmupSeconds: out.BENCH_WS_WARMUP,
    sockets: out.BENCH_WS_SOCKETS,
    messageBytes: out.BENCH_WS_MESSAGE_BYTES,
    runtimes: [...new Set(out.BENCH_WS_RUNTIMES)],
    client: out.BENCH_WS_CLIENT,
    write: out.BENCH_WRITE === "1",
  };
}
