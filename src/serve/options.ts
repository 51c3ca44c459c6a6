/**
 * The public types of {@link serve}: what it accepts and what it returns.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { ServerOptions, ServerRequest } from "srvx";
import type { Bindings } from "../command/index.ts";
import type { CloudRunEventsOptions, ConsoleMode, EnvSource, RuntimeConfig } from "../config.ts";
import type { ContainerContext } from "../context.ts";
import type { EventHandlers, ScheduledHandler } from "../events/types.ts";
import type { PlatformInfo } from "../platform.ts";
import type { WebSocketHooks, WebSocketOptions } from "../websocket.ts";

/** A fetch handler that also receives the {@link ContainerContext}. */
export type Handler<Env = Bindings> = (
  request: ServerRequest,
  ctx: ContainerContext<Env>,
) => Response | Promise<Response>;

/**
 * What `serve()` accepts: a handler, or an object with a `fetch` handler (Hono, H3, itty apps)
 * and, like a Worker's module, `scheduled` and `queue` handlers for the events the Worker (or
 * Cloud Run's Pub/Sub and Scheduler) forwards.
 */
export type App<Env = Bindings> =
  | Handler<Env>
  | ({ fetch: Handler<Env> } & EventHandlers<Env>)
  | ({ fetch?: undefined } & EventHandlers<Env> &
      ({ scheduled: ScheduledHandler<Env> } | { queue: NonNullable<EventHandlers<Env>["queue"]> }));

/** Work to run once on shutdown, after in-flight requests and `waitUntil` work have finished. */
export type ShutdownHook = () => unknown | Promise<unknown>;

/** Options of {@link serve}. Anything not given comes from the environment contract. */
export interface ServeOptions<Env = Bindings> {
  /** Bind port; wins over `PORT` and `CF_CONTAINER_PORT`. */
  port?: number;
  /** Bind address; wins over `CF_CONTAINER_ADDR`. */
  hostname?: string;
  /** Environment to read instead of `process.env`. */
  env?: EnvSource;
  /** Configuration values that win over the environment. */
  config?: Partial<RuntimeConfig>;
  /** Hooks run on shutdown, in order, before the command client closes. */
  onShutdown?: ShutdownHook | ShutdownHook[];
  /**
   * Whether serve() owns the process (default true): it handles SIGTERM/SIGINT, exits 0 after a
   * graceful shutdown, and exits 1 with one line on a bad environment or a port it cannot bind.
   * With false it throws instead and leaves signals alone (for embedding and tests).
   */
  manageProcess?: boolean;
  /** Logger to use instead of the one built from the environment. */
  logger?: ConsolaInstance;
  /**
   * In the JSON log formats, `structured` (the default) turns `console.log/info/warn/error/debug/trace`
   * inside a request (and its `waitUntil` work) into log lines with the request's id and trace;
   * `plain` leaves console alone. Wins over `CONTAINERFLARE_CONSOLE`.
   */
  console?: ConsoleMode;
  /**
   * On Node, install containerflare's fast `Response` as the global `Response` while the server
   * runs, so that responses built by the app (or by Hono) skip the Web-stream round trip; it keeps
   * the native Response's behaviour (see docs/fast-path.md). Default true; no effect on Bun and Deno.
   */
  fastResponse?: boolean;
  /**
   * Largest request body in bytes; wins over `CONTAINERFLARE_MAX_BODY_SIZE` (default 32 MiB, `0`:
   * no limit). A declared `Content-Length` above it is answered 413 before the handler runs; a
   * chunked body fails with `TOO_LARGE` (413) when it is read past the limit.
   */
  maxRequestBodySize?: number;
  /**
   * WebSockets (off by default: an upgrade request then reaches the app as a plain request).
   * crossws hooks, each with the upgrade request's context as last argument, take every upgrade;
   * `true` lets the app route them: it returns `upgradeWebSocket(hooks)` to accept, anything else
   * to refuse (that response reaches the client).
   */
  websocket?: WebSocketHooks<Env> | true;
  /**
   * WebSocket options: message size (1009), send buffer, most open sockets, allowed origins,
   * shutdown close reason, idle timeout. Each wins over its environment variable.
   */
  webSocketOptions?: WebSocketOptions;
  /**
   * Path of the built-in health route, e.g. `/healthz`; wins over `CONTAINERFLARE_HEALTH_PATH`
   * (off when neither is set). `GET`/`HEAD` there answers 200 `{"status":"serving"}`, and 503
   * `{"status":"draining"}` once shutdown has begun, wherever the app itself answers 404: a route
   * of the app at that path always wins.
   */
  healthPath?: string;
  /**
   * Pub/Sub push and Cloud Scheduler on Cloud Run (docs/deploy.md, "Events on Cloud Run"): the
   * paths they reach `queue` and `scheduled` on, and the OIDC check. Each value wins over its
   * variable (`CONTAINERFLARE_PUBSUB_PATH`, `CONTAINERFLARE_SCHEDULER_PATH`, `CONTAINERFLARE_OIDC_*`).
   */
  cloudRunEvents?: CloudRunEventsOptions;
  /** Extra srvx options (e.g. `node`, `bun`, `deno`). */
  srvx?: Omit<Partial<ServerOptions>, "fetch" | "port" | "hostname">;
}

/** The running server. */
export interface ContainerServer {
  /** Listening URL once bound. */
  readonly url?: string;
  /** The platform detected at start-up. */
  readonly platform: PlatformInfo;
  /** The validated configuration. */
  readonly config: RuntimeConfig;
  /** The process logger. */
  readonly logger: ConsolaInstance;
  /** Resolves once the server listens. */
  ready(): Promise<this>;
  /**
   * Stops accepting connections, waits for in-flight requests and `waitUntil` work, runs the
   * shutdown hooks and closes the command client. `force` drops open connections at once.
   */
  close(force?: boolean): Promise<void>;
}
