/**
 * Resolves after `ms`, or at once when `signal` aborts (it never rejects: a caller that cares
 * checks the signal afterwards). `unref` (default false) lets the process exit while waiting.
 */
export function sleep(ms: number, signal?: AbortSignal, { unref = false }: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    if (unref) (timer as { unref?: () => void }).unref?.();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * `promise`'s value, or `onTimeout` when it has not settled within `ms`; the timer is cleared
 * either way, so a settled wait leaves nothing pending. A rejection passes through.
 */
export async function within<T, F>(promise: Promise<T>, ms: number, onTimeout: F): Promise<T | F> {
  const over = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, over.signal).then(() => onTimeout)]);
  } finally {
    over.abort();
  }
}
