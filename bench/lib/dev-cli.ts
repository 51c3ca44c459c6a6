/**
 * `containerflare dev` as a child process for the benchmarks: the real CLI from dist/ on the
 * repository's Node, an app copied into the repository's .tmp directory (so that
 * `import "containerflare"` resolves to the package itself), its app process found in /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../src/cli/dev/ports.ts";
import { findDescendant } from "./proctree.ts";

/** A running `containerflare dev`. */
export interface DevCli {
  child: ChildProcess;
  /** The dev port: what a browser (or wrk) talks to. */
  url: string;
  /** Every line it printed (stdout and stderr). */
  output: string[];
  /** The app process (the runtime running the entry), found among the CLI's descendants. */
  appPid(): number | undefined;
  /** Resolves with the CLI's exit code (or the signal that ended it). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Options of {@link startDevCli}. */
export interface DevCliOptions {
  root: string;
  /** Directory with the app's files (entry and wrangler.jsonc). */
  directory: string;
  entry: string;
  runtime?: "node" | "bun" | "deno";
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Extra arguments of `containerflare dev`. */
  args?: string[];
  /** Watch the app's files (default false: `--no-watch`). */
  watch?: boolean;
  /**
   * The CLI's working directory (default `root`): it finds the runtime in `node_modules/.bin`
   * from there up, then on PATH, so a directory outside the repository runs PATH's Node.
   */
  cwd?: string;
}

/** Copies `files` of `source` (default: every file, no directories) into a fresh `<root>/.tmp/<name>/`. */
export function copyApp(root: string, source: string, name: string, files?: readonly string[]): string {
  const directory = join(root, ".tmp", name);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  const names =
    files ??
    readdirSync(source, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);
  for (const file of names) copyFileSync(join(source, file), join(directory, file));
  return directory;
}

/** How many ports {@link startDevCli} tries before it gives up. */
const PORT_ATTEMPTS = 3;

/** The CLI's one line for a port something else took. */
const PORT_IN_USE = /is in use: pass --port/;

/**
 * Starts `containerflare dev <directory>/<entry> --no-watch` and waits for its "ready on" line.
 * The port is one the OS handed out a moment before, so another process (another test's, or an
 * outgoing connection's local port) may take it first: the CLI then says so and exits, and it is
 * started again on another port, up to {@link PORT_ATTEMPTS} times.
 */
export async function startDevCli(options: DevCliOptions): Promise<DevCli> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevCliOn(await freePort(), options);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !PORT_IN_USE.test((error as Error).message)) throw error;
    }
  }
}

/** {@link startDevCli} on `port`, once. */
async function startDevCliOn(port: number, options: DevCliOptions): Promise<DevCli> {
  const node = join(options.root, "node_modules", ".bin", "node");
  const child = spawn(
    node,
    [
      join(options.root, "dist", "src", "cli", "index.js"),
      "dev",
      join(options.directory, options.entry),
      "--runtime",
      options.runtime ?? "node",
      "--port",
      String(port),
      "--persist",
      join(options.directory, ".state"),
      ...(options.watch ? [] : ["--no-watch"]),
      ...(options.args ?? []),
    ],
    {
      cwd: options.cwd ?? options.root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      output.push(...chunk.split("\n").filter(Boolean));
      if (output.length > 2_000) output.splice(0, output.length - 1_000);
    });
  }
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const dev: DevCli = {
    child,
    url: `http://127.0.0.1:${port}`,
    output,
    appPid: () => findDescendant(child.pid!, options.directory),
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!output.some((line) => line.includes("ready on"))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await dev.stop();
      throw new Error(`containerflare dev did not get ready: ${output.slice(-8).join(" | ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return dev;
}
