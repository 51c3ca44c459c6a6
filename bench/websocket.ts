/**
 * WebSocket benchmark (issue 14): messages per second and round-trip latency of an echo over 64
 * sockets, containerflare `serve(app, { websocket })` (bench/apps/ws-containerflare.js) next to
 * bare crossws on srvx (bench/apps/ws-crossws.js), on Node, Bun and Deno. Target: containerflare
 * >= 0.9x bare crossws on each runtime.
 *
 * For each runtime both servers run at once on free loopback ports; each gets its own client
 * process (bench/lib/ws-client.ts on the project's Node: 64 sockets, a closed loop of one text
 * message in flight per socket, RFC 6455 spoken by bench/lib/ws-raw.ts over node:net unless
 * BENCH_WS_CLIENT=websocket). After a warm-up, each round measures both sides for the same time
 * in one-second slices that alternate between them, so that bursts of other work on this shared
 * two-core machine fall on both; a ratio is the median of the per-round ratios. Besides msgs/s:
 * p50/p99 round trip, the server's CPU time per message (from /proc, the cross-check that moves
 * least with other jobs) and the client's.
 *
 * Writes docs/bench.md between `<!-- websocket:start -->` and `<!-- websocket:end -->` and the
 * raw results to bench/results/websocket.json (git-ignored); `--render` re-renders docs/ from
 * them. Run through `npm run bench` (builds first), or `node bench/websocket.ts` after
 * `npm run build`. Env: BENCH_WS_ROUNDS (default 5), BENCH_WS_SECONDS (s per side and round,
 * default 8), BENCH_WS_SLICE_MS (default 1000), BENCH_WS_WARMUP (s, default 2), BENCH_WS_SOCKETS
 * (default 64), BENCH_WS_MESSAGE_BYTES (default 64), BENCH_WS_RUNTIMES (default `node,bun,deno`),
 * BENCH_WS_CLIENT (`raw` or `websocket`), BENCH_WRITE=0 (print only). */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSeconds, killAllNow, rssMiB, type ServerProcess, startServer, stopAll } from "./lib/processes.ts";
import { type Runtime, type RuntimeName, resolveRuntimes } from "./lib/runtimes.ts";
import { writeMarkedSection } from "./lib/sections.ts";
import { readWebSocketSettings, type WebSocketBenchSettings } from "./lib/settings.ts";
import { formatInt, formatRatio, median, relativeSpread } from "./lib/stats.ts";
import type { ClientCommand, ClientReport, ClientRun } from "./lib/ws-client.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const APPS = join(HERE, "apps");
const CLIENT = join(HERE, "lib", "ws-client.ts");
const DOC = join(ROOT, "docs", "bench.md");
const RAW_RESULTS = join(HERE, "results", "websocket.json");
/**
 * Raw results of this harness at a8f4d65, before serve/websocket.ts gave crossws synchronous
 * hooks instead of its `resolve` option; shown under this run's targets.
 */
const BASELINE = join(HERE, "baselines", "websocket.json");
const CONTAINERFLARE_ENTRY = join(ROOT, "dist", "src", "index.js");
const START = "<!-- websocket:start -->";
const END = "<!-- websocket:end -->";
/** bench/bundles.ts's section stays after ours. */
const NEXT_SECTION = "<!-- bundles:start -->";
const TARGET = 0.9;
/** Upper bound on a client's messages in one run, whatever its duration (no loop runs unbounded). */
const MAX_MESSAGES_PER_SECOND = 2_000_000;
/** How long a client may take beyond a run's duration before it counts as hung. */
const RUN_GRACE_MS = 20_000;
const READY_TIMEOUT_MS = 20_000;

/** The two sides of every runtime. */
const SIDES = [
  { id: "containerflare", label: "containerflare `serve()`", app: "ws-containerflare.js" },
  { id: "crossws", label: "bare crossws + srvx", app: "ws-crossws.js" },
] as const;
type SideId = (typeof SIDES)[number]["id"];

/** One measured run of one side: the client's numbers plus the server's CPU time. */
interface Round extends ClientRun {
  /** The server process's CPU time (user + system, all threads) over the run, per message, in µs. */
  serverCpuUsPerMessage: number;
  /** The server's CPU time over the run divided by its wall time. */
  serverCpuShare: number;
}

interface Side {
  id: SideId;
  label: string;
  app: string;
  rounds: Round[];
  failure?: string;
  startupMs?: number;
  /** Server RSS after the warm-up, in MiB. */
  rssMiB?: number;
  /** Milliseconds the client took to open its sockets. */
  openMs?: number;
}

interface RuntimeResult {
  runtime: RuntimeName;
  version?: string;
  failure?: string;
  sides: Record<SideId, Side>;
}

interface WebSocketReport {
  date: string;
  commit: string;
  machine: string;
  versions: Record<string, string>;
  settings: Omit<WebSocketBenchSettings, "write">;
  load: [number, number];
  elapsedSeconds: number;
  runtimes: RuntimeResult[];
}

// --- Client processes -----------------------------------------------------------------------------

const clients = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of clients) child.kill("SIGKILL");
  killAllNow();
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`websocket: ${signal}, stopping`);
    process.exit(130);
  });
}

/** A load-generator process connected to one server. */
interface Client {
  child: ChildProcess;
  openMs: number;
  /** Runs the closed loop for `seconds`; answers the sums of every run of `round` so far. */
  run(round: number, seconds: number): Promise<ClientRun>;
  stop(): Promise<void>;
}

/** Spawns bench/lib/ws-client.ts against `port` and resolves once its sockets are open. */
async function startClient(node: string, port: number, settings: WebSocketBenchSettings): Promise<Client> {
  const child = spawn(
    node,
    [CLIENT, `ws://127.0.0.1:${port}/`, String(settings.sockets), String(settings.messageBytes), settings.client],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe", "ipc"] },
  );
  clients.add(child);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  let pending: { resolve(report: ClientReport): void; reject(error: Error): void } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      clients.delete(child);
      pending?.reject(new Error(`client exited with ${signal ?? code}${stderr ? `: ${lastLine(stderr)}` : ""}`));
      resolve();
    }),
  );
  child.on("message", (report: ClientReport) => {
    const waiter = pending;
    pending = undefined;
    if (report.type === "error") waiter?.reject(new Error(`client: ${report.message}`));
    else waiter?.resolve(report);
  });
  /** The client's next report, within `timeoutMs`. */
  const next = (timeoutMs: number) =>
    new Promise<ClientReport>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending = undefined;
        reject(new Error(`client gave no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending = {
        resolve: (report) => {
          clearTimeout(timer);
          resolve(report);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  const send = (command: ClientCommand) => child.send(command);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) send({ type: "exit" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const ready = await next(READY_TIMEOUT_MS);
    if (ready.type !== "ready") throw new Error(`client answered ${ready.type} before ready`);
    return {
      child,
      openMs: ready.openMs,
      async run(round, seconds) {
        const answer = next(seconds * 1000 + RUN_GRACE_MS);
        send({ type: "run", round, seconds, maxMessages: Math.ceil(seconds * MAX_MESSAGES_PER_SECOND) });
        const report = await answer;
        if (report.type !== "result") throw new Error(`client answered ${report.type} to run`);
        return report.run;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function lastLine(text: string): string {
  return (
    text
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ""
  );
}

// --- Measurement ----------------------------------------------------------------------------------

function emptyRuntime(runtime: Runtime): RuntimeResult {
  const side = (id: SideId): Side => {
    const meta = SIDES.find((s) => s.id === id)!;
    return { id, label: meta.label, app: meta.app, rounds: [] };
  };
  const sides = { containerflare: side("containerflare"), crossws: side("crossws") };
  return { runtime: runtime.name, ...(runtime.version ? { version: runtime.version } : {}), sides };
}

/** Both sides of one runtime: start, warm up, alternate rounds, stop. Failures stay per side. */
async function measureRuntime(
  runtime: Runtime,
  node: string,
  settings: WebSocketBenchSettings,
): Promise<RuntimeResult> {
  const result = emptyRuntime(runtime);
  if (!runtime.version) {
    result.failure = `${runtime.name} not found or not runnable at ${rel(runtime.binary)}`;
    return result;
  }
  const servers = new Map<SideId, ServerProcess>();
  const loads = new Map<SideId, Client>();
  const sides = SIDES.map((side) => result.sides[side.id]);
  try {
    for (const side of sides) {
      try {
        const server = await startServer({
          command: runtime.binary,
          args: runtime.argsFor(join(APPS, side.app)),
          cwd: ROOT,
          env: { CONTAINERFLARE_LOG_LEVEL: "warn", CONTAINERFLARE_ACCESS_LOG: "0" },
        });
        servers.set(side.id, server);
        side.startupMs = server.startupMs;
        const client = await startClient(node, server.port, settings);
        loads.set(side.id, client);
        side.openMs = client.openMs;
        log(
          `${runtime.name} ${side.id}: listening on ${server.url} after ${server.startupMs.toFixed(0)} ms, ${settings.sockets} sockets open after ${client.openMs.toFixed(0)} ms`,
        );
      } catch (error) {
        side.failure = `failed to start: ${(error as Error).message}`;
        log(`${runtime.name} ${side.id}: ${side.failure}`);
      }
    }
    for (const side of sides) {
      const client = loads.get(side.id);
      if (!client || side.failure) continue;
      try {
        const warm = await client.run(-1, settings.warmupSeconds);
        side.rssMiB = rssMiB(servers.get(side.id)!.pid);
        log(`${runtime.name} ${side.id}: warm-up ${formatInt(warm.messagesPerSecond)} msgs/s`);
      } catch (error) {
        side.failure = `warm-up failed: ${(error as Error).message}`;
      }
    }
    // A round measures each side for durationSeconds in slices of sliceMs, alternating sides
    // slice by slice (and which side goes first, from slice to slice), so that a burst of other
    // work on the machine falls on both sides alike.
    const slices = Math.max(1, Math.round((settings.durationSeconds * 1000) / settings.sliceMs));
    const sliceSeconds = settings.durationSeconds / slices;
    for (let round = 0; round < settings.rounds; round++) {
      const cpu = new Map<SideId, { seconds: number; wall: number }>();
      const last = new Map<SideId, ClientRun>();
      for (let slice = 0; slice < slices; slice++) {
        const order = (round * slices + slice) % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          const server = servers.get(side.id);
          const client = loads.get(side.id);
          if (!server || !client || side.failure) continue;
          if (server.child.exitCode !== null || server.child.signalCode !== null) {
            side.failure = `server process died during the run (${server.child.signalCode ?? server.child.exitCode})`;
            continue;
          }
          try {
            const cpuBefore = cpuSeconds(server.pid);
            const wallBefore = performance.now();
            last.set(side.id, await client.run(round, sliceSeconds));
            const used = cpu.get(side.id) ?? { seconds: 0, wall: 0 };
            used.seconds += cpuSeconds(server.pid) - cpuBefore;
            used.wall += (performance.now() - wallBefore) / 1000;
            cpu.set(side.id, used);
          } catch (error) {
            side.failure = `run failed: ${(error as Error).message}`;
            log(`${runtime.name} ${side.id}: ${side.failure}`);
          }
        }
      }
      for (const side of sides) {
        const measured = last.get(side.id);
        const used = cpu.get(side.id);
        if (side.failure || !measured || !used) continue;
        side.rounds.push({
          ...measured,
          serverCpuUsPerMessage: (used.seconds / measured.messages) * 1e6,
          serverCpuShare: used.seconds / used.wall,
        });
        log(
          `${runtime.name} round ${round + 1}/${settings.rounds} ${side.id.padEnd(14)} ${formatInt(measured.messagesPerSecond).padStart(7)} msgs/s, ` +
            `p99 ${ms(measured.p99Us)}, server ${((used.seconds / measured.messages) * 1e6).toFixed(1)} µs CPU/msg (${(100 * (used.seconds / used.wall)).toFixed(0)}% of a core), ` +
            `client ${measured.clientCpuUsPerMessage.toFixed(1)} µs (${(100 * measured.clientCpuShare).toFixed(0)}%)` +
            `${measured.errors || measured.lost ? `, ${measured.errors} errors, ${measured.lost} lost` : ""}`,
        );
      }
    }
  } finally {
    await Promise.all([...loads.values()].map((client) => client.stop()));
    await stopAll();
  }
  return result;
}

async function measure(settings: WebSocketBenchSettings): Promise<WebSocketReport> {
  if (!existsSync(CONTAINERFLARE_ENTRY))
    throw new Error(`containerflare is not built: ${rel(CONTAINERFLARE_ENTRY)} is missing (run npm run build)`);
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const runtimes = resolveRuntimes(ROOT);
  const node = runtimes.node.binary;
  if (!runtimes.node.version) throw new Error(`no Node at ${rel(node)} for the client`);
  if (Number(runtimes.node.version.split(".")[0]) < 22)
    throw new Error(`the client needs Node >= 22 (global WebSocket): ${rel(node)} is ${runtimes.node.version}`);
  const versions: Record<string, string> = {};
  for (const runtime of Object.values(runtimes)) if (runtime.version) versions[runtime.name] = runtime.version;
  for (const pkg of ["crossws", "srvx"]) versions[pkg] = packageVersion(pkg);
  log(
    `runtimes: ${settings.runtimes.map((name) => `${name} ${versions[name] ?? "missing"}`).join(", ")}; crossws ${versions.crossws}, srvx ${versions.srvx}`,
  );
  if (loadBefore > availableParallelism() * 0.5)
    log(
      `note: the machine is busy (1-min load ${loadBefore.toFixed(2)} on ${availableParallelism()} cores); compare within this run`,
    );
  log(
    `${settings.runtimes.length} runtimes × 2 sides × ${settings.rounds} rounds × ${settings.durationSeconds} s, ${settings.sockets} sockets, ${settings.messageBytes}-byte messages, warm-up ${settings.warmupSeconds} s`,
  );
  const results: RuntimeResult[] = [];
  for (const name of settings.runtimes) results.push(await measureRuntime(runtimes[name], node, settings));
  const { write: _write, ...kept } = settings;
  const report: WebSocketReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    commit: gitCommit(),
    machine: `${cpus()[0]?.model.trim() || "unknown CPU"}, ${availableParallelism()} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM`,
    versions,
    settings: kept,
    load: [loadBefore, loadavg()[0]!],
    elapsedSeconds: (performance.now() - started) / 1000,
    runtimes: results,
  };
  mkdirSync(dirname(RAW_RESULTS), { recursive: true });
  writeFileSync(RAW_RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  log(`raw results in ${rel(RAW_RESULTS)}`);
  return report;
}

// --- Report ---------------------------------------------------------------------------------------

interface Comparison {
  /** Median of the per-round msgs/s ratios containerflare ÷ crossws. */
  ratio: number;
  range: [number, number];
  /** Median of the per-round server CPU per message ratios crossws ÷ containerflare (higher is better). */
  cpuRatio: number;
  verdict: "PASS" | "FAIL" | "n/a";
}

function compare(result: RuntimeResult): Comparison {
  const a = result.sides.containerflare;
  const b = result.sides.crossws;
  const n = Math.min(a.rounds.length, b.rounds.length);
  if (a.failure || b.failure || n === 0)
    return { ratio: Number.NaN, range: [Number.NaN, Number.NaN], cpuRatio: Number.NaN, verdict: "n/a" };
  const ratios = Array.from({ length: n }, (_, i) => a.rounds[i]!.messagesPerSecond / b.rounds[i]!.messagesPerSecond);
  const cpu = Array.from(
    { length: n },
    (_, i) => b.rounds[i]!.serverCpuUsPerMessage / a.rounds[i]!.serverCpuUsPerMessage,
  );
  const ratio = median(ratios);
  return {
    ratio,
    range: [Math.min(...ratios), Math.max(...ratios)],
    cpuRatio: median(cpu),
    verdict: ratio >= TARGET ? "PASS" : "FAIL",
  };
}

const TITLES: Record<RuntimeName, string> = { node: "Node.js", bun: "Bun", deno: "Deno" };

function ms(microseconds: number): string {
  return Number.isFinite(microseconds) ? `${(microseconds / 1000).toFixed(2)} ms` : "n/a";
}

function sideMedian(side: Side, pick: (round: Round) => number): number {
  return side.failure || side.rounds.length === 0 ? Number.NaN : median(side.rounds.map(pick));
}

/** One paragraph on the baseline run: its ratios per runtime. */
function beforeText(before: WebSocketReport): string {
  const parts = before.runtimes.map((result) => {
    const c = compare(result);
    return `${TITLES[result.runtime]} ${formatRatio(c.ratio, 3)} (${formatRatio(c.cpuRatio, 3)} by server CPU per message)`;
  });
  return `**Before the hooks fix** (commit ${before.commit}, ${before.date.slice(0, 10)}: the same harness and settings, when serve/websocket.ts still gave crossws its \`resolve\` option, which runs every hook call through a \`Promise.all\` and a microtask; 1-min load ${before.load[0].toFixed(1)}; raw results in bench/baselines/websocket.json): containerflare ÷ bare crossws ${parts.join(", ")}.`;
}

function render(report: WebSocketReport, before?: WebSocketReport): string {
  const { settings } = report;
  const lines = [
    `## WebSockets: echo over ${settings.sockets} sockets`,
    "",
    "<!-- Generated by bench/websocket.ts. -->",
    "",
    `- **Date:** ${report.date} (commit ${report.commit})`,
    `- **Machine:** ${report.machine}`,
    `- **Load average (1 min) before / after:** ${report.load[0].toFixed(2)} / ${report.load[1].toFixed(2)}`,
    `- **Versions:** ${report.runtimes.map((r) => `${TITLES[r.runtime]} ${r.version ?? "missing"}`).join(", ")}; crossws ${report.versions.crossws}, srvx ${report.versions.srvx}; the client on Node.js ${report.versions.node ?? "?"}`,
    `- **Run time:** ${report.elapsedSeconds.toFixed(0)} s`,
    "",
    "### Targets (issue 14)",
    "",
    "| target | msgs/s ratio (median of rounds) | result | per-round range | cross-check: by server CPU per message |",
    "| --- | --- | --- | --- | ---: |",
  ];
  for (const result of report.runtimes) {
    const c = compare(result);
    const a = result.sides.containerflare;
    const b = result.sides.crossws;
    const detail = Number.isFinite(c.ratio)
      ? `${formatRatio(c.ratio, 3)} (${formatInt(sideMedian(a, (r) => r.messagesPerSecond))} / ${formatInt(sideMedian(b, (r) => r.messagesPerSecond))} msgs/s)`
      : `n/a (${(result.failure ?? a.failure ?? b.failure ?? "no rounds").replaceAll("|", "\\|").slice(0, 200)})`;
    lines.push(
      `| ${TITLES[result.runtime]}: containerflare >= ${TARGET.toFixed(1)}x bare crossws | ${detail} | **${c.verdict}** | ${formatRatio(c.range[0])} – ${formatRatio(c.range[1])} | ${formatRatio(c.cpuRatio, 3)} |`,
    );
  }
  lines.push(
    "",
    ...(before && before.commit !== report.commit ? [beforeText(before), ""] : []),
    "The verdict uses msgs/s, as the issue asks: the median of the per-round ratios (in every round both sides ran for the same time, in alternating slices). The last column compares the server's own CPU time per message instead (crossws ÷ containerflare, so higher is better): it does not count time spent waiting for a core, so other jobs on the machine move it less.",
    "",
    "### Per runtime",
    "",
    `Median of ${settings.rounds} rounds of ${settings.durationSeconds} s per side; spread = (max − min) / median of the rounds' msgs/s. Latency = one message's round trip as the client sees it (send to echo) with ${settings.sockets} in flight, over every message of a round; the columns show the median of the rounds' percentiles. "busy" = CPU time ÷ wall time of the process during its slices (100% = one core all along).`,
    "",
    "| runtime | server | msgs/s (median) | ratio | rounds (msgs/s) | spread | p50 | p99 | server CPU / msg | server busy | client CPU / msg | client busy | errors |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const result of report.runtimes) {
    const c = compare(result);
    for (const meta of SIDES) {
      const side = result.sides[meta.id];
      const label = meta.id === "containerflare" ? `**${side.label}**` : side.label;
      const failure = result.failure ?? side.failure;
      if (failure || side.rounds.length === 0) {
        lines.push(
          `| ${TITLES[result.runtime]} | ${label} | failed | | ${(failure ?? "no rounds").replaceAll("|", "\\|").slice(0, 300)} | | | | | | | | |`,
        );
        continue;
      }
      const m = (pick: (round: Round) => number) => sideMedian(side, pick);
      const spread = relativeSpread(side.rounds.map((r) => r.messagesPerSecond));
      const errors = side.rounds.reduce((sum, r) => sum + r.errors + r.lost, 0);
      lines.push(
        `| ${TITLES[result.runtime]} | ${label} | ${formatInt(m((r) => r.messagesPerSecond))} | ${meta.id === "containerflare" ? formatRatio(c.ratio) : "1.00x"} | ${side.rounds.map((r) => formatInt(r.messagesPerSecond)).join(", ")} | ${Number.isFinite(spread) ? `${(spread * 100).toFixed(0)}%` : "n/a"} | ${ms(m((r) => r.p50Us))} | ${ms(m((r) => r.p99Us))} | ${m((r) => r.serverCpuUsPerMessage).toFixed(1)} µs | ${(100 * m((r) => r.serverCpuShare)).toFixed(0)}% | ${m((r) => r.clientCpuUsPerMessage).toFixed(1)} µs | ${(100 * m((r) => r.clientCpuShare)).toFixed(0)}% | ${errors} |`,
      );
    }
  }
  lines.push(
    "",
    "### Method",
    "",
    `- Two echo servers per runtime, each its own process on a free port on 127.0.0.1: bench/apps/ws-containerflare.js (\`serve(app, { websocket: { message(peer, m) { peer.send(m.rawData) } } })\` from the built dist/, with \`CONTAINERFLARE_LOG_LEVEL=warn\` and \`CONTAINERFLARE_ACCESS_LOG=0\`) and bench/apps/ws-crossws.js (srvx's \`serve()\` with crossws's adapter for the runtime and the same hook passed to it directly: Node \`crossws/adapters/node\` on the node:http server's "upgrade" event, Bun \`crossws/adapters/bun\` with its handlers on Bun.serve through srvx's \`bun\` option, Deno \`crossws/adapters/deno\` in fetch). Both use crossws's defaults otherwise (idle timeout 30 s, no compression); containerflare adds its limits (16 MiB messages and send buffer).`,
    `- Load: one client process per server (bench/lib/ws-client.ts on Node.js ${report.versions.node ?? "?"}) keeps ${settings.sockets} sockets open; each sends a ${settings.messageBytes}-byte text message, waits for its echo, and sends the next (a closed loop: ${settings.sockets} messages in flight). ${settings.client === "raw" ? "The client speaks RFC 6455 itself over node:net (bench/lib/ws-raw.ts: each socket's masked frame is built once, then written as it is), to keep the client's CPU per message low: in trial runs Node's WebSocket client (undici) cost about 40 µs per message here, as much as the Node servers and more than Bun's or Deno's, and used up its core first. `BENCH_WS_CLIENT=websocket` runs the same loop on Node's global WebSocket instead." : "The client is Node's global WebSocket (`BENCH_WS_CLIENT=websocket`); the default is a leaner RFC 6455 client of its own over node:net."} Round trips go into a fixed-size log-linear histogram per round (bench/lib/histogram.ts, < 1.6% error), so memory does not grow with the messages. msgs/s = echoes received while sending ÷ the time spent sending; an echo not back 5 s after its slice counts as lost.`,
    `- Each side first gets ${settings.warmupSeconds} s of discarded load (the JIT warm-up of both processes). Then ${settings.rounds} rounds: in each, every side is measured for ${settings.durationSeconds} s in slices of ${(settings.sliceMs / 1000).toFixed(1)} s, the sides alternating slice by slice (and which goes first, from slice to slice), so that a burst of other work on the machine falls on both sides alike; a round's numbers are the sums over its slices (one histogram per side and round). Only one client sends at a time: the idle side's sockets stay open and quiet.`,
    "- Server CPU per message: the server process's user + system CPU time over all its threads (from /proc/<pid>/stat) during its slices ÷ their messages; client CPU from `process.cpuUsage()` the same way.",
    `- Reproduce: \`npm run build && node bench/websocket.ts\` (Node >= 22; \`BENCH_WS_RUNTIMES=bun\` for one runtime, \`BENCH_WS_ROUNDS\`, \`BENCH_WS_SECONDS\`, \`BENCH_WS_SLICE_MS\`, \`BENCH_WS_WARMUP\`, \`BENCH_WS_SOCKETS\`, \`BENCH_WS_MESSAGE_BYTES\`, \`BENCH_WS_CLIENT=websocket\`, \`BENCH_WRITE=0\` to leave docs/ alone; \`--render\` re-renders from bench/results/websocket.json).`,
    "",
    "### Caveats",
    "",
    `- The machine has ${report.machine.match(/(\d+) cores/)?.[1] ?? "few"} cores and is shared: the client and the server of a run each want a core, and other jobs take their share (see the load average), so absolute numbers move from run to run; compare the two sides within this run, and look at the spread and the per-round range before trusting a small difference.`,
    "- With a core each, neither side of the loop is idle: when the client is as busy as the server (the \"busy\" columns), part of a server's extra cost per message is hidden in the client's share, and msgs/s ratios sit closer to 1.00x than the CPU-per-message ratios.",
    ...clientBound(report),
    "- Much of a server's CPU time per message is the kernel's loopback TCP work (a read and a write system call per message, on either side alike), so the CPU-per-message ratio understates how far the two sides' own code differs.",
    "- An echo of a small message measures the WebSocket path's fixed cost per message (framing, the adapter, the hooks); an app that does real work per message dilutes it.",
    "- The raw client masks all frames of a socket with one key (chosen at random per socket) and offers no extensions, so neither server compresses; browsers pick a new key per frame, which costs the server nothing more.",
    "",
  );
  return lines.join("\n");
}

/** A caveat for each runtime whose client, not its servers, ran out of core first. */
function clientBound(report: WebSocketReport): string[] {
  const lines: string[] = [];
  for (const result of report.runtimes) {
    const sides = SIDES.map((meta) => result.sides[meta.id]).filter((side) => !side.failure && side.rounds.length > 0);
    const bound = sides.filter(
      (side) =>
        sideMedian(side, (r) => r.clientCpuShare) >= 0.9 &&
        sideMedian(side, (r) => r.clientCpuShare) > sideMedian(side, (r) => r.serverCpuShare) &&
        sideMedian(side, (r) => r.clientCpuUsPerMessage) > sideMedian(side, (r) => r.serverCpuUsPerMessage),
    );
    if (bound.length === 0) continue;
    lines.push(
      `- On ${TITLES[result.runtime]} the client was the busier process and cost more per message than the server${bound.length === sides.length ? "s" : ` (${bound.map((side) => side.id).join(", ")})`}: there msgs/s is bound by the client's core as much as by the server, and the CPU-per-message column is the better comparison of the servers.`,
    );
  }
  return lines;
}

function printSummary(report: WebSocketReport): void {
  console.log("\nmsgs/s (median of rounds), p99, server CPU per message");
  for (const result of report.runtimes) {
    const c = compare(result);
    for (const meta of SIDES) {
      const side = result.sides[meta.id];
      const failure = result.failure ?? side.failure;
      const value = failure
        ? `FAILED: ${failure}`
        : `${formatInt(sideMedian(side, (r) => r.messagesPerSecond)).padStart(7)} msgs/s  p99 ${ms(sideMedian(side, (r) => r.p99Us))}  ${sideMedian(side, (r) => r.serverCpuUsPerMessage).toFixed(1)} µs CPU/msg`;
      console.log(`  ${result.runtime.padEnd(5)} ${meta.id.padEnd(15)} ${value}`);
    }
    console.log(
      `  ${result.runtime.padEnd(5)} ${c.verdict.padEnd(4)} containerflare >= ${TARGET}x crossws: ${formatRatio(c.ratio, 3)} (rounds ${formatRatio(c.range[0])} – ${formatRatio(c.range[1])}; by server CPU/msg ${formatRatio(c.cpuRatio, 3)})`,
    );
  }
}

// --- Helpers --------------------------------------------------------------------------------------

function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

/** The commit measured, marked when src/ or bench/ differ from it. */
function gitCommit(): string {
  const out = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (out.status !== 0) return "unknown";
  const changes = spawnSync("git", ["status", "--porcelain", "--", "src", "bench"], { cwd: ROOT, encoding: "utf8" });
  return `${out.stdout.trim()}${changes.stdout?.trim() ? " with uncommitted changes in src/ or bench/" : ""}`;
}

function loadReport(file = RAW_RESULTS): WebSocketReport {
  if (!existsSync(file)) throw new Error(`--render needs ${rel(file)} from an earlier run`);
  return JSON.parse(readFileSync(file, "utf8"), (_key, value: unknown) =>
    value === null ? Number.NaN : value,
  ) as WebSocketReport;
}

function rel(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

function log(message: string): void {
  console.log(`websocket: ${message}`);
}

try {
  const settings = readWebSocketSettings(process.env);
  const report = process.argv.includes("--render") ? loadReport() : await measure(settings);
  printSummary(report);
  if (settings.write) {
    const before = existsSync(BASELINE) ? loadReport(BASELINE) : undefined;
    writeMarkedSection(DOC, START, END, render(report, before), NEXT_SECTION);
    log("wrote docs/bench.md");
  } else log("BENCH_WRITE=0: docs/ left untouched");
} catch (error) {
  console.error(`websocket: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  for (const child of clients) child.kill("SIGKILL");
  await stopAll();
}
