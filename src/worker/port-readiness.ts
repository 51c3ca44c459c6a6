/**
 * Waiting for a just-started container's app to listen: its port is asked over and over, with
 * backoff, until anything answers over HTTP (or, with a health path, that path answers 200), the
 * container exits, or the time is up.
 *
 * @module
 */
import { ContainerflareError } from "../errors.ts";
import { backoffDelay } from "../internal/backoff.ts";
import { errorMessage } from "../internal/error-message.ts";
import { sleep } from "../internal/sleep.ts";
import { type ContainerExit, oneLine } from "./container-exit.ts";
import type { FetcherLike } from "./types.ts";

/** Options of {@link waitForPort}. */
export interface PortWaitOptions {
  /** The port, for messages. */
  port: number;
  /** How long to wait in all, in ms. */
  timeoutMs: number;
  /** Settles when the container's run ends: waiting stops at once with its reason. */
  exited: Promise<ContainerExit>;
  /**
   * The app's health route (serve()'s `CONTAINERFLARE_HEALTH_PATH`, e.g. `/healthz`): probes ask
   * it and only a 200 means ready (a 503 is an app that drains). Without it any answer on the
   * port is enough.
   */
  healthPath?: string | undefined;
}

/** The probes' backoff: the first retry after 25-50 ms, then doubling up to 0.5-1 s. */
const PROBE_BACKOFF = { baseMs: 50, maxMs: 1_000 } as const;

/**
 * Resolves once `target` (`ctx.container.getTcpPort(port)`) answers a request with any HTTP
 * response (with `healthPath`: a 200 from that path): the app listens. While nothing listens the
 * platform throws ("the container is not listening"), and the port is asked again after a
 * backoff, as it is after an answer other than 200 from the health path. Rejects with a
 * `ContainerflareError` (`UNAVAILABLE`, retryable) naming the port and the timeout when nothing
 * answered within `timeoutMs` (with the platform's last refusal: not exposed to clients), or at
 * once with the exit's reason when `exited` settles first (exposed).
 */
export async function waitForPort(target: FetcherLike, options: PortWaitOptions): Promise<void> {
  const { port, timeoutMs } = options;
  const deadline = Date.now() + timeoutMs;
  const done = new AbortController();
  const exited = options.exited.then((exit) => ({ exit }));
  let lastRefusal = "";
  try {
    for (let failures = 0; ; failures++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (failures > 0) {
        const pause = sleep(Math.min(left, backoffDelay(failures, PROBE_BACKOFF)), done.signal);
        const early = await Promise.race([pause.then(() => undefined), exited]);
        if (early) throw exitedBeforeListening(port, early.exit);
        if (Date.now() >= deadline) break;
      }
      const outcome = await Promise.race([
        probePort(target, options.healthPath),
        exited,
        sleep(Math.max(0, deadline - Date.now()), done.signal).then(() => ({ refused: "the probe did not return" })),
      ]);
      if ("exit" in outcome) throw exitedBeforeListening(port, outcome.exit);
      if ("listening" in outcome) return;
      lastRefusal = outcome.refused;
    }
  } finally {
    done.abort();
  }
  const last = lastRefusal ? ` (last: ${oneLine(lastRefusal)})` : "";
  const answer = options.healthPath === undefined ? "answer" : `answer 200 at ${options.healthPath}`;
  throw new ContainerflareError(
    "UNAVAILABLE",
    `the container's port ${port} did not ${answer} within ${formatMs(timeoutMs)}${last}`,
    { retryable: true },
  );
}

/**
 * One request to the port (its body is not read): any HTTP answer means the app listens, or with
 * `healthPath` a 200 from that path (a 503 there is an app that drains).
 */
export async function probePort(
  target: FetcherLike,
  healthPath?: string,
): Promise<{ listening: true } | { refused: string }> {
  try {
    const response = await target.fetch(`http://ping${healthPath ?? "/"}`);
    await response.body?.cancel().catch(() => undefined);
    if (healthPath !== undefined && response.status !== 200)
      return { refused: `${healthPath} answered ${response.status}` };
    return { listening: true };
  } catch (error) {
    return { refused: errorMessage(error) };
  }
}

function exitedBeforeListening(port: number, exit: ContainerExit): ContainerflareError {
  // Our own words and the exit code only: a client may read them (see `unavailable` in container-api.ts).
  return new ContainerflareError("UNAVAILABLE", `the container ${exit.reason} before its port ${port} answered`, {
    retryable: true,
    expose: true,
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
