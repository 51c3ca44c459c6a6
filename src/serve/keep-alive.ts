/**
 * Keep-alive while the app works outside a request. On Cloudflare the platform stops a container
 * once its Durable Object has been idle for the inactivity timeout (`setInactivityTimeout`,
 * `sleepAfter`): work after the response (`ctx.waitUntil`) or a long event handler sees no
 * request, so the container tells its Worker it still works, `host.keepalive` every interval,
 * and the Worker renews the instance's activity.
 *
 * One timer per process, whatever the number of tasks: it runs while at least one task does and
 * stops with the last. At most one keep-alive is in flight; a failure is logged at most once a
 * minute and never thrown. This module imports nothing at run time: the command client loads
 * only when a keep-alive is first sent, an interval after the first task began (so a server
 * whose tasks are short never loads it).
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { CommandEndpoint, RuntimeConfig } from "../config.ts";
import { errorMessage } from "../internal/error-message.ts";
import type { PlatformInfo } from "../platform.ts";

/** How often a failing keep-alive is logged at most: once a minute. */
export const KEEPALIVE_LOG_EVERY_MS = 60_000;

/** Counts the work that must keep the instance awake. */
export interface KeepAlive {
  /** One task began: returns the function that ends it (calling it again does nothing). */
  begin(): () => void;
  /** Tasks running now. */
  readonly active: number;
}

/** Options of {@link createKeepAlive}. */
export interface KeepAliveOptions {
  /** Time between two keep-alives while work runs, in ms (> 0). */
  intervalMs: number;
  /** Sends one keep-alive; its rejection is logged (see {@link KEEPALIVE_LOG_EVERY_MS}). */
  send(): Promise<unknown>;
  logger: Pick<ConsolaInstance, "warn">;
  /** The clock, for tests. */
  now?: () => number;
}

/** Whether a failure means the host does not know `host.keepalive` (it predates it): nothing to retry. */
function unknownCommand(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "UNKNOWN_COMMAND";
}

/** The keep-alive timer: runs while {@link KeepAlive.active} is above 0. */
export function createKeepAlive(options: KeepAliveOptions): KeepAlive {
  const { intervalMs, send, logger, now = Date.now } = options;
  let active = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let inFlight = false;
  let loggedAt = Number.NEGATIVE_INFINITY;
  let skipped = 0;
  /** Set once the host answered UNKNOWN_COMMAND: it cannot renew anything, so nothing more is sent. */
  let unsupported = false;

  const fail = (error: unknown) => {
    if (unknownCommand(error)) {
      unsupported = true;
      stop();
      logger.warn(
        "the command host does not know host.keepalive (an older containerflare Worker): background work does not keep the container awake",
      );
      return;
    }
    const at = now();
    if (at - loggedAt < KEEPALIVE_LOG_EVERY_MS) {
      skipped++;
      return;
    }
    loggedAt = at;
    const more = skipped > 0 ? ` (${skipped} more failed since the last report)` : "";
    skipped = 0;
    logger.warn(`keep-alive failed: ${errorMessage(error)}${more}`);
  };

  const tick = () => {
    // A host slower than the interval gets one keep-alive at a time, not a growing queue.
    if (inFlight || unsupported) return;
    inFlight = true;
    let sent: Promise<unknown>;
    try {
      sent = send();
    } catch (error) {
      sent = Promise.reject(error);
    }
    void sent.then(undefined, fail).finally(() => {
      inFlight = false;
    });
  };

  const stop = () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
  };

  return {
    get active() {
      return active;
    },
    begin() {
      active++;
      if (timer === undefined && !unsupported) {
        timer = setInterval(tick, intervalMs);
        // The work itself keeps the process alive, never this timer.
        (timer as { unref?: () => void }).unref?.();
      }
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        active--;
        if (active === 0) stop();
      };
    },
  };
}

/**
 * Whether this server keeps its instance awake: on Cloudflare only (elsewhere nothing stops a
 * container for want of requests, see docs/deploy.md for Cloud Run), with a command endpoint to
 * reach the Worker, and an interval above 0 (`CONTAINERFLARE_KEEPALIVE_INTERVAL`).
 */
export function keepAliveWanted(
  config: Pick<RuntimeConfig, "keepAliveIntervalMs">,
  platform: Pick<PlatformInfo, "kind">,
  endpoint: CommandEndpoint,
): boolean {
  return platform.kind === "cloudflare" && endpoint.kind !== "disabled" && config.keepAliveIntervalMs > 0;
}
