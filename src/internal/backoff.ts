/** Exponential backoff: `min(maxMs, baseMs * 2^(failures-1))`, scaled by a random factor in [0.5, 1]. */
export interface BackoffOptions {
  /** Wait after the first failure (before jitter), in ms; default 100. */
  baseMs?: number;
  /** Largest wait, in ms; default 2,000. */
  maxMs?: number;
  /**
   * Default true: "equal jitter", half the ceiling fixed and half random, so that many clients do
   * not retry in lockstep. False gives the ceiling itself (one process retrying its own work).
   */
  jitter?: boolean;
}

/**
 * Wait before the next attempt after `failures` failed ones (0 → no wait). Every retry loop of
 * containerflare (transports, the Cloud Run metadata server, dev's app restarts) uses this one
 * formula with its own base and ceiling.
 */
export function backoffDelay(
  failures: number,
  { baseMs = 100, maxMs = 2_000, jitter = true }: BackoffOptions = {},
): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return jitter ? Math.round(ceiling / 2 + (Math.random() * ceiling) / 2) : ceiling;
}
