// Runs the Response conformance suite (test/conformance/cases.mjs, written from the Fetch
// standard) as a child process on each runtime: Node 24 and the system Node with serve()'s fast
// Response and with the native one (fastResponse: false), Bun and Deno with their native classes.
// Every run must give what the standard requires, or the deviation listed for that runtime's
// native class; on each Node the fast and the native runs must be identical, case for case.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CASES, type ConformanceCase as Case, type Outcome, SENT_CASES } from "../conformance/cases.mjs";
import { ROOT, RUNTIMES, type Runtime } from "./runtimes.ts";

const RUNNER = `${ROOT}test/conformance/run.mjs`;

interface Run {
  runtime: string;
  mode: "fast" | "native";
  responseName: string;
  results: Record<string, Outcome>;
  sent: Record<string, Record<string, unknown>>;
}

/** Runs the suite once under `runtime`; bounded by a timeout so a hung child fails the test. */
function runSuite(runtime: Runtime, mode: "fast" | "native"): Run {
  const [command, args] = runtime.command(RUNNER);
  const child = spawnSync(command, [...args, mode], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" },
  });
  const line = child.stdout.trim().split("\n").at(-1) ?? "";
  if (child.status !== 0 || !line.startsWith("{")) {
    throw new Error(`${runtime.name} ${mode}: exit ${child.status ?? child.signal}\n${child.stderr}\n${child.stdout}`);
  }
  return JSON.parse(line) as Run;
}

/** What `run`'s runtime must give for `testCase`: its listed deviation, else the standard's value. */
function wanted(testCase: Case, run: Run): Outcome {
  const deviations = testCase.deviations ?? {};
  const node = run.runtime.startsWith("node") ? deviations.node : undefined;
  return deviations[run.runtime] ?? node ?? testCase.expected;
}

function expectConformance(run: Run) {
  expect(run.responseName).toBe("Response");
  expect(Object.keys(run.results)).toEqual(CASES.map((testCase) => testCase.id));
  for (const testCase of CASES) {
    expect(run.results[testCase.id], `${run.runtime} ${run.mode}: ${testCase.id}`).toEqual(wanted(testCase, run));
  }
}

const nodes = RUNTIMES.filter((runtime) => runtime.name.startsWith("node"));
const others = RUNTIMES.filter((runtime) => !runtime.name.startsWith("node"));

describe.each(nodes)("Response conformance on $name", (runtime) => {
  it("the fast and the native Response give the standard's results, identically", () => {
    const fast = runSuite(runtime, "fast");
    const native = runSuite(runtime, "native");
    expect(fast.mode).toBe("fast");
    expectConformance(native);
    expectConformance(fast);
    expect(fast.results).toEqual(native.results);
    for (const testCase of SENT_CASES) {
      expect(native.sent[testCase.id], `native ${testCase.id}`).toEqual(testCase.expected);
    }
    expect(fast.sent).toEqual(native.sent);
  });
});

describe.each(others)("Response conformance on $name", (runtime) => {
  it("the native Response gives the standard's results or the deviations listed for it", () => {
    const run = runSuite(runtime, "native");
    expectConformance(run);
    for (const testCase of SENT_CASES) {
      const sent = run.sent[testCase.id];
      expect({ status: sent?.status, body: sent?.body }, testCase.id).toEqual({
        status: testCase.expected.status,
        body: testCase.expected.body,
      });
    }
  });
});

describe("the deviation lists", () => {
  it("name only runtimes the suite knows, and never repeat the expected value", () => {
    const known = new Set(["node", "node20", "node22", "node24", "bun", "deno"]);
    for (const testCase of CASES) {
      for (const [runtime, deviation] of Object.entries(testCase.deviations ?? {})) {
        expect(known.has(runtime), `${testCase.id}: ${runtime}`).toBe(true);
        expect(deviation, `${testCase.id}: ${runtime}`).not.toEqual(testCase.expected);
      }
    }
  });
});
