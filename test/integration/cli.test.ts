// The `containerflare` bin: help, one-line errors, and `serve` under node, bun and deno.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BIN,
  baseEnv,
  CLI,
  freePort,
  platformKind,
  ROOT,
  requireBuiltCli,
  runToEnd,
  spawnProcess,
  terminate,
  waitForHttp,
} from "../fixtures/cli/harness.ts";

const NODE = `${BIN}/node`;
const FIXTURES = `${ROOT}test/fixtures/cli`;

function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; node?: string } = {}) {
  return runToEnd(options.node ?? NODE, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? baseEnv(),
    timeoutMs: 30_000,
  });
}

/** Asserts a failure printed exactly one `containerflare: …` line (no stack trace) and exited 1. */
function expectOneLineError(result: { status: number | string; stdout: string; stderr: string }, pattern: RegExp) {
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^containerflare: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stdout.trim()).toBe("");
  expect(result.status).toBe(1);
}

beforeAll(() => requireBuiltCli());

describe("containerflare --help", () => {
  it.each([[[]], [["--help"]], [["serve", "--help"]], [["build", "--help"]], [["build", "-h"]]])(
    "containerflare %j prints usage and exits 0",
    async (args) => {
      const result = await cli(args);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/USAGE/);
      const command = args.find((arg) => !arg.startsWith("-"));
      expect(result.stdout).toContain(command ? `containerflare ${command}` : "containerflare serve|build");
    },
  );

  it("--version prints the package version", async () => {
    const result = await cli(["--version"]);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("containerflare errors: one line, exit 1", () => {
  let empty: string;
  beforeAll(() => {
    empty = mkdtempSync(join(tmpdir(), "cf-cli-"));
  });
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it("an entry that does not exist", async () => {
    expectOneLineError(await cli(["serve", "missing/app.ts"]), /entry not found: missing\/app\.ts/);
    expectOneLineError(await cli(["build", "missing/app.ts"]), /entry not found: missing\/app\.ts/);
  });

  it("no entry at all", async () => {
    expectOneLineError(await cli(["serve"]), /missing required positional argument: ENTRY/i);
  });

  it.each(["node", "bun", "deno"])("an entry without a default export, served on %s", async (runtime) => {
    expectOneLineError(
      await cli(["serve", "test/fixtures/cli/no-handler.ts", "--runtime", runtime]),
      /test\/fixtures\/cli\/no-handler\.ts has no default export: expected "export default/,
    );
  });

  it("a default export that is not a handler", async () => {
    expectOneLineError(
      await cli(["serve", "test/fixtures/cli/not-a-handler.mjs"]),
      /default export of test\/fixtures\/cli\/not-a-handler\.mjs is an object without a fetch, scheduled or queue method/,
    );
  });

  it("an entry without a default export, bundled", async () => {
    expectOneLineError(
      await cli(["build", "test/fixtures/cli/no-handler.ts", "--out", join(empty, "out")]),
      /no-handler\.ts has no default export/,
    );
    expect(existsSync(join(empty, "out", "server.mjs"))).toBe(false);
  });

  it("an unknown runtime", async () => {
    expectOneLineError(
      await cli(["serve", "test/fixtures/cli/app.ts", "--runtime", "python"]),
      /unknown runtime "python": expected node, bun, deno/,
    );
  });

  it("a runtime that is not installed", async () => {
    // Neither node_modules/.bin (empty directory) nor PATH (only node's own directory) has deno.
    const realNode = spawnSync(NODE, ["-p", "process.execPath"], { encoding: "utf8" }).stdout.trim();
    const result = await cli(["serve", `${FIXTURES}/app.ts`, "--runtime", "deno"], {
      cwd: empty,
      env: baseEnv({ PATH: dirname(realNode) }),
      node: realNode,
    });
    expectOneLineError(result, /deno is not installed: no "deno" executable in node_modules\/\.bin or on PATH/);
  });

  it("an unknown command and a bad port", async () => {
    expectOneLineError(await cli(["launch", "app.ts"]), /unknown command launch/i);
    expectOneLineError(await cli(["serve", "test/fixtures/cli/app.ts", "--port", "http"]), /invalid port "http"/);
  });
});

const SERVE_RUNTIMES = [
  { runtime: "node", adapter: "node" },
  { runtime: "bun", adapter: "bun" },
  { runtime: "deno", adapter: "deno" },
] as const;

describe.each(SERVE_RUNTIMES)("containerflare serve --runtime $runtime", ({ runtime, adapter }) => {
  it("serves a TypeScript entry with the Cloud Run env and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const env = baseEnv({
      PORT: String(port),
      K_SERVICE: "api",
      K_REVISION: "api-00001-abc",
      CF_CONTAINER_ADDR: "127.0.0.1",
    });
    const server = spawnProcess(NODE, [CLI, "serve", "test/fixtures/cli/app.ts", "--runtime", runtime], {
      cwd: ROOT,
      env,
    });
    try {
      const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
      const body = (await response.json()) as { adapter?: string; platform: { cloudRun?: unknown } };
      expect(platformKind(body)).toBe("cloud-run");
      expect(body.platform.cloudRun).toMatchObject({ service: "api", revision: "api-00001-abc" });
      // The runtime's own srvx adapter served the request.
      expect(body.adapter).toBe(adapter);
      expect(await terminate(server), server.stderr.join("\n")).toBe(0);
      // No compiled module is left beside the entry.
      expect(existsSync(`${FIXTURES}/.containerflare`)).toBe(false);
    } finally {
      await server.kill();
    }
  });
});

describe.each([
  { cli: "deno", command: [`${BIN}/deno`, "run", "-A", CLI], runtime: "node" },
  { cli: "bun", command: [`${BIN}/bun`, CLI], runtime: "bun" },
])("the CLI itself on $cli, serving on $runtime", ({ command, runtime }) => {
  it("serves, forwards SIGTERM and exits 0", async () => {
    const port = await freePort();
    const env = baseEnv({ PORT: String(port), CF_CONTAINER_ADDR: "127.0.0.1", K_SERVICE: "api" });
    const server = spawnProcess(
      command[0]!,
      [...command.slice(1), "serve", "test/fixtures/cli/app.ts", "--runtime", runtime],
      { cwd: ROOT, env },
    );
    try {
      const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
      expect(((await response.json()) as { adapter?: string }).adapter).toBe(runtime);
      expect(await terminate(server), server.stderr.join("\n")).toBe(0);
    } finally {
      await server.kill();
    }
  });
});

describe("containerflare serve options", () => {
  it("--port wins over PORT; an object with fetch is an app", async () => {
    const [port, ignored] = [await freePort(), await freePort()];
    const env = baseEnv({ PORT: String(ignored), CF_CONTAINER_ADDR: "127.0.0.1" });
    const server = spawnProcess(
      NODE,
      [CLI, "serve", "test/fixtures/cli/fetch-object.mjs", "--runtime", "bun", "--port", String(port)],
      {
        cwd: ROOT,
        env,
      },
    );
    try {
      const { response } = await waitForHttp(`http://127.0.0.1:${port}/hello`, server);
      expect(await response.text()).toBe("object app: /hello");
      expect(await terminate(server)).toBe(0);
    } finally {
      await server.kill();
    }
  });

  const systemNode = ["/usr/local/bin/node", "/usr/bin/node"].find(
    (path) => existsSync(path) && /^v20\./.test(spawnSync(path, ["--version"], { encoding: "utf8" }).stdout),
  );
  it.runIf(systemNode)("serves a TypeScript entry on Node 20, which cannot strip types", async () => {
    const port = await freePort();
    const env = baseEnv({ PORT: String(port), CF_CONTAINER_ADDR: "127.0.0.1", CLOUDFLARE_APPLICATION_ID: "app-1" });
    const server = spawnProcess(systemNode!, [CLI, "serve", "test/fixtures/cli/app.ts"], { cwd: ROOT, env });
    try {
      const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
      expect(platformKind(await response.json())).toBe("cloudflare");
      expect(await terminate(server)).toBe(0);
    } finally {
      await server.kill();
    }
  });
});
