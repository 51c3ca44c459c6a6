/**
 * The container's end of the command bus, for serve(): `ctx.commands` and `ctx.env`, and the
 * background preload of what the host offers. The command client and the binding classes (with
 * their schemas) are one module graph, src/command/index.ts, imported only when a request first
 * touches `ctx.commands` or `ctx.env`, or by the preload once the server listens when a command
 * host is configured: a server that never uses the bus never loads it. Until it has loaded,
 * `ctx.commands` is a client whose calls wait for it and `ctx.env` a stand-in that replays each
 * call on the real env (pending-env.ts).
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { Bindings, CommandClient } from "../command/index.ts";
import type { CommandEndpoint, RuntimeConfig } from "../config.ts";
import { createPendingEnv } from "./pending-env.ts";

type CommandModule = typeof import("../command/index.ts");

/** Options of {@link createCommandBus}. */
export interface CommandBusOptions {
  config: Pick<RuntimeConfig, "commandTimeoutMs" | "secret" | "bindings">;
  endpoint: CommandEndpoint;
  /** Why binding calls fail at once when the endpoint is disabled (see resolveCommandEndpoint). */
  unavailableReason?: string | undefined;
  logger: ConsolaInstance;
}

/** The command bus of one server. */
export interface CommandBus {
  /** `ctx.commands`. */
  readonly commands: CommandClient;
  /** `ctx.env`. */
  readonly env: Bindings;
  /**
   * Asks the host once, in the background, which bindings and vars it offers, so that vars read
   * as plain values (`ctx.env.GREETING`) as in a Worker. A host that is not up yet is asked again
   * a few times; binding calls never wait for this. Nothing happens without a command host.
   */
  preload(): Promise<void>;
  /** Closes the command client, if one was ever created. */
  close(): Promise<void>;
}

/** Attempts of the preload's `host.describe`, and its backoff (500 ms doubling, no jitter: one process). */
const PRELOAD_ATTEMPTS = 4;
const PRELOAD_BACKOFF = { baseMs: 500, maxMs: 4_000, jitter: false };

/** Creates the bus; nothing is imported or connected until it is used. */
export function createCommandBus(options: CommandBusOptions): CommandBus {
  const { config, endpoint, unavailableReason, logger } = options;
  let loading: Promise<CommandModule> | undefined;
  let client: CommandClient | undefined;
  let env: Bindings | undefined;

  /** Imports the module and creates the client and env from it (once). */
  const load = () =>
    (loading ??= import("../command/index.ts").then((module) => {
      client = module.createCommandClient({
        endpoint,
        timeoutMs: config.commandTimeoutMs,
        logger: logger.withTag("commands"),
        ...(unavailableReason ? { unavailableReason } : {}),
        ...(config.secret ? { secret: config.secret } : {}),
      });
      env = module.createBindings(client, config.bindings ? { bindings: config.bindings } : {});
      return module;
    }));
  const loadedClient = () => load().then(() => client as CommandClient);

  // The client as it is until the module has loaded: each call waits for it, then delegates.
  const waitingClient: CommandClient = {
    endpoint,
    get inFlight() {
      return client?.inFlight ?? 0;
    },
    invoke: ((...args: Parameters<CommandClient["invoke"]>) =>
      loadedClient().then((loaded) => loaded.invoke(...args))) as CommandClient["invoke"],
    invokeStreamed: ((...args: Parameters<CommandClient["invokeStreamed"]>) =>
      loadedClient().then((loaded) => loaded.invokeStreamed(...args))) as CommandClient["invokeStreamed"],
    describe: (...args) => loadedClient().then((loaded) => loaded.describe(...args)),
    close: () => (loading ? loadedClient().then((loaded) => loaded.close()) : Promise.resolve()),
  };
  let pendingEnv: Bindings | undefined;

  /** Loads the bus and asks the host what it offers, retrying with backoff (the background preload). */
  async function preloadDescription(): Promise<void> {
    const [module, { backoffDelay }, { sleep }] = await Promise.all([
      load(),
      import("../internal/backoff.ts"),
      import("../internal/sleep.ts"),
    ]);
    for (let attempt = 1; attempt <= PRELOAD_ATTEMPTS; attempt++) {
      try {
        await module.loadBindings(env as object);
        return;
      } catch (error) {
        logger.debug(`host.describe failed (attempt ${attempt}):`, error);
        if (attempt < PRELOAD_ATTEMPTS) await sleep(backoffDelay(attempt, PRELOAD_BACKOFF), undefined, { unref: true });
      }
    }
  }

  return {
    get commands() {
      return client ?? waitingClient;
    },
    get env() {
      if (env) return env;
      pendingEnv ??= createPendingEnv(load().then(() => env as object)) as Bindings;
      return pendingEnv;
    },
    preload() {
      // Decided before anything async: merely entering the loading path costs Bun ~2 ms of start-up.
      return endpoint.kind === "disabled" ? Promise.resolve() : preloadDescription();
    },
    async close() {
      if (loading) await (await loadedClient()).close();
    },
  };
}
