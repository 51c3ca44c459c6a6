import { ContainerflareError, errorResponse } from "../errors.ts";
import type { MessageBatch, ScheduledController } from "../events/types.ts";
import { isRoutePath } from "../internal/http.ts";
import { COMMAND_HOSTNAME, type CommandHandlerOptions, commandHandler } from "./commands.ts";
import { type ForwardEventOptions, forwardQueue, forwardScheduled } from "./events.ts";
import { type ForwardOptions, forward } from "./forward.ts";
import { renewContainer } from "./keep-alive.ts";
import { type RemoteCommandRouteOptions, remoteCommandRoute } from "./remote-route.ts";
import type { ContainerflareWorkerEnv, DurableObjectNamespaceLike, WorkerRequest } from "./types.ts";

/** What {@link withContainerflare} needs of a `Container` subclass from `@cloudflare/containers`. */
export type ContainerClass = (new (
  // biome-ignore lint/suspicious/noExplicitAny: TypeScript requires `any[]` for a mixin's constructor (TS2545).
  ...args: any[]
) => { envVars?: Record<string, string> | undefined; pingEndpoint?: string }) & {
  // Loosely typed: the class's own handlers are typed with @cloudflare/workers-types.
  // biome-ignore lint/suspicious/noExplicitAny: any handler signature of the Container class fits.
  outboundByHost?: Record<string, (...args: any[]) => unknown> | undefined;
};

/** Options of {@link withContainerflare}: what the container may reach through the command bus, and its health route. */
export interface ContainerflareOptions extends CommandHandlerOptions {
  /**
   * The app's health route, e.g. `/healthz`: the container gets it as `CONTAINERFLARE_HEALTH_PATH`
   * (serve() answers there) and the class pings it at start-up (its `pingEndpoint`). Note that
   * `@cloudflare/containers` takes any answer as ready, a 503 too; `containerflareContainer`
   * waits for a 200.
   */
  healthPath?: string;
  /**
   * The Durable Object binding of this class (`"APP"`), where `host.keepalive` finds the
   * container's object to call its `renewActivityTimeout()`. Default: the Durable Object binding
   * of `env` whose `idFromString` accepts the container's id.
   */
  binding?: string;
}

/**
 * Wires a `Container` class from `@cloudflare/containers` to containerflare and returns the class
 * to export (a subclass with the same name):
 *
 * - the container's requests to `http://containerflare.internal` are answered by the command
 *   host ({@link commandHandler}) over the Worker's `env`, limited to `allow`;
 * - `CONTAINERFLARE_SECRET` from the Worker's env is added to the container's `envVars`, so the
 *   container can verify the metadata header {@link forward} signs;
 * - `host.keepalive` (the container still works after its response) calls the Container's
 *   `renewActivityTimeout()`, so `sleepAfter` counts from the container's last work.
 * - with `healthPath`, the container's `CONTAINERFLARE_HEALTH_PATH` and the class's `pingEndpoint`.
 *
 * The class keeps its name: `@cloudflare/containers` routes outbound requests by class name, so
 * bundling must keep names (wrangler does by default, `keep_names`).
 *
 * Call it at module level: the interception is registered in the class's static
 * `outboundByHost` right here, after the class body (a class field would be defined, not set, and
 * skip the registering setter), and the Worker must also `export { ContainerProxy }` from
 * `@cloudflare/containers`, through which the container's outbound requests reach the handler.
 *
 * ```ts
 * import { Container, ContainerProxy } from "@cloudflare/containers";
 * import { forwardTo, withContainerflare } from "containerflare/worker";
 *
 * class AppContainer extends Container {
 *   defaultPort = 8787;
 * }
 * // The class to export under the name wrangler.jsonc gives it (`class_name`).
 * export const App = withContainerflare(AppContainer, { allow: ["CACHE", "DB"] });
 * export default forwardTo("APP");
 * export { ContainerProxy };
 * ```
 */
export function withContainerflare<T extends ContainerClass>(Base: T, options: ContainerflareOptions): T {
  const name = Base.name;
  if (!name)
    throw new TypeError("withContainerflare() needs a named class: class AppContainer extends Container { … }");
  if (!options || options.allow === undefined) {
    throw new TypeError(
      'withContainerflare(): options.allow must list the bindings the container may use, e.g. { allow: ["CACHE"] }',
    );
  }
  const { healthPath, binding, ...handlerOptions } = options;
  if (healthPath !== undefined && !isRoutePath(healthPath)) {
    throw new TypeError(
      `withContainerflare(): healthPath ${JSON.stringify(healthPath)} is not a path such as /healthz (a leading /, no query or spaces)`,
    );
  }
  // The computed key names the subclass like its base: @cloudflare/containers keys its handler
  // registry and the container's outbound routing by the class name.
  const Wired = {
    [name]: class extends Base {
      // biome-ignore lint/suspicious/noExplicitAny: TypeScript requires `any[]` for a mixin's constructor (TS2545).
      constructor(...args: any[]) {
        super(...args);
        if (healthPath !== undefined) {
          // The class fetches `http://${pingEndpoint}`: the host stays its own default's.
          this.pingEndpoint = `ping${healthPath}`;
          this.envVars = { ...this.envVars, CONTAINERFLARE_HEALTH_PATH: healthPath };
        }
        const secret = (args[1] as ContainerflareWorkerEnv | undefined)?.CONTAINERFLARE_SECRET;
        if (secret) this.envVars = { ...this.envVars, CONTAINERFLARE_SECRET: secret };
        else {
          // Without a secret the container trusts the unsigned header on Cloudflare (the contract):
          // fine behind forward(), spoofable by anything that reaches the container another way.
          console.warn(
            "containerflare: CONTAINERFLARE_SECRET is not set, so the container cannot tell the Worker's metadata header from a forged one; set it with `wrangler secret put CONTAINERFLARE_SECRET`",
          );
        }
      }
    },
  }[name]!;
  // A container that still works (waitUntil, events) renews its Container's `sleepAfter`.
  const keepAlive = options.keepAlive ?? ((env, ctx) => renewContainer(env, ctx, binding));
  Wired.outboundByHost = {
    ...Base.outboundByHost,
    [COMMAND_HOSTNAME]: commandHandler({ ...handlerOptions, keepAlive }),
  };
  return Wired;
}

/** Options of {@link forwardTo}. */
export interface ForwardToOptions extends ForwardOptions {
  /**
   * Which container instance serves a request: a fixed name, or one per request (per user,
   * per tenant). Default: one instance, the name `getContainer()` of `@cloudflare/containers` uses.
   */
  instance?: string | ((request: WorkerRequest) => string);
  /**
   * Which instance runs Cron Triggers and queue batches: default `instance` when it is a name,
   * else the default instance.
   */
  eventInstance?: string;
  /** How long an event waits for the container, in ms (see {@link forwardQueue}); default 5 min. */
  eventTimeoutMs?: number;
  /**
   * Also answer the public command route, `POST /__containerflare/v1/commands`, with the Worker's
   * bindings in `allow`, for apps outside Cloudflare (Cloud Run) that sign each request with
   * `CONTAINERFLARE_SECRET` (see {@link remoteCommandRoute}). Off by default: without it that path
   * is forwarded to the container like any other.
   */
  remoteCommands?: RemoteCommandRouteOptions;
}

/** Instance name `getContainer()` of `@cloudflare/containers` uses by default. */
export const DEFAULT_INSTANCE = "cf-singleton-container";

/**
 * A Worker's default export that forwards every request to a container of the Durable Object
 * binding `binding`, with the signed metadata header, and every Cron Trigger and queue batch to
 * the app's `scheduled` and `queue` handlers (on `eventInstance`). `export default forwardTo("APP")`.
 * With `remoteCommands` it first answers the public command route (apps on Cloud Run):
 * `export default forwardTo("APP", { remoteCommands: { allow: ["CACHE", "DB"] } })`.
 */
export function forwardTo(binding: string, options: ForwardToOptions = {}): ForwardingWorker {
  const { instance = DEFAULT_INSTANCE, eventInstance, eventTimeoutMs, remoteCommands, ...forwardOptions } = options;
  const remote = remoteCommands ? remoteCommandRoute(remoteCommands) : undefined;
  const eventOptions: ForwardEventOptions = {
    ...forwardOptions,
    ...(eventTimeoutMs !== undefined ? { timeoutMs: eventTimeoutMs } : {}),
  };
  const eventName = eventInstance ?? (typeof instance === "string" ? instance : DEFAULT_INSTANCE);
  const stub = (env: object, name: string) => {
    const namespace = (env as Record<string, unknown>)[binding] as DurableObjectNamespaceLike | undefined;
    if (!namespace || typeof namespace.idFromName !== "function") return undefined;
    return namespace.get(namespace.idFromName(name) as never);
  };
  const noBinding = `forwardTo("${binding}"): env.${binding} is not a Durable Object binding; add it to durable_objects.bindings in wrangler.jsonc`;
  const eventTarget = (env: object) => {
    const target = stub(env, eventName);
    if (!target) throw new ContainerflareError("INVALID_CONFIG", noBinding);
    return target;
  };
  return {
    async fetch(request, env) {
      const answered = remote ? await remote(request, env) : undefined;
      if (answered) return answered;
      const target = stub(env, typeof instance === "function" ? instance(request) : instance);
      if (!target) {
        // The fix is the Worker's configuration: said in its log, not to its clients.
        console.error(noBinding);
        return errorResponse(500, { code: "NO_BINDING", message: "Internal Server Error", retryable: false });
      }
      return forward(request, target, env, forwardOptions);
    },
    scheduled: (controller, env) => forwardScheduled(controller, eventTarget(env), env, eventOptions),
    queue: (batch, env) => forwardQueue(batch, eventTarget(env), env, eventOptions),
  };
}

/** What {@link forwardTo} returns: a Worker's default export with fetch, scheduled and queue. */
export interface ForwardingWorker {
  // `env: object`: any Worker's Env fits (an interface without an index signature too).
  fetch(request: WorkerRequest, env: object): Promise<Response>;
  /** Runs a Cron Trigger in the container's `scheduled` handler (see forwardScheduled). */
  scheduled(controller: ScheduledController, env: object): Promise<void>;
  /** Delivers a queue batch to the container's `queue` handler (see forwardQueue). */
  queue(batch: MessageBatch, env: object): Promise<void>;
}
