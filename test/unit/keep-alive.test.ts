/**
 * The container's keep-alive timer (src/serve/keep-alive.ts) and its hook in the server state
 * (src/serve/state.ts), with fake timers: one timer however many tasks, none without work, one
 * keep-alive in flight at most, failures logged at most once a minute and never thrown, a host
 * that does not know the command stops it; and when serve() wants it at all.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resolveConfig } from "../../src/config.ts";
import { CommandError } from "../../src/errors.ts";
import type { CommandBus } from "../../src/serve/command-bus.ts";
import { createKeepAlive, KEEPALIVE_LOG_EVERY_MS, keepAliveWanted } from "../../src/serve/keep-alive.ts";
import { createServerState } from "../../src/serve/state.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setUp(send: () => Promise<unknown> = () => Promise.resolve({ renewed: true })) {
  const warnings: string[] = [];
  const calls = vi.fn(send);
  const keepAlive = createKeepAlive({
    intervalMs: 1_000,
    send: calls,
    logger: { warn: (line: unknown) => void warnings.push(String(line)) } as never,
  });
  return { keepAlive, calls, warnings };
}

describe("createKeepAlive", () => {
  it("sends nothing without work, and every interval while a task runs", async () => {
    const { keepAlive, calls } = setUp();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).not.toHaveBeenCalled();
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(3_500);
    expect(calls).toHaveBeenCalledTimes(3);
    end();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveBeenCalledTimes(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps one timer for many tasks and stops with the last", async () => {
    const { keepAlive, calls } = setUp();
    const ends = Array.from({ length: 50 }, () => keepAlive.begin());
    expect(vi.getTimerCount()).toBe(1);
    expect(keepAlive.active).toBe(50);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toHaveBeenCalledTimes(2);
    for (const end of ends.slice(1)) end();
    // Ending a task twice does not end another one.
    ends[1]!();
    expect(keepAlive.active).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveBeenCalledTimes(3);
    ends[0]!();
    expect(keepAlive.active).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // A new task starts it again.
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveBeenCalledTimes(4);
    end();
  });

  it("has one keep-alive in flight at most when the host is slower than the interval", async () => {
    let resolve: () => void = () => {};
    const { keepAlive, calls } = setUp(
      () =>
        new Promise<void>((done) => {
          resolve = done;
        }),
    );
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveBeenCalledTimes(1);
    resolve();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveBeenCalledTimes(2);
    end();
  });

  it("logs a failing keep-alive at most once a minute, and never throws", async () => {
    const { keepAlive, calls, warnings } = setUp(() => Promise.reject(new Error("host down")));
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toHaveBeenCalledTimes(30);
    expect(warnings).toEqual(["keep-alive failed: host down"]);
    await vi.advanceTimersByTimeAsync(KEEPALIVE_LOG_EVERY_MS);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/^keep-alive failed: host down \(\d+ more failed since the last report\)$/);
    end();
  });

  it("survives a send that throws synchronously", async () => {
    const { keepAlive, warnings } = setUp(() => {
      throw new Error("no client");
    });
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(warnings).toEqual(["keep-alive failed: no client"]);
    end();
  });

  it("stops for good when the host does not know host.keepalive", async () => {
    const { keepAlive, calls, warnings } = setUp(() =>
      Promise.reject(new CommandError("UNKNOWN_COMMAND", "unknown command host.keepalive")),
    );
    const end = keepAlive.begin();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveBeenCalledTimes(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("does not know host.keepalive");
    end();
    keepAlive.begin();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("keepAliveWanted", () => {
  const http = { kind: "http", url: "http://containerflare.internal/v1/commands" } as const;
  it("is on with Cloudflare, a command endpoint and an interval", () => {
    expect(keepAliveWanted({ keepAliveIntervalMs: 10_000 }, { kind: "cloudflare" }, http)).toBe(true);
    expect(keepAliveWanted({ keepAliveIntervalMs: 0 }, { kind: "cloudflare" }, http)).toBe(false);
    expect(keepAliveWanted({ keepAliveIntervalMs: 10_000 }, { kind: "cloud-run" }, http)).toBe(false);
    expect(keepAliveWanted({ keepAliveIntervalMs: 10_000 }, { kind: "generic" }, http)).toBe(false);
    expect(keepAliveWanted({ keepAliveIntervalMs: 10_000 }, { kind: "cloudflare" }, { kind: "disabled" })).toBe(false);
  });
});

describe("CONTAINERFLARE_KEEPALIVE_INTERVAL", () => {
  it("is 10 s by default, seconds with decimals, 0 for off", () => {
    expect(resolveConfig({}).keepAliveIntervalMs).toBe(10_000);
    expect(resolveConfig({ CONTAINERFLARE_KEEPALIVE_INTERVAL: "30" }).keepAliveIntervalMs).toBe(30_000);
    expect(resolveConfig({ CONTAINERFLARE_KEEPALIVE_INTERVAL: "0.5" }).keepAliveIntervalMs).toBe(500);
    expect(resolveConfig({ CONTAINERFLARE_KEEPALIVE_INTERVAL: "0" }).keepAliveIntervalMs).toBe(0);
  });

  it.each(["-1", "abc", "0.05", "3601", "10s"])("refuses %s in one line", (value) => {
    expect(() => resolveConfig({ CONTAINERFLARE_KEEPALIVE_INTERVAL: value })).toThrow(
      `invalid CONTAINERFLARE_KEEPALIVE_INTERVAL=${JSON.stringify(value)}: expected a number of seconds from 0.1 to 3600 (0: off)`,
    );
  });
});

describe("the server state's waitUntil and track", () => {
  const bus = {} as CommandBus;
  const logger = { error: vi.fn() } as never;
  const config = { forwardedHops: 1 };

  it("keeps the instance awake while waitUntil work runs, failing work too", async () => {
    const { keepAlive, calls } = setUp();
    const state = createServerState(config, { kind: "cloudflare" }, logger, bus, keepAlive);
    let finish: () => void = () => {};
    state.waitUntil(new Promise<void>((resolve) => (finish = resolve)));
    state.waitUntil(new Promise<void>((_, reject) => setTimeout(() => reject(new Error("boom")), 2_000)));
    await vi.advanceTimersByTimeAsync(0);
    // The failing task counts until it fails.
    expect(keepAlive.active).toBe(2);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(keepAlive.active).toBe(1);
    expect(calls).toHaveBeenCalledTimes(3);
    finish();
    await state.settle();
    expect(keepAlive.active).toBe(0);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toHaveBeenCalledTimes(3);
  });

  it("track() marks an event as running and hands its promise back", async () => {
    const { keepAlive } = setUp();
    const state = createServerState(config, { kind: "cloudflare" }, logger, bus, keepAlive);
    let finish: (value: number) => void = () => {};
    const event = new Promise<number>((resolve) => (finish = resolve));
    expect(state.track(event)).toBe(event);
    expect(keepAlive.active).toBe(1);
    finish(7);
    expect(await event).toBe(7);
    expect(keepAlive.active).toBe(0);
    // A failing event is the caller's to handle: track() neither logs nor swallows it.
    const failing = Promise.reject(new Error("handler threw"));
    const tracked = state.track(failing);
    expect(keepAlive.active).toBe(1);
    await expect(tracked).rejects.toThrow("handler threw");
    expect(keepAlive.active).toBe(0);
  });

  it("without a keep-alive (not on Cloudflare) hands track()'s promise back and times nothing", async () => {
    const state = createServerState(config, { kind: "generic" }, logger, bus);
    state.waitUntil(new Promise(() => {}));
    const event = Promise.resolve(1);
    expect(state.track(event)).toBe(event);
    expect(vi.getTimerCount()).toBe(0);
  });
});
