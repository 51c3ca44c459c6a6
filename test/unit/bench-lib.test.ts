import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { onCores } from "../../bench/lib/cores.ts";
import { LatencyHistogram } from "../../bench/lib/histogram.ts";
import { comparisons, measurePairs } from "../../bench/lib/pairs.ts";
import type { ServerProcess } from "../../bench/lib/processes.ts";
import { compare, evaluateTargets } from "../../bench/lib/report.ts";
import { emptyResult } from "../../bench/lib/results.ts";
import { readSettings, readWebSocketSettings } from "../../bench/lib/settings.ts";
import { TARGETS, VARIANTS } from "../../bench/lib/variants.ts";

describe("LatencyHistogram (bench/lib/histogram.ts)", () => {
  it("is exact below 64 µs", () => {
    const histogram = new LatencyHistogram();
    for (let value = 1; value <= 50; value++) histogram.record(value + 0.7);
    expect(histogram.count).toBe(50);
    expect(histogram.percentile(0.5)).toBe(25);
    expect(histogram.percentile(1)).toBe(50);
    expect(histogram.percentile(0)).toBe(1);
    expect(histogram.max).toBe(50);
    expect(histogram.mean()).toBe(25.5);
  });

  it("keeps every percentile within 1/64 of the true value, in a fixed number of counters", () => {
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    let seed = 7;
    for (let index = 0; index < 100_000; index++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const value = Math.floor(2 ** ((seed / 2 ** 31) * 24));
      values.push(value);
      histogram.record(value);
    }
    values.sort((a, b) => a - b);
    for (const fraction of [0.01, 0.5, 0.9, 0.99, 0.999]) {
      const exact = values[Math.ceil(fraction * values.length) - 1]!;
      const estimate = histogram.percentile(fraction);
      expect(estimate).toBeGreaterThanOrEqual(exact);
      expect(estimate - exact).toBeLessThanOrEqual(exact / 64 + 1);
    }
    expect(histogram.percentile(1)).toBe(values.at(-1));
    // As many counters after 100,000 values as before the first.
    expect(histogram.counts.length).toBe(new LatencyHistogram().counts.length);
  });

  it("clamps what it cannot hold and is NaN when empty", () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentile(0.99)).toBeNaN();
    expect(histogram.mean()).toBeNaN();
    histogram.record(-5);
    histogram.record(2 ** 40);
    expect(histogram.count).toBe(2);
    expect(histogram.percentile(0.5)).toBe(0);
    expect(histogram.percentile(1)).toBe(0xffff_ffff);
  });
});

describe("readSettings (bench/lib/settings.ts)", () => {
  it("has the documented defaults and reads the list of variants", () => {
    expect(readSettings({})).toEqual({
      rounds: 7,
      pairRounds: 11,
      durationSeconds: 3,
      warmupSeconds: 2,
      connections: 50,
      threads: 1,
      coldRuns: 7,
      only: [],
      write: true,
    });
    expect(readSettings({ BENCH_ONLY: " node-cf, ,bun-cf", BENCH_WRITE: "0" })).toMatchObject({
      only: ["node-cf", "bun-cf"],
      write: false,
    });
  });

  it("names a bad variable, its value and what it expects, in one line", () => {
    expect(() => readSettings({ BENCH_ROUNDS: "0" })).toThrow(
      'BENCH_ROUNDS="0" is invalid: expected a positive whole number within bounds',
    );
    expect(() => readSettings({ BENCH_WRITE: "yes" })).toThrow('BENCH_WRITE="yes" is invalid: expected "0" or "1"');
  });
});

describe("readWebSocketSettings (bench/lib/settings.ts)", () => {
  it("has the documented defaults", () => {
    expect(readWebSocketSettings({})).toEqual({
      rounds: 5,
      durationSeconds: 8,
      sliceMs: 1000,
      warmupSeconds: 2,
      sockets: 64,
      messageBytes: 64,
      runtimes: ["node", "bun", "deno"],
      client: "raw",
      write: true,
    });
  });

  it("reads every knob", () => {
    const settings = readWebSocketSettings({
      BENCH_WS_ROUNDS: "3",
      BENCH_WS_SECONDS: "4",
      BENCH_WS_SLICE_MS: "500",
      BENCH_WS_WARMUP: "1",
      BENCH_WS_SOCKETS: "16",
      BENCH_WS_MESSAGE_BYTES: "1024",
      BENCH_WS_RUNTIMES: " deno, node ,deno",
      BENCH_WS_CLIENT: "websocket",
      BENCH_WRITE: "0",
    });
    expect(settings).toEqual({
      rounds: 3,
      durationSeconds: 4,
      sliceMs: 500,
      warmupSeconds: 1,
      sockets: 16,
      messageBytes: 1024,
      runtimes: ["deno", "node"],
      client: "websocket",
      write: false,
    });
  });

  it("names the variable it cannot use", () => {
    expect(() => readWebSocketSettings({ BENCH_WS_ROUNDS: "0" })).toThrow(/^BENCH_WS_ROUNDS="0" is invalid/);
    expect(() => readWebSocketSettings({ BENCH_WS_SOCKETS: "2000" })).toThrow(/^BENCH_WS_SOCKETS=/);
    expect(() => readWebSocketSettings({ BENCH_WS_RUNTIMES: "node,workerd" })).toThrow(
      /^BENCH_WS_RUNTIMES="node,workerd" is invalid: expected a comma-separated list of node, bun, deno/,
    );
    expect(() => readWebSocketSettings({ BENCH_WS_RUNTIMES: " , " })).toThrow(/^BENCH_WS_RUNTIMES=/);
    expect(() => readWebSocketSettings({ BENCH_WS_SLICE_MS: "50" })).toThrow(/milliseconds from 100 to 60000/);
    expect(() => readWebSocketSettings({ BENCH_WS_CLIENT: "ws" })).toThrow(/"raw" or "websocket"/);
  });
});

describe("onCores (bench/lib/cores.ts)", () => {
  it("runs the command through taskset on the given cores, or as it is", () => {
    expect(onCores(undefined, "wrk", ["-t1"])).toEqual(["wrk", ["-t1"]]);
    expect(onCores("1", "wrk", ["-t1", "http://127.0.0.1/"])).toEqual([
      "taskset",
      ["-c", "1", "wrk", "-t1", "http://127.0.0.1/"],
    ]);
  });
});

describe("comparisons and compare (bench/lib/pairs.ts, bench/lib/report.ts)", () => {
  const round = (requestsPerSecond: number, serverCpuUsPerRequest: number) => ({
    requestsPerSecond,
    requests: requestsPerSecond * 3,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    serverCpuUsPerRequest,
  });
  const variant = (id: string, rounds: ReturnType<typeof round>[]) => ({
    ...emptyResult(VARIANTS.find((v) => v.id === id)!),
    rounds,
  });
  const variants = [
    variant("node-http", [round(100, 10), round(200, 5), round(100, 10)]),
    variant("node-cf", [round(90, 11), round(100, 10), round(95, 10.5)]),
  ];

  it("measures each comparison on fresh processes, and stops what it started when a start fails", async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    const logged: string[] = [];
    const pairs = await measurePairs(
      {
        ids: new Set(["node-cf", "node-http"]),
        async start(id) {
          if (id === "node-http") throw new Error("port taken");
          started.push(id);
          return { pid: 0, url: "http://127.0.0.1:9/" } as ServerProcess;
        },
        async stop(server) {
          stopped.push(server.url);
        },
      },
      "wrk-that-is-never-run",
      readSettings({}),
      undefined,
      (line) => logged.push(line),
    );
    // Only the comparison whose two variants can be started; the Node target here.
    expect(pairs).toEqual([
      { subject: "node-cf", reference: "node-http", rounds: [], failure: "failed to start: port taken" },
    ]);
    expect(started).toEqual(["node-cf"]);
    expect(stopped).toEqual(["http://127.0.0.1:9/"]);
    expect(logged).toEqual(["node-cf vs node-http: failed to start: port taken"]);
  });

  it("runs every paired round on two fresh processes, warmed up alone, and stops both after it", async () => {
    // A stand-in wrk: prints a report with the request rate of the port it is pointed at.
    const dir = mkdtempSync(join(tmpdir(), "cf-bench-"));
    const wrk = join(dir, "wrk");
    writeFileSync(
      wrk,
      '#!/bin/sh\nfor a; do url="$a"; done\nport=$(echo "$url" | sed "s/.*://; s/\\///g")\n' +
        'echo "  $((port * 3)) requests in 3.00s, 1 MB read"\necho "Requests/sec: $port"\n',
    );
    chmodSync(wrk, 0o755);
    const events: string[] = [];
    let nextPort = 100;
    try {
      const pairs = await measurePairs(
        {
          ids: new Set(["node-cf", "node-http"]),
          async start(id) {
            // node-cf answers 90 req/s, node-http 100: every round's ratio is 0.9.
            const port = id === "node-cf" ? 90 : 100;
            events.push(`start ${id} #${nextPort}`);
            return {
              pid: nextPort++,
              url: `http://127.0.0.1:${port}/`,
              child: { exitCode: null, signalCode: null },
            } as never;
          },
          async stop(server) {
            events.push(`stop #${server.pid}`);
          },
        },
        wrk,
        { ...readSettings({}), pairRounds: 2, warmupSeconds: 0, durationSeconds: 0 },
        undefined,
        () => {},
      );
      const nodeTarget = pairs.find((p) => p.subject === "node-cf" && p.reference === "node-http");
      expect(nodeTarget?.failure).toBeUndefined();
      expect(nodeTarget?.rounds.map((r) => r.subjectRequestsPerSecond / r.referenceRequestsPerSecond)).toEqual([
        0.9, 0.9,
      ]);
      // Two rounds, each with its own two processes, both stopped before the next round starts.
      expect(events.slice(0, 8)).toEqual([
        "start node-cf #100",
        "start node-http #101",
        "stop #100",
        "stop #101",
        "start node-cf #102",
        "start node-http #103",
        "stop #102",
        "stop #103",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists every target first, then the other ratios, each once, the control among them", () => {
    const all = comparisons();
    expect(all.slice(0, TARGETS.length)).toEqual(TARGETS.map(({ subject, reference }) => ({ subject, reference })));
    expect(new Set(all.map((c) => `${c.subject}/${c.reference}`)).size).toBe(all.length);
    expect(all).toContainEqual({ subject: "node-http-twin", reference: "node-http" });
  });

  it("takes a comparison from its paired rounds: the median of the per-round ratios", () => {
    const pairs = [
      {
        subject: "node-cf",
        reference: "node-http",
        rounds: [
          {
            subjectRequestsPerSecond: 45,
            referenceRequestsPerSecond: 50,
            subjectCpuUsPerRequest: 22,
            referenceCpuUsPerRequest: 20,
          },
          {
            subjectRequestsPerSecond: 40,
            referenceRequestsPerSecond: 50,
            subjectCpuUsPerRequest: 25,
            referenceCpuUsPerRequest: 20,
          },
          {
            subjectRequestsPerSecond: 47,
            referenceRequestsPerSecond: 50,
            subjectCpuUsPerRequest: 21,
            referenceCpuUsPerRequest: 20,
          },
        ],
      },
    ];
    const paired = compare({ variants, pairs }, "node-cf", "node-http");
    expect(paired.method).toBe("paired");
    expect(paired.ratio).toBeCloseTo(0.9);
    expect(paired.cpuRatio).toBeCloseTo(20 / 22);
    expect(paired.perRound).toHaveLength(3);
    const [node] = evaluateTargets({ variants, pairs }).filter((t) =>
      t.description.startsWith("Node.js: containerflare serve()"),
    );
    expect(node).toMatchObject({ verdict: "PASS", detail: "paired, 3 rounds" });
  });

  it("falls back to the sequential rounds of an older run, and has no ratio for a failed pair", () => {
    const sequential = compare({ variants }, "node-cf", "node-http");
    expect(sequential.method).toBe("sequential");
    expect(sequential.ratio).toBeCloseTo(0.9);
    const failed = compare(
      { variants, pairs: [{ subject: "node-cf", reference: "node-http", rounds: [], failure: "wrk failed" }] },
      "node-cf",
      "node-http",
    );
    expect(failed.ratio).toBeNaN();
  });
});
