/**
 * `containerflare dev` benchmarks (issue 12, item 5), side by side in one run:
 *
 * 1. examples/basic's `GET /kv/:key` (one `KV.get` of a 100-byte value) through `containerflare
 *    dev` (wrk → the dev Worker in workerd → the app on Node → the command bus over HTTP → KV in
 *    workerd) against the same route written as a plain Worker in Miniflare
 *    (bench/workers/kv-route.js: wrk → workerd → KV), both KV namespaces persisted on disk,
 *    with wrk on loopback, interleaved rounds. A third side runs the example's OWN Worker
 *    (examples/basic/worker.ts: a `Container` class from @cloudflare/containers wired with
 *    `withContainerflare`) through `containerflare dev` in its default mode: wrk → the example's
 *    Worker → its Durable Object → the app as a local process, and the app's `KV.get` goes app →
 *    loopback entrypoint → Durable Object RPC → the Worker's outbound handler (ContainerProxy) →
 *    KV. The second side is dev's built-in Worker (`--worker builtin`, app.ts and wrangler.jsonc
 *    only). The rounds rotate which side goes first.
 * 2. An R2 round trip of 256 MiB through `containerflare dev` (bench/fixtures/r2/app.ts): the
 *    app PUTs an object generated chunk by chunk and GETs it back as a stream, hashing both
 *    sides; MiB/s each way, and the app process's peak RSS growth over the round trip (VmHWM
 *    reset before it, VmRSS sampled every 20 ms as a cross-check).
 *
 * Writes docs/bench.md between `<!-- dev:start -->` and `<!-- dev:end -->`, the chart to
 * docs/bench-dev.svg and the raw results to bench/results/dev.json.
 *
 * Run through `npm run bench` (builds first), or `node bench/dev.ts` after `npm run build`.
 * `--render` re-renders docs/ from the last raw results. Env: BENCH_DEV_ROUNDS (default 5),
 * BENCH_DEV_DURATION (s per round, default 3), BENCH_DEV_WARMUP (s, default 2),
 * BENCH_DEV_CONNECTIONS (default 50), BENCH_DEV_R2_MIB (default 256), BENCH_DEV_PARTS
 * (`kv,r2`), BENCH_DEV_NO_WRITE=1 (print only).
 */
import { execFile, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../src/cli/dev/ports.ts";
import { renderPanels } from "./lib/bars.ts";
import { copyApp, type DevCli, startDevCli } from "./lib/dev-cli.ts";
import { cpuSeconds } from "./lib/processes.ts";
import { commandLine, descendants, treeCpuSeconds } from "./lib/proctree.ts";
import { measureRoundTrip, type RoundTrip } from "./lib/r2-roundtrip.ts";
import { writeMarkedSection } from "./lib/sections.ts";
import { formatInt, median } from "./lib/stats.ts";
import { findWrk, runWrk, type WrkResult, wrkVersion } from "./lib/wrk.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const DOC = join(ROOT, "docs", "bench.md");
const CHART = join(ROOT, "docs", "bench-dev.svg");
const RAW_RESULTS = join(HERE, "results", "dev.json");
/** Raw results of a run before issue 12 (HTTP v1, R2 bodies inline), shown under this run's. */
const BASELINE = join(HERE, "baselines", "dev.json");
const START = "<!-- dev:start -->";
const END = "<!-- dev:end -->";
/** Sections after ours (bench/bundles.ts's) stay after it. */
const NEXT_SECTION = "<!-- bundles:start -->";
const VALUE = "v".repeat(100);
const RSS_TARGET_MIB = 64;
/**
 * @cloudflare/containers intercepts a container's outbound HTTP (the command bus to the Worker's
 * ContainerProxy) from this compatibility date on; the own-Worker side's copy of wrangler.jsonc is
 * raised to it when older (see {@link atLeastCompatibilityDate}).
 */
const OWN_WORKER_COMPATIBILITY_DATE = "2025-11-17";
/** The app's command timeout in the R2 round trip (CONTAINERFLARE_COMMAND_TIMEOUT_MS). */
const R2_COMMAND_TIMEOUT_MS = 300_000;

interface Round extends WrkResult {
  /** CPU time of every process serving the request (CLI, workerd, app; or workerd) per request. */
  cpuUsPerRequest: number;
  /** The same split by process (dev side): workerd, the app, the CLI, anything else. */
  cpuByProcessUs?: Record<string, number>;
}

interface KvSide {
  label: string;
  rounds: Round[];
  failure?: string;
}

/** The R2 round trip: the app's runtime and what bench/lib/r2-roundtrip.ts measured. */
interface R2Result extends RoundTrip {
  runtime: string;
  /** Node alone streaming the same size once in a fresh process (bench/fixtures/stream-floor.mjs). */
  floor?: Partial<Record<"download" | "upload", { mibPerSecond: number; growthMiB: number }>> & { failure?: string };
}

interface DevReport {
  date: string;
  commit: string;
  machine: string;
  versions: Record<string, string>;
  settings: { rounds: number; duration: number; warmup: number; connections: number };
  load: [number, number];
  elapsedSeconds: number;
  /** `own` (the example's own worker.ts) is missing from results before it was measured. */
  kv?: { dev: KvSide; plain: KvSide; own?: KvSide };
  r2?: R2Result;
}

const children: DevCli[] = [];
process.on("exit", () => {
  for (const dev of children) if (dev.child.exitCode === null) dev.child.kill("SIGTERM");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    process.exit(130);
  });
}

function log(message: string): void {
  console.log(`dev: ${message}`);
}

const count = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name}=${process.env[name]} is not a positive integer`);
  return value;
};

/** CPU seconds so far of `root` and its descendants, by role: the CLI itself, workerd, the app, other. */
function cpuByProcess(root: number, appDirectory: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const pid of [root, ...descendants(root)]) {
    const line = commandLine(pid);
    const role =
      pid === root ? "CLI" : /workerd/.test(line) ? "workerd" : line.includes(appDirectory) ? "app" : "other";
    const used = cpuSeconds(pid);
    if (Number.isFinite(used)) seconds[role] = (seconds[role] ?? 0) + used;
  }
  return seconds;
}

/** A plain Worker with a persisted KV namespace in Miniflare: the reference side. */
async function startPlainWorker(persist: string) {
  const { Miniflare } = await import("miniflare");
  const before = new Set(descendants(process.pid));
  const miniflare = new Miniflare({
    host: "127.0.0.1",
    port: await freePort(),
    cf: false,
    modules: true,
    scriptPath: join(HERE, "workers", "kv-route.js"),
    compatibilityDate: "2025-09-01",
    kvNamespaces: ["CACHE"],
    kvPersist: persist,
  });
  const url = (await miniflare.ready).href.replace(/\/$/, "");
  const pid = descendants(process.pid).find((child) => !before.has(child) && /workerd/.test(commandLine(child)));
  return { url, pid, dispose: () => miniflare.dispose() };
}

async function expectValue(url: string): Promise<void> {
  const put = await fetch(`${url}/kv/bench`, { method: "PUT", body: VALUE });
  if (put.status !== 200) throw new Error(`PUT ${url}/kv/bench answered ${put.status}: ${await put.text()}`);
  const got = await fetch(`${url}/kv/bench`);
  const text = await got.text();
  if (got.status !== 200 || text !== VALUE) throw new Error(`GET ${url}/kv/bench answered ${got.status}: ${text}`);
}

/**
 * Raises `"compatibility_date"` in a copied wrangler.jsonc to `date` when it is older (the ISO
 * dates compare as strings); a date already at or past it is left alone, so this is a no-op once
 * the example itself has the date. True when the file was changed.
 */
function atLeastCompatibilityDate(file: string, date: string): boolean {
  const text = readFileSync(file, "utf8");
  const patched = text.replace(
    /("compatibility_date"\s*:\s*")(\d{4}-\d{2}-\d{2})(")/,
    (whole, head: string, current: string, tail: string) => (current < date ? `${head}${date}${tail}` : whole),
  );
  if (patched === text) return false;
  writeFileSync(file, patched);
  return true;
}

/** One measured side of `GET /kv/:key`: where to send wrk, and whose CPU to count. */
interface KvTarget {
  side: KvSide;
  url: string;
  /** The root of the side's process tree (the CLI, or the plain Worker's workerd). */
  pid: number | undefined;
  /** The app's directory, for the CPU split by process (dev sides only). */
  appDirectory?: string;
}

async function measureKv(wrk: string, settings: DevReport["settings"]): Promise<NonNullable<DevReport["kv"]>> {
  const source = join(ROOT, "examples", "basic");
  const directory = copyApp(ROOT, source, `bench-dev-kv-${process.pid}`, ["app.ts", "wrangler.jsonc"]);
  // The example's own Worker: every file of examples/basic, worker.ts with it.
  const ownDirectory = copyApp(ROOT, source, `bench-dev-kv-own-${process.pid}`);
  // @cloudflare/containers' outbound interception (the app's command bus to ContainerProxy) needs
  // compatibility_date 2025-11-17 or later: an example still on an older date is raised in this
  // copy only; once examples/basic/wrangler.jsonc has the date, this changes nothing.
  if (atLeastCompatibilityDate(join(ownDirectory, "wrangler.jsonc"), OWN_WORKER_COMPATIBILITY_DATE))
    log(`the own-Worker copy's compatibility_date raised to ${OWN_WORKER_COMPATIBILITY_DATE}`);
  const dev: KvSide = { label: "containerflare dev (examples/basic on Node)", rounds: [] };
  const plain: KvSide = { label: "plain Worker in Miniflare", rounds: [] };
  const own: KvSide = { label: "containerflare dev, the example's own worker.ts", rounds: [] };
  let cli: DevCli | undefined;
  let ownCli: DevCli | undefined;
  let worker: Awaited<ReturnType<typeof startPlainWorker>> | undefined;
  try {
    worker = await startPlainWorker(join(directory, ".plain-state"));
    // Dev's built-in Worker: the copy has no worker.ts (the plain Worker is the comparison).
    cli = await startDevCli({ root: ROOT, directory, entry: "app.ts", args: ["--worker", "builtin"] });
    children.push(cli);
    await expectValue(cli.url);
    await expectValue(worker.url);
    // The default mode (no --worker): wrangler.jsonc's `main` Worker with its `containers`. Its
    // failure fails this side only.
    try {
      ownCli = await startDevCli({ root: ROOT, directory: ownDirectory, entry: "app.ts" });
      children.push(ownCli);
      await expectValue(ownCli.url);
    } catch (error) {
      own.failure = (error as Error).message;
      log(`${own.label}: ${own.failure}`);
    }
    log(
      `containerflare dev on ${cli.url}, plain Worker on ${worker.url}, the example's own Worker on ${ownCli?.url ?? "(failed)"}`,
    );
    const sides: KvTarget[] = [
      { side: dev, url: cli.url, pid: cli.child.pid, appDirectory: directory },
      { side: plain, url: worker.url, pid: worker.pid },
      ...(ownCli ? [{ side: own, url: ownCli.url, pid: ownCli.child.pid, appDirectory: ownDirectory }] : []),
    ];
    const load = (url: string, durationSeconds: number) =>
      runWrk(wrk, { url: `${url}/kv/bench`, durationSeconds, connections: settings.connections, threads: 1 });
    for (const { side, url } of sides) if (!side.failure) await load(url, settings.warmup);
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate which side goes first (with two sides: alternate).
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
      for (const { side, url, pid, appDirectory } of order) {
        if (side.failure) continue;
        try {
          const cpu = () => (pid ? treeCpuSeconds(pid) : Number.NaN);
          const before = cpu();
          const split = pid && appDirectory ? cpuByProcess(pid, appDirectory) : undefined;
          const measured = await load(url, settings.duration);
          const cpuUsPerRequest = ((cpu() - before) / measured.requests) * 1e6;
          const measuredRound: Round = { ...measured, cpuUsPerRequest };
          if (split) {
            const after = cpuByProcess(pid!, appDirectory!);
            measuredRound.cpuByProcessUs = Object.fromEntries(
              Object.entries(after).map(([role, used]) => [
                role,
                ((used - (split[role] ?? 0)) / measured.requests) * 1e6,
              ]),
            );
          }
          side.rounds.push(measuredRound);
          log(
            `round ${round + 1}/${settings.rounds} ${side.label.padEnd(48)} ${formatInt(measured.requestsPerSecond).padStart(7)} req/s ${cpuUsPerRequest.toFixed(0).padStart(5)} µs CPU/req${measured.errors ? `, ${measured.errors} errors` : ""}`,
          );
        } catch (error) {
          side.failure = (error as Error).message;
          log(`${side.label}: ${side.failure}`);
        }
      }
    }
  } catch (error) {
    const message = (error as Error).message;
    for (const side of [dev, plain, own]) side.failure ??= message;
    log(`GET /kv/:key: ${message}`);
  } finally {
    await cli?.stop();
    await ownCli?.stop();
    await worker?.dispose().catch(() => {});
    rmSync(directory, { recursive: true, force: true });
    rmSync(ownDirectory, { recursive: true, force: true });
  }
  return { dev, plain, own };
}

/** One R2 round trip of `mib` MiB through `containerflare dev`, with the app's RSS watched. */
async function measureR2(mib: number): Promise<R2Result> {
  const directory = copyApp(ROOT, join(HERE, "fixtures", "r2"), `bench-dev-r2-${process.pid}`);
  let result: R2Result = { mib, runtime: "node", rssBeforeMiB: Number.NaN, hwmReset: false };
  let cli: DevCli | undefined;
  try {
    // The default command timeout (30 s) bounds a whole streamed transfer: a slow round trip on a
    // loaded machine would measure the timeout, not the transfer.
    cli = await startDevCli({
      root: ROOT,
      directory,
      entry: "app.ts",
      env: { CONTAINERFLARE_COMMAND_TIMEOUT_MS: String(R2_COMMAND_TIMEOUT_MS) },
    });
    children.push(cli);
    const pid = cli.appPid();
    if (!pid) throw new Error("cannot find the app process among the CLI's children");
    // A small round trip first: code paths loaded and compiled, bindings resolved.
    const warm = await measureRoundTrip(cli.url, pid, 1, 60_000);
    if (warm.failure) throw new Error(`a 1 MiB round trip failed: ${warm.failure}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    result = { ...(await measureRoundTrip(cli.url, pid, mib, R2_COMMAND_TIMEOUT_MS)), runtime: "node" };
  } catch (error) {
    result.failure = (error as Error).message;
  } finally {
    await cli?.stop();
    rmSync(directory, { recursive: true, force: true });
  }
  log(
    `R2 ${mib} MiB round trip: ${result.failure ?? "ok"}; put ${mibPerSecond(mib, result.putMs)} MiB/s, get ${mibPerSecond(mib, result.getMs)} MiB/s; RSS growth ${result.growthMiB?.toFixed(1)} MiB (put ${result.putGrowthMiB?.toFixed(1)}, get ${result.getGrowthMiB?.toFixed(1)})`,
  );
  return result;
}

/**
 * The reference of the memory bound: a fresh Node process streaming `mib` MiB without
 * containerflare, once down (fetch() + SHA-256) and once up (node:http, 1 MiB generated chunks),
 * against a node:http server in this process.
 */
async function measureFloor(mib: number): Promise<NonNullable<R2Result["floor"]>> {
  const pattern = new Uint8Array(64 * 1024).fill(7);
  const server = createServer((request, response) => {
    if (request.method !== "GET") {
      request.resume();
      request.on("end", () => response.end("ok"));
      return;
    }
    response.writeHead(200, { "content-length": String(mib * 2 ** 20) });
    void (async () => {
      for (let sent = 0; sent < mib * 2 ** 20; sent += pattern.byteLength)
        if (!response.write(pattern)) await once(response, "drain");
      response.end();
    })();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const floor: NonNullable<R2Result["floor"]> = {};
  try {
    for (const mode of ["download", "upload"] as const) {
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          join(ROOT, "node_modules", ".bin", "node"),
          [join(HERE, "fixtures", "stream-floor.mjs"), mode, url, String(mib)],
          { timeout: 120_000 },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        ),
      );
      const { mibPerSecond, growthMiB } = JSON.parse(output.trim().split("\n").at(-1)!) as {
        mibPerSecond: number;
        growthMiB: number;
      };
      floor[mode] = { mibPerSecond, growthMiB };
    }
  } catch (error) {
    floor.failure = (error as Error).message;
  } finally {
    server.closeAllConnections();
    server.close();
  }
  log(
    `Node alone, ${mib} MiB: download +${floor.download?.growthMiB.toFixed(1)} MiB, upload +${floor.upload?.growthMiB.toFixed(1)} MiB${floor.failure ? ` (${floor.failure})` : ""}`,
  );
  return floor;
}

const mibPerSecond = (mib: number, ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? "n/a" : (mib / (ms / 1000)).toFixed(0);

function gitCommit(): string {
  const out = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim() : "unknown";
}

async function measure(): Promise<DevReport> {
  const started = performance.now();
  const parts = (process.env.BENCH_DEV_PARTS ?? "kv,r2").split(",").map((part) => part.trim());
  const settings = {
    rounds: count("BENCH_DEV_ROUNDS", 5),
    duration: count("BENCH_DEV_DURATION", 3),
    warmup: count("BENCH_DEV_WARMUP", 2),
    connections: count("BENCH_DEV_CONNECTIONS", 50),
  };
  if (!existsSync(join(ROOT, "dist", "src", "cli", "index.js"))) throw new Error("dist/ is missing: npm run build");
  const wrk = findWrk();
  if (parts.includes("kv") && !wrk) throw new Error("wrk not found: install the Debian package wrk");
  const loadBefore = loadavg()[0]!;
  if (loadBefore > availableParallelism() * 0.5)
    log(`note: the machine is busy (1-min load ${loadBefore.toFixed(2)}); compare within this run`);
  const miniflare = JSON.parse(readFileSync(join(ROOT, "node_modules", "miniflare", "package.json"), "utf8")).version;
  const report: DevReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    commit: gitCommit(),
    machine: `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM`,
    versions: {
      node: spawnSync(join(ROOT, "node_modules", ".bin", "node"), ["-v"], { encoding: "utf8" }).stdout.trim(),
      miniflare,
      wrk: wrk ? wrkVersion(wrk) : "not found",
    },
    settings,
    load: [loadBefore, Number.NaN],
    elapsedSeconds: Number.NaN,
  };
  if (parts.includes("kv") && wrk) report.kv = await measureKv(wrk, settings);
  if (parts.includes("r2")) {
    const mib = count("BENCH_DEV_R2_MIB", 256);
    report.r2 = await measureR2(mib);
    report.r2.floor = await measureFloor(mib);
  }
  report.load[1] = loadavg()[0]!;
  report.elapsedSeconds = (performance.now() - started) / 1000;
  mkdirSync(dirname(RAW_RESULTS), { recursive: true });
  writeFileSync(RAW_RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

// --- Report ---------------------------------------------------------------------------------------

/**
 * `side` against `reference`, round by round (round i of one with round i of the other, measured
 * back to back): the median and range of the req/s ratios (side ÷ reference) and the median CPU
 * per request ratio (reference ÷ side).
 */
function sideRatio(side: KvSide, reference: KvSide) {
  if (side.rounds.length === 0 || reference.rounds.length === 0)
    return { ratio: Number.NaN, range: [Number.NaN, Number.NaN], cpuRatio: Number.NaN };
  const n = Math.min(side.rounds.length, reference.rounds.length);
  const ratios = Array.from(
    { length: n },
    (_, i) => side.rounds[i]!.requestsPerSecond / reference.rounds[i]!.requestsPerSecond,
  );
  const cpu = Array.from(
    { length: n },
    (_, i) => reference.rounds[i]!.cpuUsPerRequest / side.rounds[i]!.cpuUsPerRequest,
  );
  return { ratio: median(ratios), range: [Math.min(...ratios), Math.max(...ratios)], cpuRatio: median(cpu) };
}

/** Dev's built-in Worker against the plain Worker: the issue-12 ratio. */
function kvRatio(kv: NonNullable<DevReport["kv"]>) {
  return sideRatio(kv.dev, kv.plain);
}

/** Median CPU µs per request by process role over a dev side's rounds (roles under 1 µs left out). */
function cpuSplit(side: KvSide): (readonly [string, number])[] {
  return ["workerd", "app", "CLI", "other"]
    .map((role) => [role, median(side.rounds.map((r) => r.cpuByProcessUs?.[role] ?? Number.NaN))] as const)
    .filter(([, value]) => Number.isFinite(value) && value >= 1);
}

const x = (value: number | undefined, digits = 2) =>
  value !== undefined && Number.isFinite(value) ? `${value.toFixed(digits)}x` : "n/a";
const mibText = (value: number | undefined) =>
  value !== undefined && Number.isFinite(value) ? `${value.toFixed(1)} MiB` : "n/a";
const msText = (value: number | undefined) =>
  value !== undefined && Number.isFinite(value) ? `${value.toFixed(2)} ms` : "n/a";
const verdict = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "**pass**" : "**FAIL**");

/** One paragraph on the run before issue 12: the same harness on the last commit before it. */
function beforeText(before: DevReport): string {
  const parts: string[] = [];
  if (before.kv) {
    const r = kvRatio(before.kv);
    parts.push(
      `\`GET /kv/:key\` through dev served ${formatInt(median(before.kv.dev.rounds.map((x) => x.requestsPerSecond)))} req/s next to the plain Worker's ${formatInt(median(before.kv.plain.rounds.map((x) => x.requestsPerSecond)))}: **${x(r.ratio)}** (rounds ${x(r.range[0])} – ${x(r.range[1])})`,
    );
  }
  if (before.r2) {
    parts.push(
      before.r2.failure
        ? `the ${before.r2.mib} MiB R2 round trip failed (${before.r2.failure.replace(/^answered \d+: /, "").slice(0, 160)}) after the app's RSS had grown by ${mibText(before.r2.growthMiB)}`
        : `the ${before.r2.mib} MiB R2 round trip grew the app's RSS by ${mibText(before.r2.growthMiB)}`,
    );
  }
  return `**Before issue 12** (commit ${before.commit}, ${before.date.slice(0, 10)}, the same harness, 1-min load ${before.load[0].toFixed(1)}; raw results in bench/baselines/dev.json): ${parts.join("; ")}.`;
}

function render(report: DevReport, chartFile: string | undefined, before?: DevReport): string {
  const lines = [
    "## `containerflare dev`: a KV read and a 256 MiB R2 round trip",
    "",
    "<!-- Generated by bench/dev.ts. -->",
    "",
    `- **Date:** ${report.date} (commit ${report.commit})`,
    `- **Machine:** ${report.machine}`,
    `- **Load average (1 min) before / after:** ${report.load[0].toFixed(2)} / ${report.load[1].toFixed(2)}`,
    `- **Versions:** Node.js ${report.versions.node?.replace(/^v/, "")} (the CLI and the app), Miniflare ${report.versions.miniflare}, ${report.versions.wrk}`,
    `- **Run time:** ${report.elapsedSeconds.toFixed(0)} s`,
    "",
  ];
  if (chartFile) lines.push(`![containerflare dev next to a plain Worker, and the R2 round trip](${chartFile})`, "");
  const rows: string[] = [];
  const kv = report.kv;
  const ratio = kv ? kvRatio(kv) : undefined;
  if (kv) {
    const { settings } = report;
    lines.push(
      "### `GET /kv/:key` through `containerflare dev` vs a plain Worker",
      "",
      `examples/basic's route (one \`KV.get\` of a 100-byte value, answered as text) through \`containerflare dev\` on Node, and the same route written as a plain Worker (bench/workers/kv-route.js) in Miniflare; both KV namespaces persisted on disk.${kv.own ? ` The \`${kv.dev.label}\` side is dev's built-in Worker (\`--worker builtin\`, a copy of app.ts and wrangler.jsonc only); \`${kv.own.label}\` is dev's default mode on a copy of the whole example: its worker.ts (a \`Container\` class from @cloudflare/containers wired with \`withContainerflare\`) runs in workerd with the app as its container instance, a local process, so a request goes wrk → the example's Worker → its Durable Object → the app, and the app's \`KV.get\` goes app → loopback entrypoint → Durable Object RPC → the Worker's outbound handler (ContainerProxy) → KV.` : ""} \`wrk -t1 -c${settings.connections} -d${settings.duration}s\` on 127.0.0.1 after ${settings.warmup} s of warm-up each, ${settings.rounds} rounds ${kv.own ? "rotating" : "alternating"} which side goes first. CPU / request = user + system time of every process serving the side (dev: the CLI, its workerd and the app; plain: its workerd) over a round, divided by its requests.`,
      "",
      "| side | req/s (median) | rounds (req/s) | CPU / request | p50 latency | p99 latency | errors |",
      "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    );
    for (const side of [kv.plain, kv.dev, ...(kv.own ? [kv.own] : [])]) {
      if (side.rounds.length === 0) {
        lines.push(`| ${side.label} | failed | ${(side.failure ?? "").replaceAll("|", "\\|").slice(0, 300)} | | | | |`);
        continue;
      }
      const m = (pick: (round: Round) => number) => median(side.rounds.map(pick));
      lines.push(
        `| ${side.label} | ${formatInt(m((r) => r.requestsPerSecond))} | ${side.rounds.map((r) => formatInt(r.requestsPerSecond)).join(", ")} | ${m((r) => r.cpuUsPerRequest).toFixed(0)} µs | ${msText(m((r) => r.p50Ms))} | ${msText(m((r) => r.p99Ms))} | ${side.rounds.reduce((sum, r) => sum + r.errors, 0)} |`,
      );
    }
    const split = cpuSplit(kv.dev);
    if (split.length > 0)
      lines.push(
        "",
        `Where dev's CPU per request goes (median of rounds): ${split.map(([role, value]) => `${role === "workerd" ? "workerd (the dev Worker, its KV and the command host)" : role === "app" ? "the app process (serve(), the command client)" : role === "CLI" ? "the CLI process (Miniflare's Node side)" : "other children"} ${value.toFixed(0)} µs`).join(", ")}; the plain Worker's workerd: ${median(kv.plain.rounds.map((r) => r.cpuUsPerRequest)).toFixed(0)} µs.`,
      );
    lines.push(
      "",
      `Ratio dev / plain Worker: **${x(ratio?.ratio)}** by req/s (median of the per-round ratios; rounds ${x(ratio?.range[0])} – ${x(ratio?.range[1])}), ${x(ratio?.cpuRatio)} by CPU per request (plain ÷ dev).`,
      "",
    );
    if (kv.own) {
      const ownSplit = cpuSplit(kv.own);
      if (ownSplit.length > 0)
        lines.push(
          `Where the own worker.ts side's CPU per request goes (median of rounds): ${ownSplit.map(([role, value]) => `${role === "workerd" ? "workerd (the example's Worker, its Durable Object, ContainerProxy and KV)" : role === "app" ? "the app process (serve(), the command client)" : role === "CLI" ? "the CLI process (Miniflare's Node side, the container stand-in)" : "other children"} ${value.toFixed(0)} µs`).join(", ")}.`,
          "",
        );
      const vsPlain = sideRatio(kv.own, kv.plain);
      const vsBuiltin = sideRatio(kv.own, kv.dev);
      lines.push(
        `Ratio own worker.ts / plain Worker: **${x(vsPlain.ratio)}** by req/s (median of the per-round ratios; rounds ${x(vsPlain.range[0])} – ${x(vsPlain.range[1])}), ${x(vsPlain.cpuRatio)} by CPU per request (plain ÷ own). Own worker.ts / dev's built-in Worker: **${x(vsBuiltin.ratio)}** by req/s (rounds ${x(vsBuiltin.range[0])} – ${x(vsBuiltin.range[1])}), ${x(vsBuiltin.cpuRatio)} by CPU per request (built-in ÷ own).`,
        "",
      );
    }
    rows.push(
      `| issue 12: \`GET /kv/:key\` through \`containerflare dev\` >= 0.8x the plain Worker in Miniflare | ${x(ratio?.ratio)} | ${verdict(Number.isFinite(ratio?.ratio ?? Number.NaN) ? ratio!.ratio >= 0.8 : undefined)} |`,
    );
  }
  const r2 = report.r2;
  if (r2) {
    const put = r2.putMs ? r2.mib / (r2.putMs / 1000) : Number.NaN;
    const get = r2.getMs ? r2.mib / (r2.getMs / 1000) : Number.NaN;
    const rate = (value: number, ms: number | undefined) =>
      Number.isFinite(value) ? `${value.toFixed(0)} MiB/s (${((ms ?? 0) / 1000).toFixed(1)} s)` : "n/a";
    lines.push(
      `### R2: a ${r2.mib} MiB round trip through \`containerflare dev\``,
      "",
      `bench/fixtures/r2/app.ts on ${r2.runtime}: \`PUT /objects/:key?mib=${r2.mib}\` stores an object generated 1 MiB at a time (never held whole; its length declared with \`FixedLengthStream\`) in the dev Worker's R2 bucket, then \`GET /objects/:key/digest\` streams it back; the app hashes both sides (SHA-256). Each phase's peak = the app process's VmHWM (reset through /proc/<pid>/clear_refs when the phase starts) or the highest VmRSS sampled every 20 ms; growth = the higher peak minus the RSS before the put, after a 1 MiB warm-up round trip. The app runs with \`CONTAINERFLARE_COMMAND_TIMEOUT_MS=${R2_COMMAND_TIMEOUT_MS}\`, because the default 30 s timeout of a command covers its whole streamed body.`,
      "",
      "| result | put (app → R2) | get (R2 → app) | wall | RSS before | peak during put | peak during get | peak RSS growth |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      `| ${r2.failure ? `failed: ${r2.failure.replaceAll("|", "\\|").slice(0, 300)}` : `ok (${formatInt(r2.bytesBack ?? Number.NaN)} bytes back, hashes equal)`} | ${rate(put, r2.putMs)} | ${rate(get, r2.getMs)} | ${r2.wallMs === undefined ? "n/a" : `${(r2.wallMs / 1000).toFixed(1)} s`} | ${mibText(r2.rssBeforeMiB)} | ${mibText(r2.putPeakMiB)} | ${mibText(r2.getPeakMiB)}${r2.getGrowthMiB === undefined ? "" : ` (+${r2.getGrowthMiB.toFixed(1)} over its start)`} | ${mibText(r2.growthMiB)} |`,
      "",
    );
    const floor = r2.floor;
    if (floor && (floor.download || floor.upload)) {
      const part = (entry: { mibPerSecond: number; growthMiB: number } | undefined) =>
        entry ? `+${entry.growthMiB.toFixed(1)} MiB at ${entry.mibPerSecond.toFixed(0)} MiB/s` : "n/a";
      lines.push(
        `For reference, Node alone (bench/fixtures/stream-floor.mjs, a fresh process per transfer, no containerflare, a node:http server on loopback): a \`fetch()\` download of ${r2.mib} MiB hashed with SHA-256 grows RSS by ${part(floor.download)}; a node:http upload of ${r2.mib} MiB generated 1 MiB at a time (waiting for "drain") by ${part(floor.upload)}. Garbage buffers of a first large transfer alone come close to the bound: V8 collects external (ArrayBuffer) memory in steps of tens of MiB, and the heap it grew is reused by later transfers, not given back.`,
        "",
      );
    }
    const ok = r2.failure ? false : r2.growthMiB === undefined ? undefined : r2.growthMiB < RSS_TARGET_MIB;
    rows.push(
      `| issue 12: a ${r2.mib} MiB R2 object round-trips through \`containerflare dev\` with app RSS growth < ${RSS_TARGET_MIB} MiB | ${r2.failure ? `failed; ${mibText(r2.growthMiB)}` : `${mibText(r2.growthMiB)} (put ${put.toFixed(0)} MiB/s, get ${get.toFixed(0)} MiB/s)`} | ${verdict(ok)} |`,
    );
  }
  lines.push(
    "### Targets",
    "",
    "| target | measured | result |",
    "| --- | --- | --- |",
    ...rows,
    "",
    ...(before ? [beforeText(before), ""] : []),
    "Reproduce: `npm run build && node bench/dev.ts` (`BENCH_DEV_PARTS=kv` or `r2` for one part; `--render` re-renders from bench/results/dev.json). The R2 bound alone, as a test: `npx vitest run test/integration/r2-large.test.ts`.",
    "",
  );
  return lines.join("\n");
}

function chart(report: DevReport): string {
  const panels = [];
  const kv = report.kv;
  if (kv) {
    const plain = median(kv.plain.rounds.map((r) => r.requestsPerSecond));
    panels.push({
      title: "GET /kv/:key (req/s, median of rounds)",
      unit: "req/s",
      bars: [kv.plain, kv.dev, ...(kv.own ? [kv.own] : [])].map((side, i) => ({
        label:
          side === kv.own ? "containerflare dev, own worker.ts" : side.label.replace(" (examples/basic on Node)", ""),
        value: median(side.rounds.map((r) => r.requestsPerSecond)),
        kind: i === 0 ? ("baseline" as const) : ("containerflare" as const),
        failed: side.rounds.length === 0,
      })),
      targets: [{ value: plain * 0.8, label: "target: 0.8x the plain Worker" }],
    });
  }
  const r2 = report.r2;
  if (r2) {
    const rate = (ms: number | undefined) => (ms ? r2.mib / (ms / 1000) : Number.NaN);
    panels.push(
      {
        title: `R2 ${r2.mib} MiB through containerflare dev (MiB/s)`,
        unit: "MiB/s",
        bars: [
          { label: "put (app → R2)", value: rate(r2.putMs), kind: "containerflare" as const, failed: !r2.putMs },
          { label: "get (R2 → app)", value: rate(r2.getMs), kind: "containerflare" as const, failed: !r2.getMs },
        ],
      },
      {
        title: "App peak RSS growth during the round trip (MiB; lower is better)",
        unit: "MiB",
        bars: [
          ["whole round trip (the target)", r2.growthMiB],
          ["put phase, over its start", r2.putGrowthMiB],
          ["get phase, over its start", r2.getGrowthMiB],
          ["Node alone: fetch() download", r2.floor?.download?.growthMiB],
          ["Node alone: node:http upload", r2.floor?.upload?.growthMiB],
        ].map(([label, value]) => ({
          label: label as string,
          value: (value as number | undefined) ?? Number.NaN,
          kind: String(label).startsWith("Node alone") ? ("baseline" as const) : ("containerflare" as const),
          failed: value === undefined || !Number.isFinite(value as number),
          note: `${((value as number | undefined) ?? Number.NaN).toFixed(1)} MiB`,
        })),
        targets: [{ value: RSS_TARGET_MIB, label: `target: < ${RSS_TARGET_MIB} MiB` }],
      },
    );
  }
  return renderPanels({
    title: "containerflare dev: a KV read and an R2 round trip (each panel has its own scale)",
    unit: "",
    panels,
    legend: { baseline: "plain Worker in Miniflare / Node alone", containerflare: "through containerflare dev" },
  });
}

function loadReport(file = RAW_RESULTS): DevReport {
  if (!existsSync(file)) throw new Error(`--render needs ${file} from an earlier run`);
  return JSON.parse(readFileSync(file, "utf8"), (_key, value: unknown) =>
    value === null ? Number.NaN : value,
  ) as DevReport;
}

try {
  const report = process.argv.includes("--render") ? loadReport() : await measure();
  const write = process.env.BENCH_DEV_NO_WRITE !== "1";
  const before = existsSync(BASELINE) ? loadReport(BASELINE) : undefined;
  const markdown = render(report, write ? "bench-dev.svg" : undefined, before);
  console.log(`\n${markdown}`);
  if (write) {
    writeFileSync(CHART, chart(report));
    writeMarkedSection(DOC, START, END, markdown, NEXT_SECTION);
    log("wrote docs/bench.md and docs/bench-dev.svg");
  }
} catch (error) {
  console.error(`dev: ${(error as Error).message}`);
  process.exitCode = 1;
}
