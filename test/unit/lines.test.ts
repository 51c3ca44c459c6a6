/**
 * The JSON-lines splitter under hostile chunking: memory within about twice the partial line
 * whatever the chunk sizes (issue 9, item 3), identical lines for every chunking, and a byte
 * budget shared by several splitters.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createByteBudget, createLineSplitter, type LineSplitterOptions } from "../../src/protocol/lines.ts";

const NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url));
const LINES_MODULE = fileURLToPath(new URL("../../src/protocol/lines.ts", import.meta.url));
const MiB = 1024 * 1024;
const encoder = new TextEncoder();

function recorder(options: Partial<LineSplitterOptions> = {}) {
  const events: string[] = [];
  const splitter = createLineSplitter({
    maxLineBytes: 1024,
    onLine: (line) => events.push(`line ${line}`),
    onOversized: (prefix, bytes) => events.push(`oversized ${bytes} ${prefix.slice(0, 20)}`),
    onRefused: (prefix, bytes) => events.push(`refused ${bytes} ${prefix.slice(0, 20)}`),
    ...options,
  });
  return { events, splitter };
}

/** A small deterministic PRNG (mulberry32): chunk sizes that are random but the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("createLineSplitter memory", () => {
  it("holds a 4 MiB partial line fed in 1-byte chunks in one buffer of at most twice its size", () => {
    const { splitter } = recorder({ maxLineBytes: 16 * MiB });
    const byte = new Uint8Array([0x61]);
    let worst = 0;
    for (let sent = 1; sent <= 4 * MiB; sent++) {
      splitter.push(byte);
      // Sampled: past the 256-byte minimum the capacity never exceeds twice the partial line.
      if ((sent & 0xfff) === 0) worst = Math.max(worst, splitter.retained / splitter.buffered);
    }
    expect(splitter.buffered).toBe(4 * MiB);
    expect(splitter.retained).toBeLessThanOrEqual(2 * 4 * MiB);
    expect(worst).toBeLessThanOrEqual(2);
  });

  it("grows the heap by at most 2.5× a 4 MiB line fed in 1-byte chunks (measured in a child process after GC)", () => {
    // The child has a 256 MiB heap, as the host that died in issue 9; ~234 B per byte before the fix.
    const script = `
      const { createLineSplitter } = await import(${JSON.stringify(LINES_MODULE)});
      const held = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
      const splitter = createLineSplitter({ maxLineBytes: 16 * 1024 * 1024, onLine() {}, onOversized() {} });
      const byte = new Uint8Array([0x61]);
      const before = held();
      for (let i = 0; i < 4 * 1024 * 1024; i++) splitter.push(byte.slice());
      const grown = held() - before;
      process.stdout.write(JSON.stringify({ grown, buffered: splitter.buffered }));`;
    const run = spawnSync(NODE, ["--expose-gc", "--max-old-space-size=256", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status, run.stderr.split("\n").slice(-3).join("\n")).toBe(0);
    const { grown, buffered } = JSON.parse(run.stdout) as { grown: number; buffered: number };
    expect(buffered).toBe(4 * MiB);
    expect(grown).toBeLessThanOrEqual(2.5 * 4 * MiB);
  });

  it("frees the buffer grown for a big line once the line is out", () => {
    const { events, splitter } = recorder({ maxLineBytes: 4 * MiB });
    splitter.push(new Uint8Array(2 * MiB).fill(0x61));
    expect(splitter.retained).toBeGreaterThanOrEqual(2 * MiB);
    splitter.push(encoder.encode("\n"));
    expect(events).toHaveLength(1);
    expect(splitter.buffered).toBe(0);
    expect(splitter.retained).toBeLessThanOrEqual(64 * 1024);
  });
});

describe("createLineSplitter framing", () => {
  const text = [
    '{"v":1,"id":1,"command":"a"}',
    "",
    '{"v":1,"id":2,"payload":"é€😀 across chunk borders"}\r',
    `{"v":1,"id":3,"payload":"${"x".repeat(1500)}"}`,
    '{"v":1,"id":4,"payload":"after the oversized one"}',
    "\r",
    `{"v":1,"id":5,"payload":"${"y".repeat(990)}"}`,
    "tail without a newline",
  ].join("\n");
  const bytes = encoder.encode(text);

  const split = (chunkSize: (offset: number) => number) => {
    const { events, splitter } = recorder();
    for (let offset = 0; offset < bytes.length; ) {
      const size = Math.max(1, chunkSize(offset));
      splitter.push(bytes.subarray(offset, offset + size));
      offset += size;
    }
    return { events, buffered: splitter.buffered };
  };

  it("gives the same lines, oversized reports and partial tail for every chunking", () => {
    const reference = split(() => bytes.length);
    expect(reference.events).toEqual([
      'line {"v":1,"id":1,"command":"a"}',
      'line {"v":1,"id":2,"payload":"é€😀 across chunk borders"}',
      `oversized ${'{"v":1,"id":3,"payload":""}'.length + 1500} {"v":1,"id":3,"paylo`,
      'line {"v":1,"id":4,"payload":"after the oversized one"}',
      `line {"v":1,"id":5,"payload":"${"y".repeat(990)}"}`,
    ]);
    expect(reference.buffered).toBe("tail without a newline".length);
    const fixed = [1, 2, 3, 7, 64, 255, 256, 257, 1023, 1024, 1025, 4096];
    for (const size of fixed)
      expect(
        split(() => size),
        `chunks of ${size}`,
      ).toEqual(reference);
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      expect(
        split(() => Math.floor(next() * 300)),
        `random chunks, seed ${seed}`,
      ).toEqual(reference);
    }
  });
});

describe("createLineSplitter with a shared byte budget", () => {
  it("refuses a line whose buffer the budget cannot pay for, reports it at its newline, and gives the budget back", () => {
    const budget = createByteBudget(1 * MiB);
    const options = { maxLineBytes: 4 * MiB, budget, freeBytes: 64 * 1024 };
    const first = recorder(options);
    const second = recorder(options);
    const big = (id: number) => encoder.encode(`{"v":1,"id":${id},"payload":"${"z".repeat(700 * 1024)}`);

    first.splitter.push(big(1));
    expect(budget.used).toBeGreaterThan(0);
    expect(budget.used).toBeLessThanOrEqual(budget.limit);
    second.splitter.push(big(2));
    // Not buffered: counted until its newline, like an oversized line.
    expect(second.splitter.retained).toBeLessThanOrEqual(64 * 1024);
    second.splitter.push(encoder.encode('"}\n{"v":1,"id":3}\n'));
    expect(second.events).toEqual([`refused ${big(2).length + 2} {"v":1,"id":2,"paylo`, 'line {"v":1,"id":3}']);

    first.splitter.push(encoder.encode('"}\n'));
    expect(first.events).toHaveLength(1);
    expect(budget.used).toBe(0);
    // With the budget back, the same big line goes through.
    second.splitter.push(big(4));
    second.splitter.push(encoder.encode('"}\n'));
    expect(second.events.at(-1)).toMatch(/^line \{"v":1,"id":4,/);
    expect(budget.used).toBe(0);
  });

  it("gives the budget of a partial line back on release()", () => {
    const budget = createByteBudget(4 * MiB);
    const { splitter } = recorder({ maxLineBytes: 4 * MiB, budget });
    splitter.push(new Uint8Array(2 * MiB).fill(0x61));
    expect(budget.used).toBeGreaterThan(0);
    splitter.release();
    expect(budget.used).toBe(0);
    expect(splitter.buffered).toBe(0);
    expect(splitter.retained).toBe(0);
  });

  it("never charges lines within the free bytes", () => {
    const budget = createByteBudget(1);
    const { events, splitter } = recorder({ maxLineBytes: 1024, budget, freeBytes: 1024 });
    const byte = encoder.encode("a");
    for (let index = 0; index < 1000; index++) splitter.push(byte);
    splitter.push(encoder.encode("\n"));
    expect(events).toEqual([`line ${"a".repeat(1000)}`]);
    expect(budget.used).toBe(0);
  });
});
