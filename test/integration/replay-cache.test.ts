/**
 * Issue 9, item 1: the replay cache's memory per signature, measured inside each runtime. Before
 * the fix the verifier kept a hex string per signature: ~1.6 KB per entry on Node.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ROOT, RUNTIMES, type Runtime } from "./runtimes.ts";

const SCRIPT = `${ROOT}test/fixtures/memory/replay-cache.mjs`;

/** The runtime's command line with its garbage collector exposed, so the heap can be measured. */
function withGc(runtime: Runtime, args: string[]): [string, string[]] {
  const [command, base] = runtime.command(SCRIPT);
  if (runtime.name.startsWith("node")) return [command, ["--expose-gc", ...base, ...args]];
  if (runtime.name === "deno") return [command, ["run", "--v8-flags=--expose-gc", ...base.slice(1), ...args]];
  return [command, [...base, ...args]];
}

function measure(runtime: Runtime, args: string[]): Record<string, number> {
  const [command, argv] = withGc(runtime, args);
  const run = spawnSync(command, argv, { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").pop()!);
}

describe.each(RUNTIMES)("replay cache on $name", (runtime) => {
  it("keeps at most 100 B of heap per remembered signature (300k signatures)", () => {
    const result = measure(runtime, ["300000"]);
    expect(result.accepted).toBe(300_000);
    expect(result.size).toBe(300_000);
    expect(result.heapPerEntry).toBeLessThanOrEqual(100);
  });

  it("end to end: 20k unique signed headers verified cost at most 100 B of heap each", () => {
    const result = measure(runtime, ["20000", "verify"]);
    expect(result.accepted).toBe(20_000);
    expect(result.heapPerEntry).toBeLessThanOrEqual(100);
  });
});
