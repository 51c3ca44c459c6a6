/**
 * A latency histogram of fixed size: whatever the number of samples, it holds 1,728 counters.
 * Values are whole microseconds; below 64 µs each value has its own bucket, above it every power
 * of two is split into 64 buckets, so a percentile is off by less than 1/64 (1.6%) of its value.
 * Values at or above 2^32 µs (71 minutes) land in the last bucket.
 */

/** Buckets per power of two (and the width of the exact range below it). */
const SUB_BUCKETS = 64;
const SUB_BITS = 6;
/** Powers of two from 2^6 to 2^31, plus the exact range below 64. */
const BUCKETS = SUB_BUCKETS + (32 - SUB_BITS) * SUB_BUCKETS;
const MAX_VALUE = 0xffff_ffff;

/** The bucket of a whole non-negative value. */
function bucketOf(value: number): number {
  if (value < SUB_BUCKETS) return value;
  const exponent = 31 - Math.clz32(value);
  const shift = exponent - SUB_BITS;
  return SUB_BUCKETS + shift * SUB_BUCKETS + ((value >>> shift) - SUB_BUCKETS);
}

/** The highest value that falls into `bucket`. */
function upperEdge(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const shift = Math.floor((bucket - SUB_BUCKETS) / SUB_BUCKETS);
  const sub = (bucket - SUB_BUCKETS) % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** shift - 1;
}

/** Counts of microsecond values in log-linear buckets. */
export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  #sum = 0;

  /** Records one value in microseconds (fractions are rounded down; negative values count as 0). */
  record(microseconds: number): void {
    const value = microseconds > 0 ? Math.min(Math.floor(microseconds), MAX_VALUE) : 0;
    this.counts[bucketOf(value)]!++;
    this.count++;
    this.#sum += value;
    if (value > this.max) this.max = value;
  }

  /** Mean of the recorded values in µs; NaN when empty. */
  mean(): number {
    return this.count === 0 ? Number.NaN : this.#sum / this.count;
  }

  /**
   * The value at `fraction` (0.99 for p99) in µs: the upper edge of the bucket where the running
   * count reaches that share of the samples, never above the largest value seen; NaN when empty.
   */
  percentile(fraction: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(Math.min(Math.max(fraction, 0), 1) * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.min(upperEdge(bucket), this.max);
    }
    return this.max;
  }
}
