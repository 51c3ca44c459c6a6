/**
 * HTTP benchmark: hello-world throughput of raw node:http, srvx, @hono/node-server and
 * containerflare on Node, Bun and Deno, side by side in one run with the same wrk settings; plus
 * cold start and RSS. Writes docs/bench.md (outside the commands section) and docs/bench.svg.
 *
 * Run through `npm run bench` (builds first), or `node bench/http.ts` after `npm run build`.
 * `node bench/http.ts --cold` measures the cold starts only (no wrk, docs/ left untouched): the
 * quick check for start-up work, e.g. `BENCH_COLD_RUNS=15 node bench/http.ts --cold`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type CorePlan, onCores, planCores } from "./lib/cores.ts";
import { measurePairs } from "./lib/pairs.ts";
import {
  cpuSeconds,
  killAllNow,
  rssMiB,
  type ServerProcess,
  startServer,
  stopAll,
  stopServer,
} from "./lib/processes.ts";
import { composeBenchDoc, evaluateTargets, renderHttpMarkdown, runtimeTitles } from "./lib/report.ts";
import {
  type ColdStartResult,
  emptyResult,
  type HttpBenchReport,
  type PairResult,
  type VariantResult,
} from "./lib/results.ts";
import { type Runtime, resolveRuntimes } from "./lib/runtimes.ts";
import { type BenchSettings, readSettings } from "./lib/settings.ts";
import { formatInt, formatRatio, median } from "./lib/stats.ts";
import { renderChart } from "./lib/svg.ts";
import { COLD_START_APPS, VARIANTS, type Variant } from "./lib/variants.ts";
import { findWrk, runWrk, wrkVersion } from "./lib/wrk.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const APPS = join(ROOT, "bench", "apps");
const DOC = join(ROOT, "docs", "bench.md");
const CHART = join(ROOT, "docs", "bench.svg");
const RAW_RESULTS = join(ROOT, "bench", "results", "http.json");
const CONTAINERFLARE_ENTRY = join(ROOT, "dist", "src", "index.js");

process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping servers`);
    killAllNow();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  // `--render` re-renders docs/ from the last run's raw results, without loading the machine again.
  const coldOnly = process.argv.includes("--cold");
  const report = process.argv.includes("--render") ? loadReport() : await measure(settings, coldOnly);
  printSummary(report);
  if (settings.write && !coldOnly) {
    mkdirSync(dirname(DOC), { recursive: true });
    writeFileSync(CHART, renderChart(report.variants, runtimeTitles(report.versions)));
    writeFileSync(DOC, composeBenchDoc(DOC, renderHttpMarkdown(report, "bench.svg")));
    log(`wrote ${rel(DOC)} and ${rel(CHART)}`);
  } else {
    log("BENCH_WRITE=0: docs/ left untouched");
  }
}

/**
 * Runs the whole measurement and keeps its raw results in bench/results/ (git-ignored); with
 * `coldOnly` the cold starts alone, and the raw results of the last full run stay.
 */
async function measure(settings: BenchSettings, coldOnly = false): Promise<HttpBenchReport> {
  const wrk = coldOnly ? "wrk (not run)" : findWrk();
  if (!wrk) {
    throw new Error(
      "wrk not found (looked for /usr/bin/wrk and on PATH): install the Debian package `wrk` to run the HTTP benchmark",
    );
  }
  const started = performance.now();
  const loadBefore = loadavg();
  const runtimes = resolveRuntimes(ROOT);
  const versions = collectVersions(runtimes, coldOnly ? wrk : wrkVersion(wrk));
  const variants = VARIANTS.filter((v) => settings.only.length === 0 || settings.only.includes(v.id));
  if (variants.length === 0)
    throw new Error(
      `BENCH_ONLY=${settings.only.join(",")} matches no variant; ids: ${VARIANTS.map((v) => v.id).join(", ")}`,
    );
  log(
    `runtimes: node ${versions.node ?? "missing"}, bun ${versions.bun ?? "missing"}, deno ${versions.deno ?? "missing"}; ${versions.wrk}`,
  );
  if (loadBefore[0]! > availableParallelism() * 0.5) {
    log(
      `note: the machine is busy (1-min load ${loadBefore[0]!.toFixed(2)} on ${availableParallelism()} cores); absolute numbers will be noisy, compare within this run`,
    );
  }
  if (!coldOnly)
    log(
      `${variants.length} servers × ${settings.rounds} rounds × ${settings.durationSeconds} s (wrk -t${settings.threads} -c${settings.connections}), warm-up ${settings.warmupSeconds} s`,
    );

  const cores = planCores();
  if (!coldOnly) log(`cores: ${cores.description}`);
  const { results, pairs } = coldOnly
    ? {
        results: variants.map((variant) => ({ ...emptyResult(variant), failure: "not measured (--cold)" })),
        pairs: [],
      }
    : await measureThroughput(variants, runtimes, wrk, settings, cores);
  const coldStarts = await measureColdStarts(variants, runtimes, settings);

  const report: HttpBenchReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: {
      cpuModel: cpus()[0]?.model.trim() || "unknown CPU",
      cores: availableParallelism(),
      memoryGiB: totalmem() / 1024 ** 3,
      os: `${platform()} ${release()}`,
      loadBefore,
      loadAfter: loadavg(),
    },
    versions,
    settings,
    variants: results,
    pairs,
    cores: cores.description,
    coldStarts,
    elapsedSeconds: (performance.now() - started) / 1000,
  };
  if (coldOnly) return report;
  mkdirSync(dirname(RAW_RESULTS), { recursive: true });
  writeFileSync(RAW_RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  log(`raw results in ${rel(RAW_RESULTS)}`);
  return report;
}

/** Reads the raw results of the last run (JSON turns NaN into null; this turns it back). */
function loadReport(): HttpBenchReport {
  if (!existsSync(RAW_RESULTS))
    throw new Error(`--render needs ${rel(RAW_RESULTS)} from an earlier run; run without --render first`);
  return JSON.parse(readFileSync(RAW_RESULTS, "utf8"), (_key, value: unknown) =>
    value === null ? Number.NaN : value,
  ) as HttpBenchReport;
}

/**
 * Starts every server, warms each up, then runs the interleaved rounds, then the paired rounds of
 * the comparisons (bench/lib/pairs.ts); failures stay per variant and per pair.
 */
async function measureThroughput(
  variants: readonly Variant[],
  runtimes: Record<string, Runtime>,
  wrk: string,
  settings: BenchSettings,
  cores: CorePlan,
): Promise<{ results: VariantResult[]; pairs: PairResult[] }> {
  const results = variants.map((variant): VariantResult => emptyResult(variant));
  const servers = new Map<string, ServerProcess>();

  for (const result of results) {
    const problem = precondition(result.variant, runtimes);
    if (problem) {
      result.failure = problem;
      log(`${result.variant.id}: skipped — ${problem}`);
      continue;
    }
    try {
      const server = await startServer(spawnSpec(result.variant, runtimes, cores.server));
      servers.set(result.variant.id, server);
      result.freshRssMiB = rssMiB(server.pid);
      result.notes = server.notes;
      log(`${result.variant.id}: listening on ${server.url} after ${server.startupMs.toFixed(0)} ms`);
    } catch (error) {
      result.failure = `failed to start: ${(error as Error).message}`;
      log(`${result.variant.id}: ${result.failure}`);
    }
  }

  for (const result of results) {
    const server = servers.get(result.variant.id);
    if (!server) continue;
    try {
      await runWrk(wrk, {
        url: server.url,
        durationSeconds: settings.warmupSeconds,
        connections: settings.connections,
        threads: settings.threads,
        cores: cores.load,
      });
    } catch (error) {
      result.failure = `warm-up failed: ${(error as Error).message}`;
    }
  }
  await sleep(1_000);
  for (const result of results) {
    const server = servers.get(result.variant.id);
    if (server) result.idleRssMiB = rssMiB(server.pid);
  }

  for (let round = 0; round < settings.rounds; round++) {
    // Rotate the order each round so no server always runs first or last.
    const order = results.map((_, i) => results[(i + round) % results.length]!);
    for (const result of order) {
      const server = servers.get(result.variant.id);
      if (!server || result.failure) continue;
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        result.failure = `server process died during the run (${server.child.signalCode ?? server.child.exitCode})`;
        continue;
      }
      try {
        const cpuBefore = cpuSeconds(server.pid);
        const measured = await runWrk(wrk, {
          url: server.url,
          durationSeconds: settings.durationSeconds,
          connections: settings.connections,
          threads: settings.threads,
          cores: cores.load,
        });
        const serverCpuUsPerRequest = ((cpuSeconds(server.pid) - cpuBefore) / measured.requests) * 1e6;
        result.rounds.push({ ...measured, serverCpuUsPerRequest });
        log(
          `round ${round + 1}/${settings.rounds} ${result.variant.id.padEnd(15)} ${formatInt(measured.requestsPerSecond).padStart(8)} req/s ` +
            `${serverCpuUsPerRequest.toFixed(1).padStart(6)} µs CPU/req${measured.errors ? `, ${measured.errors} errors` : ""}`,
        );
      } catch (error) {
        result.failure = `wrk failed: ${(error as Error).message}`;
        log(`${result.variant.id}: ${result.failure}`);
      }
    }
  }
  // The paired rounds start their own processes (bench/lib/pairs.ts): these ones have lived
  // through the whole run.
  await stopAll();
  const pairs = await measurePairs(
    {
      ids: new Set(results.filter((r) => !r.failure).map((r) => r.variant.id)),
      start: (id) => startServer(spawnSpec(variants.find((v) => v.id === id)!, runtimes, cores.server)),
      stop: (server) => stopServer(server.child),
    },
    wrk,
    settings,
    cores.load,
    log,
  );

  for (const result of results) {
    if (result.failure) continue;
    result.requestsPerSecond = median(result.rounds.map((r) => r.requestsPerSecond));
    result.serverCpuUsPerRequest = median(result.rounds.map((r) => r.serverCpuUsPerRequest));
    result.p50Ms = median(result.rounds.map((r) => r.p50Ms));
    result.p99Ms = median(result.rounds.map((r) => r.p99Ms));
    result.errors = result.rounds.reduce((sum, r) => sum + r.errors, 0);
  }
  return { results, pairs };
}

/** Spawns each cold-start app `coldRuns` times (interleaved) and keeps the time to the first 200. */
async function measureColdStarts(
  variants: readonly Variant[],
  runtimes: Record<string, Runtime>,
  settings: BenchSettings,
): Promise<ColdStartResult[]> {
  const wanted = COLD_START_APPS.filter((c) => variants.some((v) => v.runtime === c.runtime && v.app === c.app));
  const results = wanted.map(
    (c): ColdStartResult => ({ runtime: c.runtime, label: c.label, samplesMs: [], medianMs: Number.NaN }),
  );
  for (let run = 0; run < settings.coldRuns; run++) {
    for (const [index, app] of wanted.entries()) {
      const result = results[index]!;
      if (result.failure) continue;
      const variant = {
        id: `cold-${app.runtime}-${app.app}`,
        label: app.label,
        runtime: app.runtime,
        app: app.app,
        kind: "baseline",
      } as const;
      const problem = precondition(variant, runtimes);
      if (problem) {
        result.failure = problem;
        continue;
      }
      try {
        const server = await startServer(spawnSpec(variant, runtimes));
        result.samplesMs.push(server.startupMs);
        await stopServer(server.child);
      } catch (error) {
        result.failure = `failed to start: ${(error as Error).message}`;
      }
    }
    log(`cold start run ${run + 1}/${settings.coldRuns} done`);
  }
  for (const result of results) result.medianMs = median(result.samplesMs);
  return results;
}

/** Why a variant cannot run at all (missing runtime or unbuilt containerflare), else undefined. */
function precondition(variant: Variant, runtimes: Record<string, Runtime>): string | undefined {
  const runtime = runtimes[variant.runtime]!;
  if (!runtime.version) return `${variant.runtime} not found or not runnable at ${rel(runtime.binary)}`;
  if (variant.app.startsWith("containerflare")) {
    if (!existsSync(CONTAINERFLARE_ENTRY))
      return `containerflare is not built: ${rel(CONTAINERFLARE_ENTRY)} is missing (run npm run build)`;
    if (!/\bserve\b/.test(readFileSync(CONTAINERFLARE_ENTRY, "utf8")))
      return `${rel(CONTAINERFLARE_ENTRY)} does not export serve yet`;
  }
  return undefined;
}

/** How to start `variant`, on `cores` (a `taskset -c` list) when given: cold starts are not pinned. */
function spawnSpec(variant: Variant, runtimes: Record<string, Runtime>, cores?: string) {
  const runtime = runtimes[variant.runtime]!;
  const [command, args] = onCores(cores, runtime.binary, runtime.argsFor(join(APPS, variant.app)));
  return {
    command,
    args,
    cwd: ROOT,
    ...(variant.env ? { env: variant.env } : {}),
  };
}

function collectVersions(runtimes: Record<string, Runtime>, wrk: string): Record<string, string> {
  const versions: Record<string, string> = { wrk };
  for (const runtime of Object.values(runtimes)) if (runtime.version) versions[runtime.name] = runtime.version;
  for (const pkg of ["srvx", "hono", "@hono/node-server"]) {
    try {
      versions[pkg] = JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      // A missing library shows up as "?" in the report; its variant fails to start on its own.
    }
  }
  return versions;
}

function printSummary(report: HttpBenchReport): void {
  console.log("\nrequests/s (median of rounds)");
  for (const r of report.variants) {
    const value = r.failure
      ? `FAILED: ${r.failure}`
      : `${formatInt(r.requestsPerSecond).padStart(8)}  (${r.serverCpuUsPerRequest.toFixed(1)} µs server CPU/req)`;
    console.log(`  ${r.variant.runtime.padEnd(5)} ${r.variant.label.padEnd(28)} ${value}`);
  }
  console.log("targets");
  for (const t of evaluateTargets(report)) {
    console.log(
      `  ${t.verdict.padEnd(4)} ${t.description}: ${formatRatio(t.ratio, 3)} (by server CPU per request: ${formatRatio(t.cpuRatio, 3)})`,
    );
  }
  console.log("cold start (median)");
  for (const c of report.coldStarts) {
    console.log(
      `  ${c.runtime.padEnd(5)} ${c.label.padEnd(28)} ${c.failure ? `FAILED: ${c.failure}` : `${c.medianMs.toFixed(0)} ms`}`,
    );
  }
}

function rel(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

function log(message: string): void {
  console.log(`bench: ${message}`);
}

try {
  await main();
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
