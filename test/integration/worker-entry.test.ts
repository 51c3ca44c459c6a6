/**
 * `containerflare/worker` resolves everywhere: in a Worker bundle (the `workerd`/`worker`
 * conditions) it is the whole entry, `ContainerflareHost` included, which extends workerd's own
 * `cloudflare:workers`; on Node (24 and the machine's 20), Bun and Deno (the `node` condition) it
 * is the same entry without that class, so tests and tools outside workerd can import it.
 */
import { spawnSync } from "node:child_process";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { WORKER_BUILD_OPTIONS } from "../../src/cli/dev/bundle.ts";
import { requireBuiltCli } from "../fixtures/cli/harness.ts";
import { ROOT, RUNTIMES } from "./runtimes.ts";

describe.each(RUNTIMES)("containerflare/worker on $name", (runtime) => {
  it("imports without workerd's cloudflare:workers: everything but ContainerflareHost", () => {
    requireBuiltCli();
    const [command, args] = runtime.command(`${ROOT}test/fixtures/worker/import-entry.mjs`);
    const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toEqual({
      ContainerflareHost: false,
      forward: "function",
      commandHandler: "function",
      containerflareContainer: "function",
    });
  });
});

describe("containerflare/worker in a Worker bundle", () => {
  it("is the whole entry, ContainerflareHost and its cloudflare:workers import included", async () => {
    requireBuiltCli();
    const result = await build({
      ...WORKER_BUILD_OPTIONS,
      absWorkingDir: ROOT,
      metafile: true,
      stdin: {
        contents: 'export { ContainerflareHost, forward } from "containerflare/worker";',
        resolveDir: ROOT,
        loader: "js",
      },
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("dist/src/worker/index.js");
    expect(inputs).not.toContain("dist/src/worker/portable.js");
    expect(result.outputFiles[0]!.text).toMatch(/from "cloudflare:workers"/);
  });
});
