import { describe, expect, it } from "vitest";
import { createReplayCache } from "../../src/replay-cache.ts";

const T0 = 1_800_000_000_000;
let counter = 0;
/** A distinct 32-byte MAC stand-in. */
function mac(): Uint8Array {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, ++counter);
  new DataView(bytes.buffer).setUint32(3, counter * 2654435761);
  return bytes;
}

describe("createReplayCache()", () => {
  it("accepts a signature once within the window, refuses it after, and refuses stale or far-future ones", () => {
    let now = T0;
    const cache = createReplayCache({ now: () => now });
    const signature = mac();
    expect(cache.check(signature, T0)).toBe("fresh");
    expect(cache.check(signature, T0)).toBe("replayed");
    expect(cache.check(signature.slice(), T0)).toBe("replayed");
    expect(cache.check(mac(), T0 - 300_001)).toBe("expired");
    expect(cache.check(mac(), T0 + 300_001)).toBe("expired");
    expect(cache.check(mac(), Number.NaN)).toBe("expired");
    now += 300_001;
    expect(cache.check(signature, T0)).toBe("expired");
  });

  it("drops whole seconds by their own timestamp: an entry dated 299 s ahead does not hold back pruning", () => {
    let now = T0;
    const cache = createReplayCache({ now: () => now });
    expect(cache.check(mac(), T0 + 299_000)).toBe("fresh");
    for (let index = 0; index < 1000; index++) expect(cache.check(mac(), T0 + (index % 10))).toBe("fresh");
    expect(cache.size).toBe(1001);
    now = T0 + 301_000;
    cache.check(mac(), now);
    // The 1000 old ones are gone; the future-dated one and the new one remain.
    expect(cache.size).toBe(2);
  });

  it("when full, forgets the oldest second and refuses anything signed before the new window start", () => {
    const now = T0;
    const floors: number[] = [];
    const cache = createReplayCache({ now: () => now, maxEntries: 3, onNarrowed: (floor) => floors.push(floor) });
    const old = mac();
    expect(cache.check(old, T0 - 5_000)).toBe("fresh");
    expect(cache.check(mac(), T0 - 4_000)).toBe("fresh");
    expect(cache.check(mac(), T0 - 3_000)).toBe("fresh");
    expect(cache.check(mac(), T0)).toBe("fresh");
    expect(cache.size).toBe(3);
    expect(floors).toEqual([T0 - 4_000]);
    // The forgotten signature can not be replayed: it now lies before the window.
    expect(cache.check(old, T0 - 5_000)).toBe("expired");
    expect(cache.check(mac(), T0 - 4_500)).toBe("expired");
  });

  it("answers full when the signature's own second already holds the maximum", () => {
    const cache = createReplayCache({ now: () => T0, maxEntries: 2 });
    expect(cache.check(mac(), T0)).toBe("fresh");
    expect(cache.check(mac(), T0)).toBe("fresh");
    expect(cache.check(mac(), T0)).toBe("full");
    expect(cache.size).toBe(2);
  });

  it("refuses a signature too short to fingerprint", () => {
    const cache = createReplayCache();
    expect(() => cache.check(new Uint8Array(6), Date.now())).toThrow(RangeError);
  });
});
