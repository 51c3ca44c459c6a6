/**
 * src/internal/sleep.ts: `sleep` ends early on abort, and `within` gives a promise's value or the
 * timeout's, passes a rejection through, and leaves no timer behind.
 */
import { describe, expect, it, vi } from "vitest";
import { sleep, within } from "../../src/internal/sleep.ts";

describe("sleep", () => {
  it("resolves at once when its signal aborts", async () => {
    const over = new AbortController();
    const began = Date.now();
    const waiting = sleep(10_000, over.signal);
    over.abort();
    await waiting;
    expect(Date.now() - began).toBeLessThan(1_000);
  });
});

describe("within", () => {
  it("gives the promise's value when it settles first, and clears its timer", async () => {
    vi.useFakeTimers();
    try {
      const value = await within(Promise.resolve("done"), 60_000, "late");
      expect(value).toBe("done");
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("gives onTimeout when the promise has not settled within ms", async () => {
    expect(await within(new Promise(() => {}), 20, "late")).toBe("late");
  });

  it("passes a rejection through", async () => {
    await expect(within(Promise.reject(new Error("boom")), 1_000, "late")).rejects.toThrow("boom");
  });
});
