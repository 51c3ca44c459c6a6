// `containerflare build`: one server.mjs that runs alone (no node_modules) under node, bun and deno
// and behaves as the same app on Cloud Run and on Cloudflare.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../../src/internal/sleep.ts";
import {
  BIN,
  baseEnv,
  basicApp,
  CLI,
  freePort,
  platformKind,
  portInUse,
  ROOT,
  requireBuiltCli,
  runToEnd,
  type Spawned,
  spawnProcess,
  terminate,
  waitForHttp,
} from "../fixtures/cli/harness.ts";

interface BundleRuntime {
  name: string;
  /** srvx adapter the bundle must pick on this runtime. */
  adapter: string;
  command: [string, string[]];
}

const systemNode = ["/usr/local/bin/node", "/usr/bin/node"].find(
  (path) => existsSync(path) && /^v20\./.test(spawnSync(path, ["--version"], { encoding: "utf8" }).stdout),
);

const RUNTIMES: BundleRuntime[] = [
  { name: "node", adapter: "node", command: [`${BIN}/node`, ["server.mjs"]] },
  ...(systemNode
    ? [{ name: "node 20", adapter: "node", command: [systemNode, ["server.mjs"]] as [string, string[]] }]
    : []),
  { name: "bun", adapter: "bun", command: [`${BIN}/bun`, ["server.mjs"]] },
  { name: "deno", adapter: "deno", command: [`${BIN}/deno`, ["run", "-A", "server.mjs"]] },
];

const APP = basicApp();
const CLOUDFLARE_ENV = {
  CLOUDFLARE_APPLICATION_ID: "app-0123",
  CLOUDFLARE_DURABLE_OBJECT_ID: "do-4567",
  CLOUDFLARE_DEPLOYMENT_ID: "dep-89ab",
  CLOUDFLARE_LOCATION: "fra06",
  CLOUDFLARE_REGION: "WEUR",
  CLOUDFLARE_COUNTRY_A2: "DE",
};
const LOGS = { CONTAINERFLARE_LOG_FORMAT: "json" };

let work: string;
let alone: string;
let bundleBytes = 0;
const coldStarts: string[] = [];

beforeAll(async () => {
  requireBuiltCli();
  work = mkdtempSync(join(tmpdir(), "cf-bundle-"));
  const built = await runToEnd(`${BIN}/node`, [CLI, "build", relative(ROOT, APP), "--out", join(work, "out")], {
    cwd: ROOT,
    env: baseEnv(),
  });
  expect(built.status, built.stderr).toBe(0);
  // The bundle alone in an empty directory: nothing to resolve from, no node_modules above it.
  alone = join(work, "alone");
  mkdirSync(alone);
  copyFileSync(join(work, "out", "server.mjs"), join(alone, "server.mjs"));
  bundleBytes = statSync(join(alone, "server.mjs")).size;
}, 60_000);

afterAll(() => {
  console.log(
    `bundle of ${relative(ROOT, APP)}: ${(bundleBytes / 1024).toFixed(1)} kB; cold start (spawn → first response): ${coldStarts.join(", ")}`,
  );
  if (work) rmSync(work, { recursive: true, force: true });
});

function start(runtime: BundleRuntime, env: Record<string, string>): Spawned {
  const [command, args] = runtime.command;
  return spawnProcess(command, args, { cwd: alone, env: baseEnv({ CF_CONTAINER_ADDR: "127.0.0.1", ...LOGS, ...env }) });
}

/** The runtime named in serve()'s start-up line: `listening on URL (<runtime>, platform <kind>)`. */
function servedBy(server: Spawned): string | undefined {
  return server.stdout.join("\n").match(/listening on \S+ \((\w+), platform/)?.[1];
}

describe("the bundle has no dependencies left", () => {
  it("is one file whose only imports are node: built-ins", async () => {
    expect(readdirSync(join(work, "out"))).toEqual(["server.mjs"]);
    // Re-bundling it from its empty directory resolves every import it has: only built-ins may remain.
    const result = await build({
      entryPoints: [join(alone, "server.mjs")],
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      metafile: true,
      outfile: join(work, "rebundled.mjs"),
      logLevel: "silent",
    });
    const imports = Object.values(result.metafile.outputs).flatMap((output) =>
      output.imports.map((entry) => entry.path),
    );
    expect(imports.length).toBeGreaterThan(0);
    for (const specifier of imports) expect(specifier).toMatch(/^node:/);
  });
});

describe.each(RUNTIMES)("server.mjs on $name", (runtime) => {
  it("Cloud Run: reports cloud-run, answers on PORT, exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const server = start(runtime, {
      PORT: String(port),
      K_SERVICE: "shop",
      K_REVISION: "shop-00042-xyz",
      K_CONFIGURATION: "shop",
    });
    try {
      const { response, ms } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
      coldStarts.push(`${runtime.name} ${Math.round(ms)} ms`);
      expect(response.status).toBe(200);
      expect(platformKind(await response.json())).toBe("cloud-run");
      expect(servedBy(server)).toBe(runtime.adapter);
      expect(await terminate(server), server.stderr.join("\n")).toBe(0);
    } finally {
      await server.kill();
    }
  });

  it("Cloudflare: reports cloudflare, answers on CF_CONTAINER_PORT, exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const server = start(runtime, { ...CLOUDFLARE_ENV, CF_CONTAINER_PORT: String(port) });
    try {
      const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
      expect(platformKind(await response.json())).toBe("cloudflare");
      expect(servedBy(server)).toBe(runtime.adapter);
      expect(await terminate(server), server.stderr.join("\n")).toBe(0);
    } finally {
      await server.kill();
    }
  });
});

describe("server.mjs without a port variable", () => {
  it("listens on 8787 on Cloudflare", async () => {
    // 8787 is shared by everything on this machine: wait (bounded) until nobody else holds it.
    const deadline = Date.now() + 30_000;
    while ((await portInUse(8787)) && Date.now() < deadline) await sleep(250);
    expect(await portInUse(8787), "port 8787 stayed busy for 30 s").toBe(false);

    const server = start(RUNTIMES[0]!, CLOUDFLARE_ENV);
    try {
      const { response } = await waitForHttp("http://127.0.0.1:8787/", server);
      expect(platformKind(await response.json())).toBe("cloudflare");
      expect(await terminate(server)).toBe(0);
    } finally {
      await server.kill();
    }
  });
});

const EXAMPLES = existsSync(`${ROOT}examples`)
  ? readdirSync(`${ROOT}examples`).filter(
      (name) => existsSync(`${ROOT}examples/${name}/app.ts`) && `${ROOT}examples/${name}/app.ts` !== APP,
    )
  : [];

describe.each(EXAMPLES)("examples/%s bundled", (example) => {
  it.each(RUNTIMES.filter((runtime) => runtime.name === "bun" || runtime.name === "deno"))(
    "serves GET / on $name from an empty directory",
    async (runtime) => {
      const directory = join(work, `example-${example}-${runtime.name}`);
      const built = await runToEnd(`${BIN}/node`, [CLI, "build", `examples/${example}/app.ts`, "--out", directory], {
        cwd: ROOT,
        env: baseEnv(),
      });
      expect(built.status, built.stderr).toBe(0);
      const port = await freePort();
      const [command, args] = runtime.command;
      const server = spawnProcess(command, args, {
        cwd: directory,
        env: baseEnv({ CF_CONTAINER_ADDR: "127.0.0.1", ...LOGS, PORT: String(port), K_SERVICE: "ex" }),
      });
      try {
        const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, server);
        expect(platformKind(await response.json())).toBe("cloud-run");
        expect(servedBy(server)).toBe(runtime.adapter);
        expect(await terminate(server)).toBe(0);
      } finally {
        await server.kill();
      }
    },
  );
});
