/** Small pure number helpers for the benchmark report. */

/** Median of a non-empty list (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Spread of a list as (max - min) / median, a quick noise indicator; NaN when undefined. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/** Formats a number with thousands separators and no decimals ("12,345"); "n/a" for NaN. */
export function formatInt(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a";
}

/** Formats a ratio as "0.93x" ("0.949x" with `digits` 3); "n/a" when either side is missing. */
export function formatRatio(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}x` : "n/a";
}
