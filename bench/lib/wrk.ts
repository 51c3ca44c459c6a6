/** Runs the `wrk` load generator and parses its report. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { onCores } from "./cores.ts";

/** One wrk measurement. */
export interface WrkResult {
  requestsPerSecond: number;
  /** Requests completed in the run. */
  requests: number;
  /** Latency percentiles in milliseconds (from `--latency`). */
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors: a round with errors is flagged in the report. */
  errors: number;
}

/** Options of one wrk run. */
export interface WrkOptions {
  url: string;
  durationSeconds: number;
  connections: number;
  threads: number;
  /** The cores wrk runs on (a `taskset -c` list, bench/lib/cores.ts); anywhere when undefined. */
  cores?: string | undefined;
}

/** Finds the wrk binary (Debian's /usr/bin/wrk, else PATH); undefined when it is not installed. */
export function findWrk(): string | undefined {
  if (existsSync("/usr/bin/wrk")) return "/usr/bin/wrk";
  const which = spawnSync("sh", ["-c", "command -v wrk"], { encoding: "utf8", timeout: 5_000 });
  const path = which.stdout?.trim();
  return which.status === 0 && path ? path : undefined;
}

/** The first line wrk prints about itself ("wrk 4.1.0 [epoll] ..."), for the report. */
export function wrkVersion(wrk: string): string {
  const out = spawnSync(wrk, ["-v"], { encoding: "utf8", timeout: 5_000 });
  const first = `${out.stdout ?? ""}${out.stderr ?? ""}`.split("\n")[0] ?? "";
  return first.replace(/\s*Copyright.*$/, "").trim() || "wrk (unknown version)";
}

/** Runs wrk once; rejects with wrk's own output when it fails or its report cannot be parsed. */
export function runWrk(wrk: string, options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    "--timeout",
    "2s",
    "--latency",
    options.url,
  ];
  return new Promise((resolve, reject) => {
    const [command, commandArgs] = onCores(options.cores, wrk, args);
    const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // wrk stops by itself after -d; the guard only catches a hung wrk.
    const guard = setTimeout(() => child.kill("SIGKILL"), (options.durationSeconds + 15) * 1000);
    child.on("error", (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(guard);
      const parsed = code === 0 ? parseWrkOutput(output) : undefined;
      if (parsed) resolve(parsed);
      else reject(new Error(`wrk exited with ${code}: ${output.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

/** Parses wrk's text report; undefined when it has no "Requests/sec" line. */
export function parseWrkOutput(output: string): WrkResult | undefined {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (!rps) return undefined;
  const total = /(\d+) requests in /.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(rps[1]),
    requests: Number(total?.[1] ?? Number.NaN),
    p50Ms: percentileMs(output, "50"),
    p99Ms: percentileMs(output, "99"),
    errors: Number(non2xx?.[1] ?? 0) + socketErrors,
  };
}

/** Reads one line of wrk's "Latency Distribution" ("  99%    3.10ms") in milliseconds. */
function percentileMs(output: string, percentile: string): number {
  const match = new RegExp(`^\\s+${percentile}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(output);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}
