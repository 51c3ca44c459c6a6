/** Renders the HTTP benchmark as Markdown and writes docs/bench.md around the commands section. */
import { existsSync, readFileSync } from "node:fs";
import type { ColdStartResult, HttpBenchReport, RoundResult, VariantResult } from "./results.ts";
import type { RuntimeName } from "./runtimes.ts";
import { formatInt, formatRatio, median, relativeSpread } from "./stats.ts";
import { EXTRA_RATIOS, TARGETS, VARIANTS } from "./variants.ts";

/** Markers of the section that bench/commands.ts owns inside docs/bench.md. */
export const COMMANDS_START = "<!-- commands:start -->";
export const COMMANDS_END = "<!-- commands:end -->";

const RUNTIME_TITLES: Record<RuntimeName, string> = { node: "Node.js", bun: "Bun", deno: "Deno" };

/** One evaluated target. */
export interface TargetOutcome {
  description: string;
  ratio: number;
  /** The same comparison by server CPU time per request (reference / subject): less noise-prone. */
  cpuRatio: number;
  minRatio: number;
  /** Lowest and highest per-round req/s ratio: how far this machine's noise moves the ratio. */
  roundRange: [number, number];
  /** PASS, FAIL, or n/a when a side has no result. */
  verdict: "PASS" | "FAIL" | "n/a";
  detail: string;
}

/** Per-round ratios subject / reference of a value (empty when a side has no result or the rounds do not pair up). */
function roundRatios(
  results: readonly VariantResult[],
  subject: string,
  reference: string,
  value: (round: RoundResult) => number,
): number[] {
  const a = results.find((r) => r.variant.id === subject);
  const b = results.find((r) => r.variant.id === reference);
  if (!a || !b || a.failure || b.failure || a.rounds.length !== b.rounds.length) return [];
  return a.rounds.map((round, i) => value(round) / value(b.rounds[i]!));
}

/**
 * Ratio subject / reference of a per-round value: the median of the per-round ratios (both were
 * measured in the same round, seconds apart, so slow drifts in background load cancel out); the
 * ratio of the medians when the rounds do not pair up. NaN when either side has no result.
 */
function pairedRatio(
  results: readonly VariantResult[],
  subject: string,
  reference: string,
  value: (round: RoundResult) => number,
): number {
  const paired = roundRatios(results, subject, reference, value);
  if (paired.length > 0) return median(paired);
  const a = results.find((r) => r.variant.id === subject);
  const b = results.find((r) => r.variant.id === reference);
  if (!a || !b || a.failure || b.failure) return Number.NaN;
  return median(a.rounds.map(value)) / median(b.rounds.map(value));
}

/** Throughput ratio subject / reference from the sequential rounds (higher means the subject is faster). */
export function ratioOf(results: readonly VariantResult[], subject: string, reference: string): number {
  return pairedRatio(results, subject, reference, (round) => round.requestsPerSecond);
}

/** Efficiency ratio from the sequential rounds: the reference's server CPU per request over the subject's. */
export function cpuRatioOf(results: readonly VariantResult[], subject: string, reference: string): number {
  return 1 / pairedRatio(results, subject, reference, (round) => round.serverCpuUsPerRequest);
}

/** One comparison as the report shows it. */
export interface Comparison {
  /** Median of the per-round req/s ratios, subject / reference. */
  ratio: number;
  /** The same by server CPU per request (reference / subject): higher is better, too. */
  cpuRatio: number;
  /** The per-round req/s ratios. */
  perRound: number[];
  /** Paired rounds (both servers at once, bench/lib/pairs.ts), or the sequential rounds of an older run. */
  method: "paired" | "sequential";
}

/**
 * The comparison subject / reference: from its paired rounds when the run has them (every run
 * since paired rounds exist), else from the sequential rounds.
 */
export function compare(
  report: Pick<HttpBenchReport, "variants" | "pairs">,
  subject: string,
  reference: string,
): Comparison {
  const pair = report.pairs?.find((p) => p.subject === subject && p.reference === reference);
  if (pair && !pair.failure && pair.rounds.length > 0) {
    const perRound = pair.rounds.map((r) => r.subjectRequestsPerSecond / r.referenceRequestsPerSecond);
    const cpuRatio = median(pair.rounds.map((r) => r.referenceCpuUsPerRequest / r.subjectCpuUsPerRequest));
    return { ratio: median(perRound), cpuRatio, perRound, method: "paired" };
  }
  if (pair?.failure) return { ratio: Number.NaN, cpuRatio: Number.NaN, perRound: [], method: "paired" };
  return {
    ratio: ratioOf(report.variants, subject, reference),
    cpuRatio: cpuRatioOf(report.variants, subject, reference),
    perRound: roundRatios(report.variants, subject, reference, (round) => round.requestsPerSecond),
    method: "sequential",
  };
}

/** Evaluates the issue's targets (paired rounds where the run has them). */
export function evaluateTargets(report: Pick<HttpBenchReport, "variants" | "pairs">): TargetOutcome[] {
  return TARGETS.map((target) => {
    const { ratio, cpuRatio, perRound, method } = compare(report, target.subject, target.reference);
    const description = `${RUNTIME_TITLES[target.runtime]}: ${labelOf(target.subject)} >= ${target.minRatio.toFixed(2)}x ${labelOf(target.reference)}`;
    const verdict = Number.isFinite(ratio) ? (ratio >= target.minRatio ? "PASS" : "FAIL") : "n/a";
    const detail = Number.isFinite(ratio) ? `${method}, ${perRound.length} rounds` : "a side has no result";
    const roundRange: [number, number] =
      perRound.length > 0 ? [Math.min(...perRound), Math.max(...perRound)] : [Number.NaN, Number.NaN];
    return { description, ratio, cpuRatio, minRatio: target.minRatio, roundRange, verdict, detail };
  });
}

/** Title of a runtime with its version ("Node.js 24.21.0"), used by the chart too. */
export function runtimeTitles(versions: Record<string, string>): Record<RuntimeName, string> {
  return {
    node: `${RUNTIME_TITLES.node} ${versions.node ?? ""}`.trim(),
    bun: `${RUNTIME_TITLES.bun} ${versions.bun ?? ""}`.trim(),
    deno: `${RUNTIME_TITLES.deno} ${versions.deno ?? ""}`.trim(),
  };
}

/** The whole HTTP section of docs/bench.md (everything outside the commands markers). */
export function renderHttpMarkdown(report: HttpBenchReport, chartFile: string): string {
  const { machine, settings, versions } = report;
  const titles = runtimeTitles(versions);
  const targets = evaluateTargets(report);
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);

  push(
    "# Benchmarks",
    "",
    "<!-- Generated by `npm run bench` (bench/run.ts → bench/http.ts). Edit the generator, not this file; the sections below are written by bench/commands.ts (command bus), bench/dev.ts (`containerflare dev`), bench/websocket.ts (WebSockets) and bench/bundles.ts (bundle sizes). -->",
    "",
    "## HTTP throughput",
    "",
    `- **Date:** ${report.date.replace("T", " ").replace("Z", " UTC")}`,
    `- **Machine:** ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}`,
    `- **Load average (1 min) before / after:** ${machine.loadBefore[0]?.toFixed(2)} / ${machine.loadAfter[0]?.toFixed(2)}`,
    `- **Runtimes:** ${titles.node}, ${titles.bun}, ${titles.deno}`,
    `- **Libraries:** ${["srvx", "hono", "@hono/node-server"].map((p) => `${p} ${versions[p] ?? "?"}`).join(", ")}`,
    `- **Load generator:** ${versions.wrk ?? "wrk"}`,
    `- **Run time:** ${Math.round(report.elapsedSeconds)} s`,
    "",
    `![Hello-world throughput per server and runtime](${chartFile})`,
    "",
    "### Targets (issues 2 and 10)",
    "",
    "| target | measured: req/s ratio (method, rounds) | result | per-round range | cross-check: by server CPU per request |",
    "| --- | --- | --- | --- | ---: |",
    ...targets.map(
      (t) =>
        `| ${t.description} | ${formatRatio(t.ratio, 3)} (${t.detail}) | **${t.verdict}** | ${formatRatio(t.roundRange[0])} – ${formatRatio(t.roundRange[1])} | ${formatRatio(t.cpuRatio, 3)} |`,
    ),
    "",
    "Every ratio of this report but the throughput table's \"vs baseline\" comes from **paired rounds**: both servers of the comparison, two fresh processes started for each round, are under load at the same time, each from its own wrk, and share one core, so that the scheduler gives each half of it. The ratio of their req/s is then the ratio of the requests each completes per CPU second, and whatever slows this shared machine down during a round slows both alike. The verdict is the median of the per-round req/s ratios; the range shows the lowest and highest round. The last column compares the servers' own CPU time per request in the same rounds (reference ÷ subject, so higher is better): it does not depend on how the core was shared.",
    "",
    `The control: ${controlLine(report)}`,
    "",
    "### Throughput",
    "",
    `Each server alone under load: median of ${settings.rounds} interleaved rounds of ${settings.durationSeconds} s each; spread = (max − min) / median over the rounds. These rounds give the absolute numbers (req/s, CPU, latency); their "vs baseline" ratio compares rounds seconds apart and moves with the machine's noise (see the control's row).`,
    "",
    "| runtime | server | req/s (median) | vs baseline | rounds (req/s) | spread | server CPU / request | p50 latency | p99 latency | errors |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ...report.variants.map((r) => throughputRow(r, report.variants)),
    "",
    "Other ratios (for context, not targets). The rows marked *plain console* run the same server with `CONTAINERFLARE_CONSOLE=plain`: the difference to the row above them is what the structured console (every `console.*` line of a request correlated, the default in the JSON log formats) costs: one async context per request (README, Logs). The Bun row *with a secret* runs it with `CONTAINERFLARE_SECRET` set: there the metadata header can be trusted, so every request's Headers are read to look for it, where without a secret Bun removes the headers only when the app reads them (README, Environment contract).",
    "",
    ...EXTRA_RATIOS.map((x) => {
      const c = compare(report, x.subject, x.reference);
      return `- ${RUNTIME_TITLES[runtimeOf(x.subject)]}: ${labelOf(x.subject)} vs ${labelOf(x.reference)}: ${formatRatio(c.ratio)} by req/s, ${formatRatio(c.cpuRatio)} by server CPU per request (${c.method}${c.perRound.length > 0 ? `, rounds ${formatRatio(Math.min(...c.perRound))} – ${formatRatio(Math.max(...c.perRound))}` : ""})`;
    }),
    "",
    "### Cold start",
    "",
    `Time from \`spawn()\` of the runtime process to the first \`200 Hello, world!\` answer (polled every ~2 ms on fresh connections), median of ${settings.coldRuns} spawns per row, interleaved.`,
    "",
    "| runtime | app | median | samples (ms) |",
    "| --- | --- | ---: | --- |",
    ...report.coldStarts.map((c) => coldStartRow(c, titles)),
    "",
    "### Memory",
    "",
    "Resident set size (`VmRSS` from `/proc/<pid>/status`) of the server process right after its first 200, and idle after the warm-up load (1 s after it ended).",
    "",
    "| runtime | server | RSS after first 200 | idle RSS after warm-up |",
    "| --- | --- | ---: | ---: |",
    ...report.variants.map(
      (r) => `| ${titles[r.variant.runtime]} | ${r.variant.label} | ${mib(r.freshRssMiB)} | ${mib(r.idleRssMiB)} |`,
    ),
    "",
    "### Method",
    "",
    "- One hello-world app per server in `bench/apps/` (each answers `GET /` with `200` and the text `Hello, world!`); every server is its own child process started by the harness on a free port on `127.0.0.1`, with `CONTAINERFLARE_LOG_LEVEL=warn`.",
    `- Load: \`wrk -t${settings.threads} -c${settings.connections} -d${settings.durationSeconds}s --latency\` against each server. Every server first gets ${settings.warmupSeconds} s of discarded warm-up load; then ${settings.rounds} rounds run interleaved (A, B, C, … then again, each round starting one server later) so that background noise spreads over all servers; the table shows the median round.`,
    `- Then the comparisons (targets and other ratios), one after the other, each of its ${settings.pairRounds ?? settings.rounds} paired rounds of ${settings.durationSeconds} s on two fresh server processes started for that round, each warmed up alone for ${settings.warmupSeconds} s (which one last alternates), and stopped after it: both servers under load at once, each from its own wrk with the settings above (which of the two starts first alternates), both servers on the same core. A paired round's ratio is subject ÷ reference of the two req/s (and reference ÷ subject of the two CPU times per request); a comparison's ratio is the median over its rounds. Paired req/s are about half of a server's req/s alone, since each gets half a core. Fresh processes, because the servers of the interleaved rounds live through the whole run and a long-lived Node process can step down by a quarter after a few full GCs (V8 deoptimizes the code those GCs invalidate, and the code optimized again is slower: raw node:http measured 0.75x of a copy of itself after three forced GCs), so that which of two servers had such a GC decided their comparison; and fresh for every round, because how fast a fresh process settles is a draw of its own (one pair of processes per comparison put the same server at 1.058x and its twin at 0.985x of one reference, each over 21 rounds), which the median then takes over the rounds' draws.`,
    `- Cores: ${report.cores ?? "not recorded (an older run)"}. Cold starts are not pinned.`,
    "- The control, raw node:http against a second copy of itself, is in every run: its ratio is what the method reports when there is nothing to find. On this machine sequential rounds of 3 s put two copies of one server ±20% apart, paired rounds ±3%.",
    "- The runtime's own threads (GC helpers, I/O) get their share of the core like the main thread; both sides of every comparison run on the same runtime.",
    "- Node's containerflare + Hono row is `serve()` with a Hono app (see the note below for how it is wired).",
    "- All three runtimes run the same plain-JavaScript app files (`node bench/apps/x.js`, `bun bench/apps/x.js`, `deno run -A bench/apps/x.js`), so no TypeScript stripping is part of a cold start. containerflare is imported from the built `dist/` (what the package publishes); `npm run bench` builds first.",
    "- Server CPU per request: the server process's user + system CPU time over all its threads (from `/proc/<pid>/stat`) during a round, divided by the requests wrk completed in it.",
    `- Re-render docs/ from the last run's raw results (bench/results/http.json) without measuring again: \`node bench/http.ts --render\`.`,
    `- Knobs: \`BENCH_ROUNDS\`, \`BENCH_PAIR_ROUNDS\`, \`BENCH_DURATION\`, \`BENCH_WARMUP\`, \`BENCH_CONNECTIONS\`, \`BENCH_THREADS\`, \`BENCH_COLD_RUNS\`, \`BENCH_ONLY=node-http,node-cf\` (variant ids), \`BENCH_WRITE=0\` (do not touch docs/).`,
    "",
    "### Caveats",
    "",
    `- The machine has ${machine.cores} cores and is shared (other jobs may run during the benchmark): wrk takes one core with one thread and the servers get the other. Absolute numbers are noisy; compare servers by the paired ratios, and look at the control before trusting a difference of a few percent.`,
    "- wrk on loopback measures the HTTP stack and the framework overhead only; no real app does so little per request.",
    ...notes(report.variants),
    "",
  );
  return lines.join("\n");
}

/** What the control pair (two copies of raw node:http) measured, paired and sequential. */
function controlLine(report: HttpBenchReport): string {
  const paired = compare(report, "node-http-twin", "node-http");
  const sequential = ratioOf(report.variants, "node-http-twin", "node-http");
  const seqRounds = roundRatios(report.variants, "node-http-twin", "node-http", (round) => round.requestsPerSecond);
  if (!Number.isFinite(paired.ratio) && !Number.isFinite(sequential)) return "not measured in this run.";
  const range = (values: number[]) =>
    values.length > 0 ? `${formatRatio(Math.min(...values))} – ${formatRatio(Math.max(...values))}` : "n/a";
  return `raw node:http against a second copy of itself measured ${formatRatio(paired.ratio, 3)} in paired rounds (range ${range(paired.method === "paired" ? paired.perRound : [])}) and ${formatRatio(sequential, 3)} in sequential rounds (range ${range(seqRounds)}).`;
}

function runtimeOf(id: string): RuntimeName {
  return VARIANTS.find((variant) => variant.id === id)?.runtime ?? "node";
}

function labelOf(id: string): string {
  return VARIANTS.find((v) => v.id === id)?.label ?? id;
}

function throughputRow(r: VariantResult, all: readonly VariantResult[]): string {
  const title = `${RUNTIME_TITLES[r.variant.runtime]}`;
  const label = r.variant.kind === "containerflare" ? `**${r.variant.label}**` : r.variant.label;
  if (r.failure) return `| ${title} | ${label} | failed | | ${r.failure.replaceAll("|", "\\|")} | | | | | |`;
  const baselineId = r.variant.runtime === "node" ? "node-http" : `${r.variant.runtime}-srvx`;
  const ratio = r.variant.id === baselineId ? "1.00x" : formatRatio(ratioOf(all, r.variant.id, baselineId));
  const rounds = r.rounds.map((x) => formatInt(x.requestsPerSecond)).join(", ");
  const spread = relativeSpread(r.rounds.map((x) => x.requestsPerSecond));
  return `| ${title} | ${label} | ${formatInt(r.requestsPerSecond)} | ${ratio} | ${rounds} | ${Number.isFinite(spread) ? `${(spread * 100).toFixed(0)}%` : "n/a"} | ${us(r.serverCpuUsPerRequest)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${r.errors} |`;
}

function coldStartRow(c: ColdStartResult, titles: Record<RuntimeName, string>): string {
  if (c.failure) return `| ${titles[c.runtime]} | ${c.label} | failed | ${c.failure.replaceAll("|", "\\|")} |`;
  return `| ${titles[c.runtime]} | ${c.label} | ${ms(c.medianMs, 0)} | ${c.samplesMs.map((s) => s.toFixed(0)).join(", ")} |`;
}

function notes(results: readonly VariantResult[]): string[] {
  const out: string[] = [];
  out.push('- "vs baseline" is against raw node:http on Node and against bare srvx on Bun and Deno.');
  for (const r of results)
    for (const note of r.notes) out.push(`- ${RUNTIME_TITLES[r.variant.runtime]}, ${r.variant.label}: ${note}`);
  for (const r of results)
    if (r.failure) out.push(`- ${RUNTIME_TITLES[r.variant.runtime]}, ${r.variant.label}: no result — ${r.failure}`);
  return out;
}

function ms(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)} ms` : "n/a";
}

function us(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} µs` : "n/a";
}

function mib(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} MiB` : "n/a";
}

/**
 * Builds the new docs/bench.md: the HTTP section, then everything from the commands section on
 * copied verbatim from the existing file (or an empty commands section when absent).
 */
export function composeBenchDoc(existingPath: string, httpMarkdown: string): string {
  const existing = existsSync(existingPath) ? readFileSync(existingPath, "utf8") : "";
  const start = existing.indexOf(COMMANDS_START);
  const end = existing.indexOf(COMMANDS_END, start + 1);
  // Everything from the commands section on (it, and sections other generators append after it,
  // such as bench/bundles.ts's) is kept as it is: this generator owns only the HTTP part.
  const rest = start >= 0 && end > start ? existing.slice(start).trimEnd() : `${COMMANDS_START}\n${COMMANDS_END}`;
  return `${httpMarkdown.trimEnd()}\n\n${rest}\n`;
}
