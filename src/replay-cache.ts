/**
 * A bounded memory of the signatures seen within a time window, so that a captured signed request
 * replayed to the same process is refused. Web APIs only: it runs in the container and in workerd.
 *
 * Memory: each signature is kept as a 52-bit fingerprint (a number) in a Set of the second it was
 * signed in, so an entry costs the same on every runtime (~40–60 B measured on V8 and JSC; see
 * test/integration/replay-cache.test.ts) whatever the header looked like. A replay carries the same
 * timestamp as the original, so only that second's set is ever looked at.
 *
 * Expiry: whole seconds are dropped once they leave the window, by their own timestamp, so no
 * single entry (one dated far in the future, say) can hold back the pruning of the others.
 *
 * When full (`maxEntries`): the oldest second still held is forgotten and the window is narrowed to
 * start after it, so a replay of a forgotten signature is refused as `expired`, never let through.
 * When nothing older than the signature's own second is left to forget, `check` answers `full`:
 * the caller must then refuse the signature.
 *
 * @module
 */

/** Options of {@link createReplayCache}. */
export interface ReplayCacheOptions {
  /** How far a timestamp may lie from now, either way, in ms (default 300 000: 300 s). */
  windowMs?: number;
  /** Most signatures held at once (default {@link DEFAULT_REPLAY_CACHE_ENTRIES}). */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Called when a full cache forgets its oldest second: `floor` is the new start of the window (ms). */
  onNarrowed?: (floor: number) => void;
}

/** The verdict on one signature: `fresh` is the only one to accept. */
export type ReplayVerdict = "fresh" | "replayed" | "expired" | "full";

/** See the module documentation. */
export interface ReplayCache {
  /**
   * Records `signature` (at least 7 bytes of a MAC) made at `timestamp` (ms) and says whether it
   * may be accepted: `fresh` the first time within the window, `replayed` after that, `expired`
   * outside the window, `full` when the cache cannot remember it.
   */
  check(signature: Uint8Array, timestamp: number): ReplayVerdict;
  /** Signatures held now. */
  readonly size: number;
}

/** Default bound: 250 000 signatures, about 15 MB at most; 833 signed requests/s for the full 300 s. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 250_000;

const SECOND_MS = 1000;
const TWO_TO_32 = 2 ** 32;

/** 52 bits of a MAC as a number: exact in a double, and a collision needs ~2^26 entries in one second. */
function fingerprint(signature: Uint8Array): number {
  if (signature.length < 7) throw new RangeError("a replay-cache signature needs at least 7 bytes");
  const high = ((signature[0]! << 12) | (signature[1]! << 4) | (signature[2]! >>> 4)) & 0xfffff;
  const low = ((signature[3]! << 24) | (signature[4]! << 16) | (signature[5]! << 8) | signature[6]!) >>> 0;
  return high * TWO_TO_32 + low;
}

/** Creates a {@link ReplayCache}. */
export function createReplayCache(options: ReplayCacheOptions = {}): ReplayCache {
  const windowMs = options.windowMs ?? 300_000;
  const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES;
  const now = options.now ?? Date.now;
  if (!(maxEntries >= 1)) throw new RangeError("maxEntries must be at least 1");
  const seconds = new Map<number, Set<number>>();
  let size = 0;
  // Timestamps below this were forgotten when the cache was full.
  let floor = -Infinity;
  let prunedAt = -Infinity;

  function drop(second: number) {
    const set = seconds.get(second);
    if (!set) return;
    size -= set.size;
    seconds.delete(second);
  }

  /** Drops the seconds that left the window; at most once per second of the clock. */
  function prune(current: number) {
    if (current - prunedAt < SECOND_MS) return;
    prunedAt = current;
    const oldest = Math.floor((current - windowMs) / SECOND_MS);
    for (const second of seconds.keys()) if (second < oldest) drop(second);
  }

  /** Forgets the oldest second held before `before`; false when there is none. */
  function narrow(before: number): boolean {
    let oldest = Infinity;
    for (const second of seconds.keys()) if (second < before && second < oldest) oldest = second;
    if (oldest === Infinity) return false;
    drop(oldest);
    floor = Math.max(floor, (oldest + 1) * SECOND_MS);
    options.onNarrowed?.(floor);
    return true;
  }

  return {
    get size() {
      return size;
    },
    check(signature, timestamp) {
      const current = now();
      if (!Number.isFinite(timestamp) || Math.abs(current - timestamp) > windowMs || timestamp < floor)
        return "expired";
      prune(current);
      const second = Math.floor(timestamp / SECOND_MS);
      const key = fingerprint(signature);
      let set = seconds.get(second);
      if (set?.has(key)) return "replayed";
      while (size >= maxEntries) if (!narrow(second)) return "full";
      if (!set) {
        set = new Set();
        seconds.set(second, set);
      }
      set.add(key);
      size++;
      return "fresh";
    },
  };
}
