/** Exponential backoff: `min(maxMs, baseMs * 2^(failures-1))`, scaled by a random factor in [0.5, 1]. */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

/**
 * Wait before the next attempt after `failures` failed ones, with "equal jitter": half the
 * ceiling fixed, half random, so that many clients do not retry in lockstep.
 */
export function backoffDelay(failures: number, { baseMs = 100, maxMs = 2_000 }: BackoffOptions = {}): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
