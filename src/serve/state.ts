/**
 * What every request context of one server reads from (context.ts's ContextState): the platform,
 * the loggers, the client-address rules, the command bus, and the `waitUntil` work shutdown waits for.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { RuntimeConfig } from "../config.ts";
import type { ContextState } from "../context.ts";
import type { PlatformInfo } from "../platform.ts";
import type { CommandBus } from "./command-bus.ts";
import type { KeepAlive } from "./keep-alive.ts";

/** The state of one server: a {@link ContextState} that also knows how to wait for its work. */
export interface ServerState extends ContextState {
  /** Resolves once every `waitUntil` promise (including ones added meanwhile) has settled. */
  settle(): Promise<void>;
  /**
   * Marks work as running until `promise` settles (an event handler, say): on Cloudflare the
   * instance is kept awake meanwhile (keep-alive.ts). Returns `promise` itself; unlike
   * `waitUntil` it neither logs its failure nor makes shutdown wait for it.
   */
  track<T>(promise: Promise<T>): Promise<T>;
}

/** Creates the state; `waitUntil` failures are logged, never thrown at the request. */
export function createServerState(
  config: Pick<RuntimeConfig, "secret" | "forwardedHops">,
  platform: PlatformInfo,
  logger: ConsolaInstance,
  bus: CommandBus,
  keepAlive?: KeepAlive,
): ServerState {
  // Bounded by the app: each entry is a promise it handed to waitUntil, removed once settled.
  const pending = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    if (!keepAlive) return promise;
    const end = keepAlive.begin();
    void promise.then(end, end);
    return promise;
  };
  return {
    platform,
    logger,
    clientAddress: { cloudflareHeader: !config.secret, forwardedHops: config.forwardedHops },
    get commands() {
      return bus.commands;
    },
    get env() {
      return bus.env;
    },
    waitUntil(promise) {
      const tracked = Promise.resolve(promise).then(
        () => undefined,
        (error: unknown) => logger.error("waitUntil task failed:", error),
      );
      pending.add(tracked);
      void track(tracked).finally(() => pending.delete(tracked));
    },
    track,
    async settle() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}
