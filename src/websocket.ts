/**
 * WebSocket types of serve() and `upgradeWebSocket()`, the way a plain handler upgrades a request
 * it routes itself. Types only from crossws: this module loads nothing at run time, so a server
 * without WebSockets pays nothing for it (the crossws adapters load in src/serve/websocket.ts
 * when `serve(app, { websocket })` is given).
 *
 * @module
 */
import type { Hooks, Message, Peer, WSError } from "crossws";
import type { ServerRequest } from "srvx";
import type { Bindings } from "./command/index.ts";
import type { ContainerContext } from "./context.ts";

export type { Message as WebSocketMessage, Peer as WebSocketPeer, WSError as WebSocketError } from "crossws";

type MaybePromise<T> = T | Promise<T>;

/** What an `upgrade` hook may return: crossws's accept options (headers, protocol, …), or a Response that refuses. */
export type WebSocketUpgradeResult = Awaited<ReturnType<Hooks["upgrade"]>>;

/**
 * crossws hooks, each with the {@link ContainerContext} of the upgrade request as a last argument
 * (platform, the request info from the signed metadata header, the request's logger, bindings,
 * waitUntil). Plain crossws hooks fit as they are. The context is also `peer.context.containerflare`.
 *
 * - `upgrade(request, ctx)`: return or throw a `Response` to refuse (its status reaches the
 *   client); return `{ headers, protocol, … }` to accept with them.
 * - `open`, `message`, `close`, `error`, `drain`, `ping`, `pong`: as in crossws (what they return
 *   is ignored, but a promise is waited for on shutdown). A hook that throws
 *   (or rejects) is logged and its socket closed with 1011; it never takes the process down.
 */
export interface WebSocketHooks<Env = Bindings> {
  upgrade?(request: ServerRequest, ctx: ContainerContext<Env>): MaybePromise<WebSocketUpgradeResult>;
  open?(peer: Peer, ctx: ContainerContext<Env>): unknown;
  message?(peer: Peer, message: Message, ctx: ContainerContext<Env>): unknown;
  close?(peer: Peer, details: { code?: number; reason?: string }, ctx: ContainerContext<Env>): unknown;
  error?(peer: Peer, error: WSError, ctx: ContainerContext<Env>): unknown;
  drain?(peer: Peer, ctx: ContainerContext<Env>): unknown;
  ping?(peer: Peer, data: Uint8Array, ctx: ContainerContext<Env>): unknown;
  pong?(peer: Peer, data: Uint8Array, ctx: ContainerContext<Env>): unknown;
}

/** Whether `request` asks for a WebSocket (`Upgrade: websocket`). */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** A Response that carries WebSocket hooks (crossws's `response.crossws` convention). */
export type WebSocketUpgradeResponse<Env = Bindings> = Response & { crossws: WebSocketHooks<Env> };

/**
 * Where crossws looks for an upgrade's hooks on the request (`Symbol.for("crossws.hooks")`, its
 * `setWebSocketHooks` convention): hooks left there survive a later stage that rebuilds the Response.
 */
export const WEBSOCKET_HOOKS: unique symbol = Symbol.for("crossws.hooks") as never;

/**
 * Answers an upgrade request routed by the app with these hooks: the socket is accepted (or
 * refused by `hooks.upgrade`) when serve() runs with the `websocket` option (`true` to let the app
 * route every upgrade). Returned for a request that is no upgrade, or when WebSockets are off, the
 * Response is what it says: `426 Upgrade Required`.
 *
 * The hooks travel on the Response; pass the `request` too when a later stage may rebuild the
 * Response (itty's `corsify`, a middleware that copies it): they are then found on the request.
 *
 * ```ts
 * serve((request, ctx) =>
 *   new URL(request.url).pathname === "/ws"
 *     ? upgradeWebSocket({ message: (peer, message) => peer.send(message.text()) })
 *     : new Response("hi"),
 *   { websocket: true });
 * ```
 */
export function upgradeWebSocket<Env = Bindings>(
  hooks: WebSocketHooks<Env>,
  request?: Request,
): WebSocketUpgradeResponse<Env> {
  if (request) (request as Request & { [WEBSOCKET_HOOKS]?: unknown })[WEBSOCKET_HOOKS] = hooks;
  const response = new Response("Upgrade Required", {
    status: 426,
    headers: { upgrade: "websocket", connection: "Upgrade", "content-type": "text/plain;charset=UTF-8" },
  }) as WebSocketUpgradeResponse<Env>;
  response.crossws = hooks;
  return response;
}

/**
 * WebSocket options of serve() (`webSocketOptions`); each also has an environment variable, which
 * an option given here wins over. See the README's WebSocket section for what each runtime does.
 */
export interface WebSocketOptions {
  /**
   * Largest message in bytes (default 16 MiB; `CONTAINERFLARE_WS_MAX_MESSAGE_SIZE`); a larger one
   * closes its socket with 1009 (Message Too Big). Node (ws) and Bun stop reading it at the limit;
   * Deno reads it whole first.
   */
  maxMessageSize?: number;
  /**
   * Largest send buffer of one socket in bytes (default 16 MiB; `CONTAINERFLARE_WS_MAX_BUFFERED`):
   * a socket whose unsent data grows past it (a client that does not read) is closed by the send
   * that passed it. Node drops the connection at once; Bun closes it natively
   * (`backpressureLimit`, `closeOnBackpressureLimit`); Deno's socket has no terminate, so it is
   * closed with 1008 and nothing more is sent, but its connection lasts until the client goes.
   * `0`: no bound.
   */
  maxBufferedAmount?: number;
  /**
   * Most sockets open at once (default 10 000; `CONTAINERFLARE_WS_MAX_CONNECTIONS`): one more
   * upgrade is refused with 503 and `Retry-After`, before the app sees it.
   */
  maxConnections?: number;
  /**
   * Origins a browser's upgrade may come from (`CONTAINERFLARE_WS_ORIGINS`, comma-separated), or a
   * function that decides; default: any. A browser always sends `Origin`, and a page on another
   * site can open a WebSocket to this server with its visitor's cookies (cross-site WebSocket
   * hijacking): an upgrade whose `Origin` is not allowed is refused with 403 before the app sees
   * it. An upgrade without `Origin` (no browser) is not checked. `"*"` allows any.
   */
  allowedOrigins?: readonly string[] | ((origin: string, request: ServerRequest) => boolean);
  /** Reason of the 1001 close frame that open sockets get on shutdown (default "server shutting down"). */
  shutdownReason?: string;
  /**
   * Seconds without a message or pong before a socket is closed (crossws's idleTimeout; default
   * 30, 0: never; `CONTAINERFLARE_WS_IDLE_TIMEOUT`). The server pings, so a quiet client that
   * answers pings stays open.
   */
  idleTimeout?: number;
}
