/**
 * How a server stops: the shutdown sequence (drain connections, wait for in-flight requests and
 * `waitUntil` work, run the hooks, close the command bus) and, when serve() owns the process,
 * the signals that start it and the deadline that ends it.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { Server } from "srvx";
import type { RuntimeConfig } from "../config.ts";
import type { ConnectionDrain } from "../drain.ts";
import { exitProcess } from "../exit.ts";
import type { PlatformInfo } from "../platform.ts";
import type { CommandBus } from "./command-bus.ts";
import type { ContainerServer, ShutdownHook } from "./options.ts";
import type { ServerState } from "./state.ts";
import type { WebSocketServer } from "./websocket.ts";

/** What the shutdown sequence stops, in order. */
export interface ShutdownParts {
  server: Server;
  drain: ConnectionDrain;
  state: ServerState;
  hooks: readonly ShutdownHook[];
  bus: CommandBus;
  /** The open WebSockets, when the server takes them. */
  sockets(): WebSocketServer | undefined;
  /** Gives back what start-up and the first request took of the process (Node's global fast Response, Deno's getter wrappers). */
  release(): void;
  logger: ConsolaInstance;
}

/** The shutdown sequence of one server; `force` drops open connections at once. */
export function createShutdown(parts: ShutdownParts): (force: boolean) => Promise<void> {
  const { server, drain, state, hooks, bus, release, logger } = parts;
  return async (force) => {
    // From here on every response closes its connection and none starts behind it, so close()
    // settles with the last response even while keep-alive clients keep sending.
    drain.begin();
    // Open WebSockets get 1001 (going away) now, new upgrades 503; their close hooks are waited
    // for (within the deadline), as is the work their hooks handed to waitUntil (state.settle).
    // Before the server closes: Deno's shutdown would close them itself, with its own reason.
    try {
      await parts.sockets()?.close(force);
      await server.close(force);
    } finally {
      drain.end();
    }
    await state.settle();
    for (const hook of hooks) {
      try {
        await hook();
      } catch (error) {
        logger.error("onShutdown hook failed:", error);
      }
    }
    await bus.close();
    release();
  };
}

/** How long a shutdown may drain: `CONTAINERFLARE_SHUTDOWN_TIMEOUT`, else within each platform's SIGKILL deadline. */
export function shutdownTimeoutMs(config: Pick<RuntimeConfig, "shutdownTimeoutMs">, platform: PlatformInfo): number {
  // Cloud Run sends SIGKILL 10 s after SIGTERM; Cloudflare 15 min after.
  return config.shutdownTimeoutMs ?? (platform.kind === "cloud-run" ? 9_000 : 30_000);
}

/**
 * Shuts the server down on SIGTERM or SIGINT and exits: 0 once the shutdown completed, 1 when it
 * failed, did not finish within `timeoutMs` (open connections are then closed), or a second
 * signal arrived meanwhile.
 */
export function exitOnSignals(server: ContainerServer, timeoutMs: number, logger: ConsolaInstance): void {
  let received: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn(`received ${signal} again during shutdown, exiting now`);
      exitProcess(1);
    }
    received = signal;
    logger.info(`received ${signal}, draining for up to ${timeoutMs / 1000}s`);
    const deadline = setTimeout(() => {
      logger.warn(`shutdown did not finish within ${timeoutMs / 1000}s, closing open connections`);
      void server.close(true);
      exitProcess(1);
    }, timeoutMs);
    server.close().then(
      () => {
        clearTimeout(deadline);
        logger.info("shutdown complete");
        exitProcess(0);
      },
      (error: unknown) => {
        logger.error("shutdown failed:", error);
        exitProcess(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
