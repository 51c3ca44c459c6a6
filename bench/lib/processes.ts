/**
 * Child server processes of the benchmark: spawn on a free loopback port, wait for the first
 * 200, read RSS, and kill every child on the way out (also on errors and signals).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../src/cli/dev/ports.ts";

/** The expected answer of every hello-world app. */
export const HELLO = "Hello, world!";

const LOOPBACK = "127.0.0.1";
const children = new Set<ChildProcess>();

/** A running server child. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Milliseconds from spawn() to the first 200 with the expected body. */
  startupMs: number;
  /** `bench:` lines the app printed on stdout (e.g. which adapter it used). */
  notes: string[];
}

/** How to start one server. */
export interface SpawnSpec {
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
  /** Upper bound on the wait for the first 200. */
  startTimeoutMs?: number;
}

/** A free loopback port (closed again before the child binds it): the CLI's own helper. */
export { freePort };

/** Spawns a server on a free port and resolves once it answered 200 "Hello, world!". */
export async function startServer(spec: SpawnSpec): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}/`;
  const env = {
    ...process.env,
    PORT: String(port),
    CF_CONTAINER_ADDR: LOOPBACK,
    CONTAINERFLARE_LOG_LEVEL: "warn",
    DENO_NO_UPDATE_CHECK: "1",
    DENO_NO_PROMPT: "1",
    NO_COLOR: "1",
    ...spec.env,
  };
  const started = performance.now();
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));

  const notes: string[] = [];
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
    for (const line of chunk.toString().split("\n")) if (line.startsWith("bench:")) notes.push(line.slice(6).trim());
  });
  child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${signal ?? code}`));
  child.once("error", (error) => (exited = `failed to spawn: ${error.message}`));

  const deadline = started + (spec.startTimeoutMs ?? 20_000);
  try {
    while (true) {
      if (exited) throw new Error(`${exited}`);
      if (performance.now() > deadline) throw new Error(`no 200 within ${spec.startTimeoutMs ?? 20_000} ms`);
      const answer = await probeOnce(url);
      if (answer?.status === 200) {
        if (answer.body !== HELLO)
          throw new Error(`answered 200 with body ${JSON.stringify(answer.body.slice(0, 80))}`);
        return { child, pid: child.pid!, port, url, startupMs: performance.now() - started, notes };
      }
      if (answer) throw new Error(`answered ${answer.status} instead of 200`);
      await sleep(2);
    }
  } catch (error) {
    await stopServer(child);
    const reason = explainOutput(output);
    throw new Error(`${(error as Error).message}${reason ? ` — ${reason}` : ""}`);
  }
}

/** The line of a failed child's output that says why (its first error line, else its last line). */
function explainOutput(output: string): string {
  const lines = output
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const line = lines.find((l) => /\b\w*error\b/i.test(l)) ?? lines.at(-1) ?? "";
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** One GET on a fresh connection; undefined while nothing listens yet. */
function probeOnce(url: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/** Resident set size of a process in MiB from /proc (Linux only); NaN elsewhere. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib ? Number(kib) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const clockTicks =
  Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5_000 }).stdout?.trim()) || 100;

/**
 * CPU time (user + system, all threads) a process has used so far, in seconds, from
 * /proc/<pid>/stat (Linux only); NaN elsewhere. Unlike req/s it barely moves when other jobs
 * compete for the cores, which makes it the steadier comparison on a shared machine.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which sits in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** SIGTERM, then SIGKILL after a short grace period; resolves once the child is gone. */
export async function stopServer(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Stops every child still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stopServer(child)));
}

/** Last-resort cleanup: SIGKILL every child synchronously (process "exit" handlers cannot wait). */
export function killAllNow(): void {
  for (const child of children) child.kill("SIGKILL");
}
