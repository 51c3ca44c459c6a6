/**
 * Command bus benchmark: commands per second and p50/p99 latency of `kv.get` (a 100-byte value
 * answered from memory) over stdio, unix, tcp and http, with 1 and 64 commands in flight, next to
 * a one-at-a-time client like the original Rust crate's (write a line, wait for its answer line).
 *
 * Topology as in production: this process is the command host; each client runs in its own Node
 * process (this file with `--client`), over the child's stdin/stdout for stdio. Results go to
 * docs/bench.md between `<!-- commands:start -->` and `<!-- commands:end -->`.
 *
 * Run: `npm run bench` (all benchmarks) or `node bench/commands.ts` with Node >= 22.18 (type
 * stripping). Env: BENCH_COMMAND_SECONDS (per scenario, default 3), BENCH_COMMAND_ROUNDS
 * (interleaved rounds, median reported; default 2), BENCH_COMMAND_NO_WRITE=1 (print only).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort } from "../src/cli/dev/ports.ts";
import { createCommandClient } from "../src/command/index.ts";
import { parseCommandEndpoint } from "../src/config.ts";
import { type CommandHost, createCommandHost } from "../src/host/index.ts";
import { listenCommandHost, serveNodeStream } from "../src/host/node.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const BENCH_MD = join(HERE, "..", "docs", "bench.md");
const START = "<!-- commands:start -->";
const END = "<!-- commands:end -->";
const RESULT_PREFIX = "bench-result ";
const VALUE = "v".repeat(100);
const PAYLOAD = { binding: "CACHE", key: "bench" };

type Transport = "stdio" | "unix" | "tcp" | "http";
type ClientKind = "multiplexed" | "sequential";

interface Scenario {
  transport: Transport;
  client: ClientKind;
  inFlight: number;
}

interface Measurement {
  commands: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system) of the client process per command, in µs. */
  clientCpuUs: number;
  /** CPU time of the host process per command, in µs. */
  hostCpuUs?: number;
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

function summarize(latencies: LatencyLog, commands: number, seconds: number, cpuMicros: number): Measurement {
  const sorted = latencies.sorted();
  return {
    commands,
    seconds,
    perSecond: commands / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    clientCpuUs: cpuMicros / commands,
  };
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
  await Promise.all(Array.from({ length: inFlight }, () => worker(warmUntil, undefined)));
  const latencies = new LatencyLog();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: inFlight }, () => worker(until, latencies)));
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return summarize(
    latencies,
    counts.reduce((sum, count) => sum + count, 0),
    elapsed,
    used.user + used.system,
  );
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

async function runClient(endpoint: string, kind: ClientKind, inFlight: number, seconds: number): Promise<void> {
  let measurement: Measurement;
  if (kind === "sequential") {
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
    measurement = await drive(() => client.invoke("kv.get", PAYLOAD), inFlight, seconds);
    await client.close();
  }
  process.stderr.write(`${RESULT_PREFIX}${JSON.stringify(measurement)}\n`);
}

// --- Host side (this process) ---------------------------------------------------------------------

/** The host: a KV namespace in memory; `answered()` counts the reads it served. */
interface MemoryHost {
  host: CommandHost;
  answered(): number;
}

function memoryHost(): MemoryHost {
  const values = new Map([["bench", VALUE]]);
  let reads = 0;
  const kv = {
    get: async (key: string) => {
      reads++;
      return values.get(key) ?? null;
    },
    getWithMetadata: async (key: string) => ({ value: values.get(key) ?? null, metadata: null, cacheStatus: null }),
    list: async () => ({ keys: [], list_complete: true, cacheStatus: null }),
  };
  return { host: createCommandHost({ bindings: { CACHE: kv }, allow: { CACHE: "kv" } }), answered: () => reads };
}

async function serveHttp(host: CommandHost) {
  const server = createHttpServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const answer = await host.handle(
      new Request(`http://127.0.0.1${request.url ?? "/"}`, {
        method: request.method ?? "POST",
        headers: { "content-type": "application/json" },
        body: Buffer.concat(chunks),
      }),
    );
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(await answer.text());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/commands`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function runScenario(
  { host, answered }: MemoryHost,
  scenario: Scenario,
  seconds: number,
  directory: string,
): Promise<Measurement> {
  let endpoint: string;
  let stop = async () => {};
  switch (scenario.transport) {
    case "stdio":
      endpoint = "stdio";
      break;
    case "unix": {
      const listener = await listenCommandHost(host, `unix://${join(directory, "bench.sock")}`);
      endpoint = listener.url;
      stop = listener.close;
      break;
    }
    case "tcp": {
      const listener = await listenCommandHost(host, `tcp://127.0.0.1:${await freePort()}`);
      endpoint = listener.url;
      stop = listener.close;
      break;
    }
    case "http": {
      const server = await serveHttp(host);
      endpoint = server.url;
      stop = server.close;
      break;
    }
  }
  const args = [SELF, "--client", endpoint, scenario.client, String(scenario.inFlight), String(seconds)];
  const child = spawn(process.execPath, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  if (scenario.transport === "stdio") void serveNodeStream(host, child.stdout, child.stdin);
  else child.stdout.resume();
  const hostCpu = process.cpuUsage();
  const answeredBefore = answered();
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const used = process.cpuUsage(hostCpu);
  const commands = answered() - answeredBefore;
  await stop();
  const line = stderr.split("\n").find((entry) => entry.startsWith(RESULT_PREFIX));
  if (code !== 0 || !line)
    throw new Error(`client for ${describe(scenario)} failed (exit ${code}): ${stderr.slice(-2000)}`);
  // Host CPU over the whole run (warm-up included) per command answered over the whole run.
  return {
    ...(JSON.parse(line.slice(RESULT_PREFIX.length)) as Measurement),
    hostCpuUs: (used.user + used.system) / commands,
  };
}

function describe(scenario: Scenario): string {
  return `${scenario.transport} ${scenario.client} x${scenario.inFlight}`;
}

// --- Report ---------------------------------------------------------------------------------------

const SCENARIOS: Scenario[] = [
  { transport: "stdio", client: "sequential", inFlight: 1 },
  { transport: "unix", client: "sequential", inFlight: 1 },
  ...(["stdio", "unix", "tcp", "http"] as const).flatMap((transport) => [
    { transport, client: "multiplexed" as const, inFlight: 1 },
    { transport, client: "multiplexed" as const, inFlight: 64 },
  ]),
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const number = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);

function render(
  results: Map<Scenario, Measurement[]>,
  seconds: number,
  rounds: number,
  load: [number, number],
  elapsed: number,
): string {
  const row = (scenario: Scenario) => {
    const runs = results.get(scenario) ?? [];
    return {
      perSecond: median(runs.map((run) => run.perSecond)),
      p50: median(runs.map((run) => run.p50Ms)),
      p99: median(runs.map((run) => run.p99Ms)),
      cpu: `${median(runs.map((run) => run.clientCpuUs)).toFixed(1)} + ${median(runs.map((run) => run.hostCpuUs ?? Number.NaN)).toFixed(1)}`,
      rounds: runs.map((run) => number(run.perSecond)).join(", "),
    };
  };
  const find = (transport: Transport, client: ClientKind, inFlight: number) =>
    SCENARIOS.find(
      (scenario) => scenario.transport === transport && scenario.client === client && scenario.inFlight === inFlight,
    )!;
  const baseline = row(find("stdio", "sequential", 1)).perSecond;
  const cpuOf = (scenario: Scenario) => {
    const runs = results.get(scenario) ?? [];
    return median(runs.map((run) => run.clientCpuUs + (run.hostCpuUs ?? 0)));
  };
  const lines = [
    "## Command bus",
    "",
    `<!-- Generated by bench/commands.ts. -->`,
    "",
    `- **Date:** ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
    `- **Machine:** ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM`,
    `- **Load average (1 min) before / after:** ${load[0].toFixed(2)} / ${load[1].toFixed(2)}`,
    `- **Runtime:** Node.js ${process.versions.node} for the client and the host (separate processes)`,
    `- **Command:** \`kv.get\` of a 100-byte value, answered from memory by \`createCommandHost\`; the client runs in a child process (over its stdin/stdout for stdio), the host in the parent`,
    `- **Method:** ${seconds} s per scenario after a 0.5 s warm-up, ${rounds} interleaved round(s), median reported; latency = time from \`invoke()\` to its answer; run time ${elapsed.toFixed(0)} s`,
    "",
    "| transport | client | in flight | commands/s | vs one-at-a-time (stdio) | p50 latency | p99 latency | CPU µs/command client + host | rounds (cmd/s) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const scenario of SCENARIOS) {
    const { perSecond, p50, p99, cpu, rounds: list } = row(scenario);
    const client = scenario.client === "sequential" ? "one-at-a-time (original design)" : "CommandClient";
    lines.push(
      `| ${scenario.transport} | ${client} | ${scenario.inFlight} | ${number(perSecond)} | ${(perSecond / baseline).toFixed(1)}x | ${ms(p50)} | ${ms(p99)} | ${cpu} | ${list} |`,
    );
  }
  const best = Math.max(
    row(find("unix", "multiplexed", 64)).perSecond,
    row(find("stdio", "multiplexed", 64)).perSecond,
  );
  const which =
    row(find("unix", "multiplexed", 64)).perSecond >= row(find("stdio", "multiplexed", 64)).perSecond
      ? "unix"
      : "stdio";
  const pass = (ok: boolean) => (ok ? "**pass**" : "**FAIL**");
  lines.push(
    "",
    "### Targets (issue 3)",
    "",
    "| target | measured | result |",
    "| --- | --- | --- |",
    `| >= 50,000 commands/s with 64 in flight on unix or stdio | ${number(best)} (${which}) | ${pass(best >= 50_000)} |`,
    `| >= 10x the one-at-a-time throughput of the original sequential design (stdio) | ${(best / baseline).toFixed(1)}x (${number(best)} vs ${number(baseline)}) | ${pass(best >= 10 * baseline)} |`,
    "",
    `For context: one command at a time costs ${cpuOf(find("stdio", "sequential", 1)).toFixed(1)} µs of CPU (client + host) per command over stdio, mostly the wake-ups and system calls of one round trip per command; with 64 in flight the same command costs ${cpuOf(find(which, "multiplexed", 64)).toFixed(1)} µs over ${which} (${(cpuOf(find("stdio", "sequential", 1)) / cpuOf(find(which, "multiplexed", 64))).toFixed(1)}x less), because frames written in the same tick share one write and one read on each side, up to 16 per write so that client and host work at the same time. Throughput with 64 in flight is bound by that CPU cost and by the cores free on this shared machine (see the load average above); the one-at-a-time design is bound by round-trip latency.`,
    "",
  );
  return lines.join("\n");
}

/** Replaces our section of docs/bench.md (between the markers), leaving the rest alone. */
function writeSection(markdown: string): void {
  const section = `${START}\n${markdown}\n${END}`;
  const current = existsSync(BENCH_MD) ? readFileSync(BENCH_MD, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(BENCH_MD, next);
}

/** Runs every scenario, prints the table and writes it into docs/bench.md. */
export async function main(): Promise<string> {
  const seconds = Number(process.env.BENCH_COMMAND_SECONDS ?? "3");
  const rounds = Number(process.env.BENCH_COMMAND_ROUNDS ?? "2");
  const directory = mkdtempSync(join(tmpdir(), "cf-bench-commands-"));
  const host = memoryHost();
  const results = new Map<Scenario, Measurement[]>();
  const loadBefore = loadavg()[0]!;
  const started = performance.now();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const scenario of SCENARIOS) {
        const measurement = await runScenario(host, scenario, seconds, directory);
        results.set(scenario, [...(results.get(scenario) ?? []), measurement]);
        console.log(
          `commands: round ${round + 1} ${describe(scenario).padEnd(24)} ${number(measurement.perSecond).padStart(9)} cmd/s  p50 ${ms(measurement.p50Ms)}  p99 ${ms(measurement.p99Ms)}  cpu/cmd ${measurement.clientCpuUs.toFixed(1)} + ${measurement.hostCpuUs?.toFixed(1)} µs`,
        );
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  const markdown = render(results, seconds, rounds, [loadBefore, loadavg()[0]!], (performance.now() - started) / 1000);
  console.log(`\n${markdown}`);
  if (process.env.BENCH_COMMAND_NO_WRITE !== "1") writeSection(markdown);
  return markdown;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === "--client") {
    const [endpoint, kind, inFlight, seconds] = process.argv.slice(3);
    await runClient(endpoint!, kind as ClientKind, Number(inFlight), Number(seconds));
  } else {
    await main();
  }
}
