/**
 * Command bus benchmark: commands per second and p50/p99 latency of `kv.get` (a 100-byte value
 * answered from memory) over stdio, unix, tcp and http, with 1 and 64 commands in flight, next to
 * a one-at-a-time client like the original Rust crate's (write a line, wait for its answer line).
 *
 * The HTTP transport (issue 12) is measured side by side, in the same rounds, with:
 * - a bare `fetch()` loop of the same runtime (Node's fetch, 1 and 64 loops) POSTing the same
 *   frame to a trivial node:http server that answers a fixed body of the size of a `kv.get`
 *   answer: what one HTTP request per command costs at best on this machine;
 * - `kv.get` and `host.ping` through the real command client to two real hosts: the command
 *   host behind node:http in this process (headers, streamed bodies passed through), and the
 *   command host inside a Worker in workerd (Miniflare), as production runs it.
 *
 * Topology as in production: this process is the command host (or runs the one in workerd); each
 * client runs in its own Node process (this file with `--client`), over the child's stdin/stdout
 * for stdio. Results go to docs/bench.md between `<!-- commands:start -->` and
 * `<!-- commands:end -->`, the chart to docs/bench-commands.svg, the raw results to
 * bench/results/commands.json.
 *
 * Run: `npm run bench` (all benchmarks) or `node bench/commands.ts` with Node >= 22.18 (type
 * stripping). `--render` re-renders docs/ from the last raw results. Env: BENCH_COMMAND_SECONDS
 * (per scenario, default 2), BENCH_COMMAND_ROUNDS (interleaved rounds, median reported; default
 * 3), BENCH_COMMAND_ONLY=http (scenarios whose description contains one of the comma-separated
 * words), BENCH_COMMAND_NO_WRITE=1 (print only).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
// The built package (what an app loads; `npm run bench` builds first), not src/: Node's type
// stripping cannot load every source file (parameter properties), and dist/ is what ships.
import { type CommandEndpoint, createCommandClient } from "containerflare/command";
import { type CommandHost, createCommandHost } from "containerflare/host";
import { listenCommandHost, serveNodeStream } from "containerflare/host/node";
import type { Miniflare } from "miniflare";
import { freePort } from "../src/cli/dev/ports.ts";
import { renderPanels } from "./lib/bars.ts";
import { type LoopbackServer, serveCommandHost, serveTrivial } from "./lib/http-host.ts";
import { cpuSeconds } from "./lib/processes.ts";
import { commandLine, descendants } from "./lib/proctree.ts";
import { writeMarkedSection } from "./lib/sections.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const SELF = fileURLToPath(import.meta.url);
const BENCH_MD = join(ROOT, "docs", "bench.md");
const CHART = join(ROOT, "docs", "bench-commands.svg");
const RAW_RESULTS = join(HERE, "results", "commands.json");
const HOST_WORKER = join(HERE, "workers", "command-host.ts");
/** Raw results of a run before issue 12 (HTTP v1), shown next to this run's HTTP rows. */
const BASELINE = join(HERE, "baselines", "commands.json");
const START = "<!-- commands:start -->";
const END = "<!-- commands:end -->";
const RESULT_PREFIX = "bench-result ";
const VALUE = "v".repeat(100);
const PAYLOAD = { binding: "CACHE", key: "bench" };
/** What the bare fetch loop POSTs, and what its server answers: a kv.get frame and its answer. */
const FETCH_FRAME = JSON.stringify({ v: 1, id: 1, command: "kv.get", payload: PAYLOAD });
const FETCH_ANSWER = JSON.stringify({ v: 1, id: 1, ok: true, payload: VALUE });

type Transport = "stdio" | "unix" | "tcp" | "http";
/** CommandClient, the original one-at-a-time design, or a bare fetch() loop (no command bus at all). */
type ClientKind = "multiplexed" | "sequential" | "fetch";
type Command = "kv.get" | "host.ping";
/** Who answers: the command host in this process, in workerd, or the trivial server (bare fetch). */
type HostKind = "node" | "workerd" | "trivial";

interface Scenario {
  transport: Transport;
  client: ClientKind;
  inFlight: number;
  command: Command;
  host: HostKind;
}

interface Measurement {
  commands: number;
  /** Commands completed during the warm-up (host CPU is measured over both). */
  warmupCommands: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system) of the client process per command, in µs. */
  clientCpuUs: number;
  /** CPU time of the host process per command, in µs. */
  hostCpuUs?: number;
  /** Commands per HTTP request the host in this process served (HTTP v2 batches), warm-up included. */
  commandsPerPost?: number;
}

/** One scenario's rounds, or why it has none. */
interface ScenarioResult {
  scenario: Scenario;
  rounds: Measurement[];
  failure?: string;
}

/** Everything one run measured: what bench/results/commands.json holds. */
interface CommandsReport {
  date: string;
  machine: string;
  node: string;
  commit: string;
  seconds: number;
  rounds: number;
  load: [number, number];
  elapsedSeconds: number;
  results: ScenarioResult[];
}

/** `stdio`, `unix:///path`, `tcp://host:port` or an http(s) URL, as the client takes it. */
function parseCommandEndpoint(text: string): CommandEndpoint {
  if (text === "stdio") return { kind: "stdio" };
  const url = new URL(text);
  if (url.protocol === "unix:") return { kind: "unix", path: decodeURIComponent(url.pathname) };
  if (url.protocol === "tcp:") return { kind: "tcp", host: url.hostname, port: Number(url.port) };
  return { kind: "http", url: url.href };
}

// --- Client side (child process) ------------------------------------------------------------------

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** Latencies in a preallocated buffer: a growing JS array would cost the client GC time we measure. */
class LatencyLog {
  #values = new Float64Array(1 << 20);
  #length = 0;

  add(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }

  sorted(): Float64Array {
    return this.#values.slice(0, this.#length).sort();
  }
}

/** Runs `once` from `inFlight` loops for `seconds` after a warm-up; latency of every call. */
async function drive(once: () => Promise<unknown>, inFlight: number, seconds: number): Promise<Measurement> {
  const warmUntil = performance.now() + 500;
  const worker = async (until: number, latencies: LatencyLog | undefined) => {
    let count = 0;
    let now = performance.now();
    while (now < until) {
      const started = now;
      await once();
      now = performance.now();
      latencies?.add(now - started);
      count++;
    }
    return count;
  };
  const sum = (counts: number[]) => counts.reduce((total, count) => total + count, 0);
  const warmupCommands = sum(await Promise.all(Array.from({ length: inFlight }, () => worker(warmUntil, undefined))));
  const latencies = new LatencyLog();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  const commands = sum(await Promise.all(Array.from({ length: inFlight }, () => worker(until, latencies))));
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const sorted = latencies.sorted();
  return {
    commands,
    warmupCommands,
    seconds: elapsed,
    perSecond: commands / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    clientCpuUs: (used.user + used.system) / commands,
  };
}

/**
 * The original design: one command at a time on one channel. Write a frame, read bytes until
 * the answer's newline, parse it, next.
 */
function sequentialChannel(write: (text: string) => void, onData: (listener: (chunk: Buffer) => void) => void) {
  let buffered = "";
  let waiting: ((line: string) => void) | undefined;
  onData((chunk) => {
    buffered += chunk.toString("utf8");
    const newline = buffered.indexOf("\n");
    if (newline >= 0 && waiting) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const resolve = waiting;
      waiting = undefined;
      resolve(line);
    }
  });
  let id = 0;
  return () =>
    new Promise<unknown>((resolve, reject) => {
      id++;
      waiting = (line) => {
        const answer = JSON.parse(line) as { id: number; ok: boolean; payload: unknown };
        if (answer.id !== id || !answer.ok) reject(new Error(`unexpected answer ${line.slice(0, 100)}`));
        else resolve(answer.payload);
      };
      write(`${JSON.stringify({ v: 1, id, command: "kv.get", payload: PAYLOAD })}\n`);
    });
}

/** A bare fetch() POST of a kv.get frame; the answer read as text, like the client does. */
function bareFetch(url: string): () => Promise<unknown> {
  const init = { method: "POST", headers: { "content-type": "application/json" }, body: FETCH_FRAME };
  return async () => {
    const response = await fetch(url, init);
    const text = await response.text();
    if (response.status !== 200 || text.length !== FETCH_ANSWER.length) throw new Error(`unexpected answer ${text}`);
    return text;
  };
}

async function runClient(
  endpoint: string,
  kind: ClientKind,
  inFlight: number,
  seconds: number,
  command: Command,
): Promise<void> {
  let measurement: Measurement;
  if (kind === "fetch") {
    measurement = await drive(bareFetch(endpoint), inFlight, seconds);
  } else if (kind === "sequential") {
    const target = parseCommandEndpoint(endpoint);
    if (target.kind === "stdio") {
      measurement = await drive(
        sequentialChannel(
          (text) => process.stdout.write(text),
          (listener) => process.stdin.on("data", listener),
        ),
        1,
        seconds,
      );
    } else if (target.kind === "unix" || target.kind === "tcp") {
      const { connect } = await import("node:net");
      const socket =
        target.kind === "unix" ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.setNoDelay(true);
      measurement = await drive(
        sequentialChannel(
          (text) => socket.write(text),
          (listener) => socket.on("data", listener),
        ),
        1,
        seconds,
      );
      socket.destroy();
    } else throw new Error(`no sequential client for ${target.kind}`);
    process.stdin.pause();
  } else {
    const client = createCommandClient({ endpoint: parseCommandEndpoint(endpoint), timeoutMs: 30_000 });
    const once = command === "host.ping" ? () => client.invoke("host.ping") : () => client.invoke("kv.get", PAYLOAD);
    const answer = (await once()) as unknown;
    if (command === "kv.get" && !JSON.stringify(answer).includes(VALUE))
      throw new Error(`kv.get answered ${JSON.stringify(answer)}`);
    measurement = await drive(once, inFlight, seconds);
    await client.close();
  }
  process.stderr.write(`${RESULT_PREFIX}${JSON.stringify(measurement)}\n`);
}

// --- Host side (this process) ---------------------------------------------------------------------

/** The KV namespace of the hosts in this process: one 100-byte value in memory. */
function memoryHost(): CommandHost {
  const values = new Map([["bench", VALUE]]);
  const kv = {
    get: async (key: string) => values.get(key) ?? null,
    getWithMetadata: async (key: string) => ({ value: values.get(key) ?? null, metadata: null, cacheStatus: null }),
    list: async () => ({ keys: [], list_complete: true, cacheStatus: null }),
  };
  return createCommandHost({ bindings: { CACHE: kv }, allow: { CACHE: "kv" } });
}

/** The command host inside a Worker in workerd, its KV holding the same value. */
interface WorkerdHost {
  url: string;
  pid: number | undefined;
  close(): Promise<void>;
}

async function startWorkerdHost(): Promise<WorkerdHost> {
  // Imported here: a client child process never loads Miniflare or esbuild.
  const { Miniflare } = await import("miniflare");
  const { bundleWorker } = await import("../src/cli/dev/bundle.ts");
  const script = await bundleWorker(HOST_WORKER);
  const miniflare: Miniflare = new Miniflare({
    host: "127.0.0.1",
    port: await freePort(),
    cf: false,
    modules: true,
    script,
    compatibilityDate: "2025-09-01",
    kvNamespaces: ["CACHE"],
  });
  const url = await miniflare.ready;
  await (await miniflare.getKVNamespace("CACHE")).put("bench", VALUE);
  const pid = descendants(process.pid).find((child) => /workerd/.test(commandLine(child)));
  return { url: new URL("/v1/commands", url).href, pid, close: () => miniflare.dispose() };
}

/** The servers of one run, started once. */
interface Hosts {
  host: CommandHost;
  directory: string;
  node?: LoopbackServer;
  trivial?: LoopbackServer;
  workerd?: WorkerdHost;
  workerdFailure?: string;
}

async function runScenario(hosts: Hosts, scenario: Scenario, seconds: number): Promise<Measurement> {
  let endpoint: string;
  let stop = async () => {};
  switch (scenario.transport) {
    case "stdio":
      endpoint = "stdio";
      break;
    case "unix": {
      const listener = await listenCommandHost(hosts.host, `unix://${join(hosts.directory, "bench.sock")}`);
      endpoint = listener.url;
      stop = listener.close;
      break;
    }
    case "tcp": {
      const listener = await listenCommandHost(hosts.host, `tcp://127.0.0.1:${await freePort()}`);
      endpoint = listener.url;
      stop = listener.close;
      break;
    }
    case "http": {
      const url =
        scenario.host === "trivial"
          ? hosts.trivial?.url
          : scenario.host === "workerd"
            ? hosts.workerd?.url
            : hosts.node?.url;
      if (!url) throw new Error(hosts.workerdFailure ?? `no ${scenario.host} host`);
      endpoint = url;
      break;
    }
  }
  const args = [
    SELF,
    "--client",
    endpoint,
    scenario.client,
    String(scenario.inFlight),
    String(seconds),
    scenario.command,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  if (scenario.transport === "stdio") void serveNodeStream(hosts.host, child.stdout, child.stdin);
  else child.stdout.resume();
  // The host's CPU: this process, or workerd's when the Worker answers.
  const workerdPid = scenario.host === "workerd" ? hosts.workerd?.pid : undefined;
  const server = scenario.transport !== "http" ? undefined : scenario.host === "node" ? hosts.node : hosts.trivial;
  const postsBefore = server?.served() ?? 0;
  const hostCpu = process.cpuUsage();
  const workerdBefore = workerdPid ? cpuSeconds(workerdPid) : Number.NaN;
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const used = process.cpuUsage(hostCpu);
  const hostMicros = workerdPid ? (cpuSeconds(workerdPid) - workerdBefore) * 1e6 : used.user + used.system;
  await stop();
  const line = stderr.split("\n").find((entry) => entry.startsWith(RESULT_PREFIX));
  if (code !== 0 || !line) {
    const reason = stderr.trim().split("\n").slice(-6).join(" | ").slice(-1500);
    throw new Error(`client exited ${code}: ${reason}`);
  }
  const measured = JSON.parse(line.slice(RESULT_PREFIX.length)) as Measurement;
  // Host CPU over the whole run (warm-up included) per command answered over the whole run.
  const total = measured.commands + measured.warmupCommands;
  const posts = server ? server.served() - postsBefore : 0;
  return { ...measured, hostCpuUs: hostMicros / total, ...(posts > 0 ? { commandsPerPost: total / posts } : {}) };
}

function describe(scenario: Scenario): string {
  const host = scenario.transport === "http" ? ` ${scenario.host}` : "";
  const command = scenario.client === "fetch" ? "" : ` ${scenario.command}`;
  return `${scenario.transport}${host} ${scenario.client}${command} x${scenario.inFlight}`;
}

// --- Scenarios ------------------------------------------------------------------------------------

const streams = (transport: Transport, client: ClientKind, inFlight: number): Scenario => ({
  transport,
  client,
  inFlight,
  command: "kv.get",
  host: "node",
});

const http = (client: ClientKind, host: HostKind, command: Command, inFlight: number): Scenario => ({
  transport: "http",
  client,
  inFlight,
  command,
  host,
});

/**
 * Every scenario in the order of a round. The HTTP ones are grouped by in-flight count with the
 * bare fetch loop first, so that each comparison's two sides run seconds apart in every round.
 */
const SCENARIOS: Scenario[] = [
  streams("stdio", "sequential", 1),
  streams("unix", "sequential", 1),
  ...(["stdio", "unix", "tcp"] as const).flatMap((transport) => [
    streams(transport, "multiplexed", 1),
    streams(transport, "multiplexed", 64),
  ]),
  ...[1, 64].flatMap((inFlight) => [
    http("fetch", "trivial", "kv.get", inFlight),
    http("multiplexed", "node", "kv.get", inFlight),
    http("multiplexed", "node", "host.ping", inFlight),
    http("multiplexed", "workerd", "kv.get", inFlight),
    http("multiplexed", "workerd", "host.ping", inFlight),
  ]),
];

const same = (a: Scenario, b: Scenario) =>
  a.transport === b.transport &&
  a.client === b.client &&
  a.inFlight === b.inFlight &&
  a.command === b.command &&
  a.host === b.host;

// --- Report ---------------------------------------------------------------------------------------

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const number = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a");
const ms = (value: number) =>
  !Number.isFinite(value) ? "n/a" : value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`;
const ratio = (value: number, digits = 2) => (Number.isFinite(value) ? `${value.toFixed(digits)}x` : "n/a");

/** Rows, ratios and verdicts over a report's results. */
function analyse(report: CommandsReport) {
  const find = (scenario: Scenario) => report.results.find((result) => same(result.scenario, scenario));
  const perSecond = (scenario: Scenario) => median((find(scenario)?.rounds ?? []).map((run) => run.perSecond));
  /** Median of the per-round ratios subject / reference (both ran seconds apart in each round). */
  const paired = (subject: Scenario, reference: Scenario) => {
    const a = find(subject)?.rounds ?? [];
    const b = find(reference)?.rounds ?? [];
    if (a.length === 0 || b.length === 0) return { ratio: Number.NaN, range: [Number.NaN, Number.NaN] };
    if (a.length !== b.length)
      return { ratio: perSecond(subject) / perSecond(reference), range: [Number.NaN, Number.NaN] };
    const ratios = a.map((run, i) => run.perSecond / b[i]!.perSecond);
    return { ratio: median(ratios), range: [Math.min(...ratios), Math.max(...ratios)] };
  };
  const cpu = (scenario: Scenario) => {
    const runs = find(scenario)?.rounds ?? [];
    return median(runs.map((run) => run.clientCpuUs + (run.hostCpuUs ?? 0)));
  };
  return { find, perSecond, paired, cpu };
}

/** The rows of the HTTP table for one run: one per in-flight count. */
function httpRows(label: string, report: CommandsReport): string[] {
  const { find, perSecond, paired } = analyse(report);
  return [1, 64].map((inFlight) => {
    const fetchLoop = http("fetch", "trivial", "kv.get", inFlight);
    const cell = (host: HostKind, command: Command) => {
      const scenario = http("multiplexed", host, command, inFlight);
      if (!find(scenario) || find(scenario)!.rounds.length === 0) return "failed";
      return `${number(perSecond(scenario))} (${ratio(paired(scenario, fetchLoop).ratio)})`;
    };
    const batch = median(
      (find(http("multiplexed", "node", "kv.get", inFlight))?.rounds ?? []).map(
        (run) => run.commandsPerPost ?? Number.NaN,
      ),
    );
    return `| ${label} | ${inFlight} | ${number(perSecond(fetchLoop))} | ${cell("node", "kv.get")} | ${cell("node", "host.ping")} | ${cell("workerd", "kv.get")} | ${cell("workerd", "host.ping")} | ${Number.isFinite(batch) ? batch.toFixed(1) : "n/a"} |`;
  });
}

function render(report: CommandsReport, chartFile: string | undefined, before?: CommandsReport): string {
  const { perSecond, paired, cpu } = analyse(report);
  const baseline = perSecond(streams("stdio", "sequential", 1));
  const clientName = (scenario: Scenario) =>
    scenario.client === "sequential"
      ? "one-at-a-time (original design)"
      : scenario.client === "fetch"
        ? "bare `fetch()` loop"
        : "CommandClient";
  const hostName = (scenario: Scenario) =>
    scenario.transport !== "http"
      ? "this process"
      : scenario.host === "trivial"
        ? "trivial node:http server"
        : scenario.host === "workerd"
          ? "Worker in workerd"
          : "node:http in this process";
  const lines = [
    "## Command bus",
    "",
    `<!-- Generated by bench/commands.ts. -->`,
    "",
    `- **Date:** ${report.date} (commit ${report.commit})`,
    `- **Machine:** ${report.machine}`,
    `- **Load average (1 min) before / after:** ${report.load[0].toFixed(2)} / ${report.load[1].toFixed(2)}`,
    `- **Runtime:** Node.js ${report.node} for the client and the host (separate processes); workerd from Miniflare for the Worker host`,
    "- **Command:** `kv.get` of a 100-byte value answered from memory by `createCommandHost` (in workerd: from the Worker's KV binding), and `host.ping` (no binding); the client runs in a child process (over its stdin/stdout for stdio), the host in the parent or in workerd",
    `- **Method:** ${report.seconds} s per scenario after a 0.5 s warm-up, ${report.rounds} interleaved round(s), median reported; latency = time from \`invoke()\` (or \`fetch()\`) to its answer; run time ${report.elapsedSeconds.toFixed(0)} s`,
    "",
  ];
  if (chartFile) lines.push(`![Command-bus throughput over HTTP next to a bare fetch() loop](${chartFile})`, "");
  lines.push(
    "| transport | host | client | command | in flight | commands/s | vs one-at-a-time (stdio) | p50 latency | p99 latency | CPU µs/command client + host | rounds (cmd/s) |",
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const result of report.results) {
    const { scenario, rounds } = result;
    const head = `| ${scenario.transport} | ${hostName(scenario)} | ${clientName(scenario)} | ${scenario.client === "fetch" ? "POST of a kv.get frame" : `\`${scenario.command}\``} | ${scenario.inFlight}`;
    if (result.failure && rounds.length === 0) {
      lines.push(`${head} | failed | | | | | ${result.failure.replaceAll("|", "\\|").slice(0, 300)} |`);
      continue;
    }
    const value = (pick: (run: Measurement) => number) => median(rounds.map(pick));
    const cpuText = `${value((run) => run.clientCpuUs).toFixed(1)} + ${value((run) => run.hostCpuUs ?? Number.NaN).toFixed(1)}`;
    lines.push(
      `${head} | ${number(value((run) => run.perSecond))} | ${ratio(value((run) => run.perSecond) / baseline, 1)} | ${ms(value((run) => run.p50Ms))} | ${ms(value((run) => run.p99Ms))} | ${cpuText} | ${rounds.map((run) => number(run.perSecond)).join(", ")}${result.failure ? ` (then failed: ${result.failure.replaceAll("|", "\\|").slice(0, 200)})` : ""} |`,
    );
  }

  // The stream transports' targets (issue 3).
  const unix64 = perSecond(streams("unix", "multiplexed", 64));
  const stdio64 = perSecond(streams("stdio", "multiplexed", 64));
  const which = unix64 >= stdio64 ? "unix" : "stdio";
  const best = Math.max(unix64, stdio64);
  const pass = (ok: boolean) => (ok ? "**pass**" : "**FAIL**");

  // The HTTP transport against the bare fetch loop (issue 12).
  const fetchLoop = (inFlight: number) => http("fetch", "trivial", "kv.get", inFlight);
  const httpRow = (host: HostKind, command: Command, inFlight: number) => http("multiplexed", host, command, inFlight);
  const httpKv64 = perSecond(httpRow("node", "kv.get", 64));
  const vsFetch1 = paired(httpRow("node", "kv.get", 1), fetchLoop(1));
  const range = (r: number[]) => `${ratio(r[0]!)} – ${ratio(r[1]!)}`;
  lines.push(
    "",
    "### HTTP transport next to a bare `fetch()` loop",
    "",
    `Each cell: commands/s, and in brackets the ratio to the bare \`fetch()\` loop with the same number in flight (median of the per-round ratios; both ran seconds apart in every round).${before ? ` The "before" rows are the same harness on the last commit before issue 12's transport work (HTTP v1: one POST per frame), kept in bench/baselines/commands.json; its run had a 1-min load of ${before.load[0].toFixed(1)}, so compare ratios, not absolute numbers.` : ""}`,
    "",
    "| run | in flight | bare `fetch()` loop (req/s) | `kv.get`, node:http host | `host.ping`, node:http host | `kv.get`, Worker in workerd | `host.ping`, Worker in workerd | commands per POST (`kv.get`, node:http host) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...httpRows(`this run (${report.commit})`, report),
    ...(before ? httpRows(`before issue 12 (${before.commit}, ${before.date.slice(0, 10)})`, before) : []),
    "",
    "### Targets",
    "",
    "| target | measured | result |",
    "| --- | --- | --- |",
    `| issue 3: >= 50,000 commands/s with 64 in flight on unix or stdio | ${number(best)} (${which}) | ${pass(best >= 50_000)} |`,
    `| issue 3: >= 10x the one-at-a-time throughput of the original sequential design (stdio) | ${ratio(best / baseline, 1)} (${number(best)} vs ${number(baseline)}) | ${pass(best >= 10 * baseline)} |`,
    `| issue 12: http >= 50,000 commands/s with 64 in flight (\`kv.get\`, node:http host) | ${number(httpKv64)} (Worker in workerd: ${number(perSecond(httpRow("workerd", "kv.get", 64)))}) | ${pass(httpKv64 >= 50_000)} |`,
    `| issue 12: http with 1 in flight >= 0.8x a bare \`fetch()\` loop with 1 in flight (\`kv.get\`, node:http host) | ${ratio(vsFetch1.ratio)} (${number(perSecond(httpRow("node", "kv.get", 1)))} vs ${number(perSecond(fetchLoop(1)))}; per-round ${range(vsFetch1.range)}) | ${pass(vsFetch1.ratio >= 0.8)} |`,
    "",
    `For context: one command at a time costs ${cpu(streams("stdio", "sequential", 1)).toFixed(1)} µs of CPU (client + host) per command over stdio, mostly the wake-ups and system calls of one round trip per command; with 64 in flight the same command costs ${cpu(streams(which, "multiplexed", 64)).toFixed(1)} µs over ${which}, because frames written in the same tick share one write and one read on each side. Over HTTP a command costs ${cpu(httpRow("node", "kv.get", 1)).toFixed(1)} µs with 1 in flight and ${cpu(httpRow("node", "kv.get", 64)).toFixed(1)} µs with 64 (a bare \`fetch()\` request: ${cpu(fetchLoop(1)).toFixed(1)} µs and ${cpu(fetchLoop(64)).toFixed(1)} µs). Throughput with 64 in flight is bound by that CPU cost and by the cores free on this shared machine (see the load average above); one command at a time is bound by round-trip latency. For the workerd host the host CPU is workerd's process alone.`,
    "",
    "Reproduce: `npm run build && node bench/commands.ts` (Node >= 22.18; `BENCH_COMMAND_ONLY=http` for the HTTP rows alone, `--render` to re-render from bench/results/commands.json).",
    "",
  );
  return lines.join("\n");
}

/** The chart: commands/s per HTTP scenario, one panel per in-flight count, targets dashed. */
function chart(report: CommandsReport): string {
  const { find, perSecond } = analyse(report);
  const bar = (label: string, scenario: Scenario, kind: "baseline" | "containerflare") => ({
    label,
    value: perSecond(scenario),
    kind,
    failed: !find(scenario) || find(scenario)!.rounds.length === 0,
  });
  const panel = (inFlight: number) => {
    const fetchLoop = perSecond(http("fetch", "trivial", "kv.get", inFlight));
    return {
      title: `${inFlight} in flight`,
      bars: [
        bar("bare fetch() loop", http("fetch", "trivial", "kv.get", inFlight), "baseline"),
        bar("http kv.get, node:http host", http("multiplexed", "node", "kv.get", inFlight), "containerflare"),
        bar("http host.ping, node:http host", http("multiplexed", "node", "host.ping", inFlight), "containerflare"),
        bar("http kv.get, Worker in workerd", http("multiplexed", "workerd", "kv.get", inFlight), "containerflare"),
        bar(
          "http host.ping, Worker in workerd",
          http("multiplexed", "workerd", "host.ping", inFlight),
          "containerflare",
        ),
      ],
      targets:
        inFlight === 1
          ? [{ value: fetchLoop * 0.8, label: "target: 0.8x the bare fetch() loop" }]
          : [{ value: 50_000, label: "target: 50,000 commands/s" }],
    };
  };
  return renderPanels({
    title: "Command bus over HTTP: commands/s, median of rounds (each panel has its own scale)",
    unit: "cmd/s",
    panels: [panel(1), panel(64)],
  });
}

function gitCommit(): string {
  const out = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return out.status === 0 ? out.stdout.trim() : "unknown";
}

function loadReport(file = RAW_RESULTS): CommandsReport {
  if (!existsSync(file)) throw new Error(`--render needs ${file} from an earlier run`);
  return JSON.parse(readFileSync(file, "utf8"), (_key, value: unknown) =>
    value === null ? Number.NaN : value,
  ) as CommandsReport;
}

async function measure(): Promise<CommandsReport> {
  const seconds = Number(process.env.BENCH_COMMAND_SECONDS ?? "2");
  const rounds = Number(process.env.BENCH_COMMAND_ROUNDS ?? "3");
  const only = (process.env.BENCH_COMMAND_ONLY ?? "")
    .split(",")
    .map((word) => word.trim())
    .filter(Boolean);
  const scenarios = SCENARIOS.filter(
    (scenario) => only.length === 0 || only.some((word) => describe(scenario).includes(word)),
  );
  const hosts: Hosts = { host: memoryHost(), directory: mkdtempSync(join(tmpdir(), "cf-bench-commands-")) };
  const results: ScenarioResult[] = scenarios.map((scenario) => ({ scenario, rounds: [] }));
  const loadBefore = loadavg()[0]!;
  const started = performance.now();
  try {
    if (scenarios.some((scenario) => scenario.transport === "http")) {
      hosts.node = await serveCommandHost(hosts.host);
      hosts.trivial = await serveTrivial(FETCH_ANSWER);
      if (scenarios.some((scenario) => scenario.host === "workerd")) {
        try {
          hosts.workerd = await startWorkerdHost();
        } catch (error) {
          hosts.workerdFailure = `cannot start the Worker host: ${(error as Error).message}`;
          console.error(`commands: ${hosts.workerdFailure}`);
        }
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const result of results) {
        if (result.failure) continue;
        try {
          const measurement = await runScenario(hosts, result.scenario, seconds);
          result.rounds.push(measurement);
          console.log(
            `commands: round ${round + 1} ${describe(result.scenario).padEnd(40)} ${number(measurement.perSecond).padStart(9)} cmd/s  p50 ${ms(measurement.p50Ms)}  p99 ${ms(measurement.p99Ms)}  cpu/cmd ${measurement.clientCpuUs.toFixed(1)} + ${measurement.hostCpuUs?.toFixed(1)} µs${measurement.commandsPerPost ? `  ${measurement.commandsPerPost.toFixed(1)} cmd/POST` : ""}`,
          );
        } catch (error) {
          result.failure = (error as Error).message;
          console.error(`commands: ${describe(result.scenario)} failed: ${result.failure}`);
        }
      }
    }
  } finally {
    await hosts.node?.close();
    await hosts.trivial?.close();
    await hosts.workerd?.close().catch(() => {});
    rmSync(hosts.directory, { recursive: true, force: true });
  }
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const report: CommandsReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: `${cpu}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM`,
    node: process.versions.node,
    commit: gitCommit(),
    seconds,
    rounds,
    load: [loadBefore, loadavg()[0]!],
    elapsedSeconds: (performance.now() - started) / 1000,
    results,
  };
  mkdirSync(dirname(RAW_RESULTS), { recursive: true });
  writeFileSync(RAW_RESULTS, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** Runs every scenario (or re-renders the last run with `--render`), prints the section and writes docs/. */
export async function main(): Promise<string> {
  const report = process.argv.includes("--render") ? loadReport() : await measure();
  const write = process.env.BENCH_COMMAND_NO_WRITE !== "1";
  const baseline = existsSync(BASELINE) ? loadReport(BASELINE) : undefined;
  const markdown = render(report, write ? "bench-commands.svg" : undefined, baseline);
  console.log(`\n${markdown}`);
  if (write) {
    writeFileSync(CHART, chart(report));
    writeMarkedSection(BENCH_MD, START, END, markdown);
  }
  return markdown;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === "--client") {
    const [endpoint, kind, inFlight, seconds, command] = process.argv.slice(3);
    await runClient(endpoint!, kind as ClientKind, Number(inFlight), Number(seconds), command as Command);
  } else {
    await main();
  }
}
