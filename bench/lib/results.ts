/** Shapes of the benchmark's measurements, shared by the runner, the report and the chart. */
import type { RuntimeName } from "./runtimes.ts";
import type { Variant } from "./variants.ts";
import type { WrkResult } from "./wrk.ts";

/** One measured round: wrk's numbers plus the server's CPU time per request during it. */
export interface RoundResult extends WrkResult {
  serverCpuUsPerRequest: number;
}

/** Throughput of one variant over all rounds. */
export interface VariantResult {
  variant: Variant;
  /** Why the variant has no numbers (failed to start, died, wrk failed); undefined when fine. */
  failure?: string;
  rounds: RoundResult[];
  /** Medians over the rounds. */
  requestsPerSecond: number;
  serverCpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  /** Errors summed over the rounds (non-2xx and socket errors). */
  errors: number;
  /** RSS right after the first 200, and idle after the warm-up load. */
  freshRssMiB: number;
  idleRssMiB: number;
  /** `bench:` notes printed by the app. */
  notes: string[];
}

/** One paired round: both servers of a comparison under load at the same time, on one core. */
export interface PairRound {
  subjectRequestsPerSecond: number;
  referenceRequestsPerSecond: number;
  subjectCpuUsPerRequest: number;
  referenceCpuUsPerRequest: number;
}

/** A comparison (a target or another ratio) measured in paired rounds (bench/lib/pairs.ts). */
export interface PairResult {
  subject: string;
  reference: string;
  rounds: PairRound[];
  /** Why the pair has no numbers (a side failed or died); undefined when fine. */
  failure?: string;
}

/** Cold start of one app on one runtime. */
export interface ColdStartResult {
  runtime: RuntimeName;
  label: string;
  samplesMs: number[];
  medianMs: number;
  failure?: string;
}

/** Everything one `npm run bench` HTTP run measured. */
export interface HttpBenchReport {
  date: string;
  machine: {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    os: string;
    loadBefore: number[];
    loadAfter: number[];
  };
  versions: Record<string, string>;
  settings: {
    rounds: number;
    /** Absent in the raw results of runs before paired rounds. */
    pairRounds?: number;
    durationSeconds: number;
    warmupSeconds: number;
    connections: number;
    threads: number;
    coldRuns: number;
  };
  variants: VariantResult[];
  /** The comparisons, measured in paired rounds; absent in the raw results of older runs. */
  pairs?: PairResult[];
  /** Where the servers and wrk ran (bench/lib/cores.ts). */
  cores?: string;
  coldStarts: ColdStartResult[];
  elapsedSeconds: number;
}

/** A variant's result before (or without) any measurement: no rounds, every number NaN. */
export function emptyResult(variant: Variant): VariantResult {
  return {
    variant,
    rounds: [],
    requestsPerSecond: Number.NaN,
    serverCpuUsPerRequest: Number.NaN,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    errors: 0,
    freshRssMiB: Number.NaN,
    idleRssMiB: Number.NaN,
    notes: [],
  };
}
