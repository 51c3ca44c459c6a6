/** Spawns the test fixtures under real node, bun and deno processes and talks HTTP to them. */
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { sleep } from "../../src/internal/sleep.ts";
import { BIN, baseEnv, freePort, ROOT, spawnProcess } from "../fixtures/cli/harness.ts";

export { freePort, ROOT };

/** The system Node (>= 20.19) next to the one from node_modules, when it is a different version. */
function systemNode(): string | undefined {
  for (const candidate of ["/usr/local/bin/node", "/usr/bin/node"]) {
    if (!existsSync(candidate)) continue;
    const version = spawnSync(candidate, ["--version"], { encoding: "utf8" }).stdout.trim();
    const bundled = spawnSync(`${BIN}/node`, ["--version"], { encoding: "utf8" }).stdout.trim();
    if (version && version !== bundled) return candidate;
  }
  return undefined;
}

export interface Runtime {
  name: string;
  command: (script: string) => [string, string[]];
}

const node20 = systemNode();

/** node (the repository's Node 24), the system Node when it differs (20), bun and deno. */
export const RUNTIMES: Runtime[] = [
  { name: "node", command: (script) => [`${BIN}/node`, [script]] },
  ...(node20 ? [{ name: "node-system", command: (script: string): [string, string[]] => [node20, [script]] }] : []),
  { name: "bun", command: (script) => [`${BIN}/bun`, ["run", script]] },
  { name: "deno", command: (script) => [`${BIN}/deno`, ["run", "-A", "--quiet", script]] },
];

export interface RunningApp {
  url: string;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** JSON log lines printed so far. */
  jsonLogs(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts `script` under `runtime` with exactly `env` (plus PATH/HOME), without waiting. */
export function spawnApp(runtime: Runtime, script: string, env: Record<string, string>): Omit<RunningApp, "url"> {
  const [command, args] = runtime.command(script);
  const spawned = spawnProcess(command, args, { cwd: ROOT, env: baseEnv(env) });
  const { child, stdout, stderr, exited } = spawned;
  return {
    child,
    stdout,
    stderr,
    exited,
    jsonLogs: () =>
      stdout.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    stop: spawned.kill,
  };
}

/** Waits (bounded) until the app printed `line` on stderr. */
export async function waitForLine(app: RunningApp, line: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!app.stderr.includes(line)) {
    if (Date.now() > deadline) throw new Error(`no "${line}" from the app: ${app.stderr.join("\n")}`);
    await sleep(5);
  }
}

/** Starts `script` and waits until it answers HTTP on its port. */
export async function startApp(
  runtime: Runtime,
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<RunningApp> {
  const port = env.PORT ?? env.CF_CONTAINER_PORT ?? String(await freePort());
  const app = spawnApp(runtime, script, { CF_CONTAINER_ADDR: "127.0.0.1", CF_CONTAINER_PORT: port, ...env });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (app.child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/started`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return { ...app, url };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await app.stop();
  throw new Error(`${runtime.name} ${script} did not start: ${app.stderr.join("\n")} ${app.stdout.join("\n")}`);
}
