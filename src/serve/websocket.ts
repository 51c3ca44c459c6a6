/**
 * WebSockets in serve(), over crossws's adapter for the runtime (node: ws, bun and deno: native),
 * loaded before the server listens and only when `serve(app, { websocket })` is given.
 *
 * An upgrade request takes the path of every request up to the app: the metadata stage (the
 * signed header verified and both headers removed), then the {@link RequestContext}. Then either
 * the server's hooks take it (`websocket: hooks`) or the app routes it (`websocket: true`: the app
 * returns `upgradeWebSocket(hooks)`, or anything else to refuse). The hooks are handed to crossws
 * as crossws's global hooks, which find each connection's own (bound to its context) on the
 * peer's context. crossws's `resolve` option would do the lookup for us, but it calls every hook
 * of every message through `Promise.all(…).then()`: a promise and a later microtask per message,
 * which cost a sixth of an echo's throughput on Node.
 *
 * What this adds to crossws: the context, a check of the handshake (400, or 426 for another
 * version) so that no runtime fails on a bad one, the origin check and the bound on open sockets
 * (403 and 503 before the app sees the upgrade), a message size limit where the runtime has none
 * (Deno), a send buffer bound where crossws exposes only `bufferedAmount` (Node, Deno), hooks
 * that cannot take the process down, an access line per upgrade (a refusal when it is refused,
 * a 101 with the socket's lifetime when it closes), and the sockets' part of the shutdown (1001).
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { Hooks, Message, Peer, WSError } from "crossws";
import { getWebSocketHooks } from "crossws";
import type { Server, ServerRequest } from "srvx";
import { RequestContext } from "../context.ts";
import { isWebSocketUpgrade, type WebSocketHooks, type WebSocketOptions } from "../websocket.ts";
import { type AccessLogWriter, accessLogWriter } from "./access-log.ts";
import type { MetadataStage } from "./metadata.ts";
import type { Step } from "./parts.ts";
import { RUNTIME } from "./runtime.ts";
import type { ServerState } from "./state.ts";

/**
 * Defaults of {@link WebSocketOptions}. 16 MiB messages: twice Hono's and h3's typical payloads,
 * half of what a Worker relays (32 MiB). 10 000 sockets: ten times Cloud Run's most concurrent
 * requests per instance, and what an idle socket costs (tens of KiB with its kernel buffers)
 * keeps it under a gigabyte.
 */
export const WEBSOCKET_DEFAULTS = {
  maxMessageSize: 16 * 1024 * 1024,
  maxBufferedAmount: 16 * 1024 * 1024,
  maxConnections: 10_000,
  shutdownReason: "server shutting down",
  idleTimeout: 30,
} as const;

/** What {@link createWebSocketServer} needs from serve(). */
export interface WebSocketServerOptions {
  server: Server;
  /** The server's hooks; `undefined`: the app routes each upgrade. */
  hooks: WebSocketHooks | undefined;
  /** serve()'s `webSocketOptions` over the environment's. */
  options: WebSocketOptions;
  /** Whether the access log is on (a promise on Bun until its terminal check settles). */
  accessLog: boolean | Promise<boolean>;
  metadata: MetadataStage;
  state: ServerState;
  /** The composed parts and app (for upgrades the app routes). */
  respond(): Step;
  logger: ConsolaInstance;
  /** The Bun `websocket` handler object serve() gave srvx; filled in here before Bun.serve runs. */
  bunHandlers?: Record<string, unknown>;
}

/** The WebSocket side of one server. */
export interface WebSocketServer {
  /** Bun and Deno: answers an upgrade request (serve()'s fetch sends them here). */
  handle(request: ServerRequest): Promise<Response | undefined>;
  /** Number of open sockets. */
  readonly size: number;
  /**
   * Refuses new upgrades (503) and closes every open socket with 1001 and the shutdown reason
   * (`force`: drops them); resolves once each one's close hook has run.
   */
  close(force: boolean): Promise<void>;
}

const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** The refusal of a handshake no runtime should see (RFC 6455 4.2.1), or undefined when it is well formed. */
export function checkHandshake(request: Request): Response | undefined {
  const headers = request.headers;
  const bad = (why: string) => new Response(`Bad WebSocket handshake: ${why}`, { status: 400 });
  if (request.method !== "GET") return bad("method must be GET");
  if (!isWebSocketUpgrade(request)) return bad("Upgrade must be websocket");
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  if (!connection.split(",").some((token) => token.trim() === "upgrade")) return bad("Connection must name Upgrade");
  if (!KEY.test(headers.get("sec-websocket-key")?.trim() ?? "")) return bad("missing or invalid Sec-WebSocket-Key");
  if (headers.get("sec-websocket-version")?.trim() !== "13") {
    return new Response("Unsupported WebSocket version", { status: 426, headers: { "sec-websocket-version": "13" } });
  }
  return undefined;
}

/** Whether `message` carries more than `limit` bytes (a string's UTF-8 length counted only when it may be past it). */
function tooBig(message: Message, limit: number): boolean {
  const data = message.rawData as string | ArrayBuffer | ArrayBufferView | Blob | ArrayBufferView[] | undefined;
  if (typeof data === "string") {
    if (data.length > limit) return true;
    if (data.length * 3 <= limit) return false;
    let length = data.length;
    for (let index = 0; index < data.length && length <= limit; index++) {
      const code = data.charCodeAt(index);
      if (code >= 0x80) length += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
    }
    return length > limit;
  }
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength > limit;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size > limit;
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.byteLength, 0) > limit;
  return false;
}

/** The runtime's own socket of a crossws peer (crossws keeps it in `_internal.ws`). */
function rawSocket(peer: Peer): { binaryType?: string; addEventListener?: WebSocket["addEventListener"] } | undefined {
  return (peer as unknown as { _internal?: { ws?: never } })._internal?.ws;
}

/** How a connection ended, as the close hook gets it. */
type CloseDetails = { code?: number; reason?: string };

/**
 * Reports the end of a Deno socket to `ended` from the socket's own close event (Deno's adapter
 * gives no code). Deno's code is 0 where no close frame came back. After an error event (the
 * client reset an open connection, or the close frame could not be written) that is an abnormal
 * closure: 1006. Without one, the server had sent its close frame and Deno ended the connection
 * at the client's next frame or read error instead of waiting for the echo (it does so without an
 * error event). The server's own close ended it, so its code and reason are reported, as Node
 * and Bun report them there.
 */
function reportDenoEnd(
  peer: Peer,
  socket: Pick<WebSocket, "addEventListener">,
  ended: (details: CloseDetails) => void,
) {
  let sent: CloseDetails | undefined;
  let failed = false;
  const close = peer.close.bind(peer);
  peer.close = (code, reason) => {
    close(code, reason);
    // The first close frame is the one sent: Deno ignores a close() while closing, and one that
    // threw (a code or reason it refuses) sent none.
    sent ??= { code: code ?? 1005, reason: reason ?? "" };
  };
  socket.addEventListener("error", () => (failed = true));
  socket.addEventListener("close", (event) => {
    if (event.code !== 0) ended({ code: event.code, reason: event.reason });
    else ended(!failed && sent ? sent : { code: 1006, reason: "" });
  });
}

/** Where a connection's own hooks are kept on its peer's context (set by their upgrade hook). */
const BOUND = Symbol("containerflare.websocket.hooks");

/** The hooks of the connection `peer` belongs to. */
const boundTo = (peer: Peer) => (peer.context as { [BOUND]?: Partial<Hooks> } | undefined)?.[BOUND];

/** Hooks that refuse the upgrade with `response`. */
const refuse = (response: Response): Partial<Hooks> => ({ upgrade: () => response });

/** Whether a browser's `Origin` may open a socket; undefined: any may. */
type OriginCheck = ((origin: string, request: ServerRequest) => boolean) | undefined;

/** The check of {@link WebSocketOptions.allowedOrigins}: a function as it is, a list compared as serialized origins. */
function originCheck(allowed: WebSocketOptions["allowedOrigins"]): OriginCheck {
  if (allowed === undefined || typeof allowed === "function") return allowed;
  if (allowed.includes("*")) return undefined;
  const origins = new Set(allowed.map((origin) => origin.trim().toLowerCase().replace(/\/$/, "")));
  return (origin) => origins.has(origin.toLowerCase());
}

/** The 403 of an upgrade from an origin that is not allowed (an upgrade without `Origin` comes from no browser). */
function checkOrigin(request: ServerRequest, allowed: OriginCheck): Response | undefined {
  const origin = request.headers.get("origin");
  if (!allowed || origin === null) return undefined;
  let ok = false;
  try {
    ok = allowed(origin, request) === true;
  } catch {
    ok = false;
  }
  return ok ? undefined : new Response("WebSocket origin not allowed", { status: 403 });
}

/** The access line of one upgrade: its refusal, or the 101 once the socket closed (the latency is the socket's life). */
interface Access {
  refused(response: Response): Response;
  closed(): void;
}

function accessLine(
  write: AccessLogWriter | undefined,
  request: ServerRequest,
  ctx: RequestContext,
  started: number,
): Access {
  return {
    refused(response) {
      write?.(request, ctx, started, response.status, true);
      return response;
    },
    closed() {
      write?.(request, ctx, started, 101, true);
    },
  };
}

/**
 * Gives a binary message an `arrayBuffer()` of exactly its bytes. On Node a message is a Buffer,
 * often a view into a larger pooled buffer, and crossws's `arrayBuffer()` returns the view's
 * whole underlying buffer: other bytes around the message's own.
 */
function exactArrayBuffer(message: Message): void {
  const data = message.rawData as unknown;
  if (!(data instanceof Uint8Array)) return;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return;
  let copy: ArrayBuffer | undefined;
  Object.defineProperty(message, "arrayBuffer", {
    value: () => (copy ??= new Uint8Array(data).buffer),
    configurable: true,
  });
}

/** Creates the WebSocket side of one server (loads crossws's adapter for this runtime). */
export async function createWebSocketServer(options: WebSocketServerOptions): Promise<WebSocketServer> {
  const { server, metadata, state, logger } = options;
  const maxMessageSize = options.options.maxMessageSize ?? WEBSOCKET_DEFAULTS.maxMessageSize;
  const maxBufferedAmount = options.options.maxBufferedAmount ?? WEBSOCKET_DEFAULTS.maxBufferedAmount;
  const maxConnections = options.options.maxConnections ?? WEBSOCKET_DEFAULTS.maxConnections;
  const shutdownReason = options.options.shutdownReason ?? WEBSOCKET_DEFAULTS.shutdownReason;
  const idleTimeout = options.options.idleTimeout ?? WEBSOCKET_DEFAULTS.idleTimeout;
  const originAllowed = originCheck(options.options.allowedOrigins);
  const writeAccess = accessLogWriter(options.accessLog);

  /** The hooks of each upgrade request, decided before crossws asks (its upgrade hook). */
  const routed = new WeakMap<Request, Partial<Hooks>>();
  /** Open sockets, each with what resolves once its close hook ran. */
  const open = new Map<Peer, () => void>();
  const closed = new Set<Promise<void>>();
  /**
   * Deno's adapter reports no close code, so there the socket's own close event (listened to
   * after crossws's) ends the connection, with its code and reason; crossws's close is ignored.
   */
  const closedByEvent = new WeakSet<Peer>();
  /** Deno's upgrade takes no headers: those an upgrade hook accepted with, set on its 101. */
  const acceptHeaders = new WeakMap<Request, Headers>();
  /** Sockets the shutdown sent its 1001 close frame: no message is accepted from them after it. */
  const goingAway = new WeakSet<Peer>();
  let closing = false;

  /** Sockets turned away in `open` (more than maxConnections got through their handshakes at once): no hook sees them. */
  const turnedAway = new WeakSet<Peer>();

  /** The server's or the app's hooks bound to the upgrade request's context. */
  function bind(hooks: WebSocketHooks, ctx: RequestContext, request: ServerRequest, access: Access): Partial<Hooks> {
    const fail = (peer: Peer | undefined, error: unknown) => {
      try {
        ctx.log.error("WebSocket hook failed:", error);
        peer?.close(1011, "internal error");
      } catch (failure) {
        logger.error("WebSocket hook failed:", error, failure);
      }
    };
    /** Runs a hook; a rejection or throw is logged and closes the socket; async work is waited for on shutdown. */
    const run = (peer: Peer | undefined, call: () => unknown) => {
      try {
        const result = call() as Promise<unknown> | undefined;
        if (result && typeof result.then === "function") ctx.waitUntil(result.then(undefined, (e) => fail(peer, e)));
      } catch (error) {
        fail(peer, error);
      }
    };
    /** The connection ended: the close hook, the access line, and the shutdown's wait released. */
    const ended = (peer: Peer, details: CloseDetails) => {
      // Once: Deno may report a connection's end twice (an abnormal end, then its close()).
      if (!open.has(peer)) return;
      try {
        run(undefined, () => hooks.close?.(peer, details, ctx));
      } finally {
        access.closed();
        open.get(peer)?.();
        open.delete(peer);
      }
    };
    const bound: Partial<Hooks> = {
      async upgrade(request) {
        let result: Awaited<ReturnType<Hooks["upgrade"]>>;
        try {
          result = await hooks.upgrade?.(request as ServerRequest, ctx);
        } catch (error) {
          const response = error instanceof Response ? error : (error as { response?: unknown })?.response;
          if (response instanceof Response) return access.refused(response);
          ctx.log.error("WebSocket upgrade hook failed:", error);
          return access.refused(new Response("Internal Server Error", { status: 500 }));
        }
        if (result instanceof Response) return access.refused(result);
        if (result?.headers) acceptHeaders.set(request, new Headers(result.headers));
        return { ...result, context: { ...result?.context, containerflare: ctx, [BOUND]: bound } };
      },
      open(peer) {
        if (open.size >= maxConnections) {
          turnedAway.add(peer);
          peer.close(1013, "too many connections");
          return;
        }
        let done = () => {};
        const promise = new Promise<void>((resolve) => (done = resolve));
        closed.add(promise);
        void promise.then(() => closed.delete(promise));
        open.set(peer, done);
        // The hooks see the request without the metadata headers (Node's and Deno's adapters
        // build their view of it from the runtime's own request, before the metadata stage ran).
        const internal = (peer as unknown as { _internal?: { request?: Request } })._internal;
        if (internal) internal.request = request;
        if (RUNTIME === "deno") {
          const socket = rawSocket(peer);
          if (socket) socket.binaryType = "arraybuffer";
          if (socket?.addEventListener) {
            closedByEvent.add(peer);
            reportDenoEnd(peer, socket as Pick<WebSocket, "addEventListener">, (details) => ended(peer, details));
          }
        }
        if (RUNTIME !== "bun" && maxBufferedAmount > 0) {
          const send = peer.send.bind(peer);
          peer.send = (data, sendOptions) => {
            const sent = send(data, sendOptions);
            if (peer.bufferedAmount > maxBufferedAmount) {
              ctx.log.warn(`WebSocket send buffer above ${maxBufferedAmount} bytes: socket closed`);
              // Node (ws) drops the connection and its buffer; Deno's socket has no terminate:
              // its close ends the connection (the close frame cannot pass the full buffer).
              if (RUNTIME === "deno") peer.close(1008, "send buffer full");
              else peer.terminate();
            }
            return sent;
          };
        }
        if (closing) {
          goingAway.add(peer);
          peer.close(1001, shutdownReason);
        }
        run(peer, () => hooks.open?.(peer, ctx));
      },
      message(peer, message) {
        // After its close frame the server may send no data frame (RFC 6455 5.5.1): a message
        // read after the shutdown's 1001 could never be answered, so it is not accepted. Node's
        // ws still emits it (and drops the hook's reply unsent); Bun and Deno do not deliver it.
        // The shutdown runs in a task of its own, so every message read before it reached its
        // hook first.
        if (turnedAway.has(peer) || goingAway.has(peer)) return;
        if (tooBig(message, maxMessageSize)) {
          peer.close(1009, "message too big");
          return;
        }
        exactArrayBuffer(message);
        run(peer, () => hooks.message?.(peer, message, ctx));
      },
      close(peer, details) {
        // Its 101 was sent, then 1013: the line says 101, as for any socket that closed.
        if (turnedAway.has(peer)) return access.closed();
        if (!closedByEvent.has(peer)) ended(peer, details);
      },
      error(peer, error) {
        if (hooks.error) run(undefined, () => hooks.error?.(peer, error, ctx));
        else ctx.log.debug("WebSocket error:", error);
      },
      drain: (peer) => run(peer, () => hooks.drain?.(peer, ctx)),
      ping: (peer, data) => run(peer, () => hooks.ping?.(peer, data, ctx)),
      pong: (peer, data) => run(peer, () => hooks.pong?.(peer, data, ctx)),
    };
    return bound;
  }

  /**
   * Decides the hooks of an upgrade request: the metadata stage and the context first, as for
   * any request (so that every refusal has the request's id in its access line), then what may
   * refuse it before the app sees it: the handshake, the shutdown, the origin, the socket bound.
   */
  async function route(request: ServerRequest): Promise<Partial<Hooks>> {
    const started = performance.now();
    let entered: [ServerRequest, ConstructorParameters<typeof RequestContext>[2]] | undefined;
    await metadata.run(request, (stripped, fields) => {
      entered = [stripped, fields];
      return new Response(null);
    });
    const [stripped, fields] = entered as NonNullable<typeof entered>;
    const ctx = new RequestContext(stripped, state, fields);
    // What the context knows about the request is read now: once upgraded, the runtime's request
    // is closed (Deno throws for its address), and hooks read the context later.
    void ctx.request;
    const access = accessLine(writeAccess, stripped, ctx, started);
    const refusal =
      checkHandshake(stripped) ??
      (closing ? new Response("Service Unavailable", { status: 503, headers: { connection: "close" } }) : undefined) ??
      checkOrigin(stripped, originAllowed) ??
      (open.size >= maxConnections
        ? new Response("Too many WebSocket connections", { status: 503, headers: { "retry-after": "1" } })
        : undefined);
    if (refusal) return refuse(access.refused(refusal));
    if (options.hooks) return bind(options.hooks, ctx, stripped, access);
    const response = (await options.respond()(stripped, ctx)) as Response & { crossws?: WebSocketHooks };
    const hooks = response.crossws ?? (getWebSocketHooks(stripped) as WebSocketHooks | undefined);
    if (!hooks) return refuse(access.refused(response));
    response.body?.cancel().catch(() => {});
    return bind(hooks, ctx, stripped, access);
  }

  async function prepare(request: ServerRequest): Promise<void> {
    try {
      routed.set(request, await route(request));
    } catch (error) {
      logger.error("WebSocket upgrade failed:", error);
      routed.set(request, refuse(new Response("Internal Server Error", { status: 500 })));
    }
  }

  const adapterOptions = {
    hooks: {
      upgrade: (request: Request) =>
        (routed.get(request) ?? refuse(new Response("Bad Request", { status: 400 }))).upgrade?.(request),
      open: (peer: Peer) => boundTo(peer)?.open?.(peer),
      message: (peer: Peer, message: Message) => boundTo(peer)?.message?.(peer, message),
      close: (peer: Peer, details: CloseDetails) => boundTo(peer)?.close?.(peer, details),
      error: (peer: Peer, error: WSError) => boundTo(peer)?.error?.(peer, error),
      drain: (peer: Peer) => boundTo(peer)?.drain?.(peer),
      ping: (peer: Peer, data: unknown) => boundTo(peer)?.ping?.(peer, data as never),
      pong: (peer: Peer, data: unknown) => boundTo(peer)?.pong?.(peer, data as never),
    } satisfies Partial<Hooks>,
    idleTimeout,
  };

  let handle: WebSocketServer["handle"];
  if (RUNTIME === "node") {
    const [{ default: nodeAdapter }, { NodeRequest }] = await Promise.all([
      import("crossws/adapters/node"),
      import("srvx/node"),
    ]);
    const adapter = nodeAdapter({ ...adapterOptions, serverOptions: { maxPayload: maxMessageSize } });
    const nodeServer = server.node?.server;
    nodeServer?.on("upgrade", (req, socket, head) => {
      socket.on("error", (error: Error) => logger.debug("WebSocket socket error:", error));
      const request = new NodeRequest({ req, upgrade: { socket, head } } as never) as unknown as ServerRequest;
      prepare(request)
        .then(() => adapter.handleUpgrade(req, socket, head, request))
        .catch((error: unknown) => {
          logger.error("WebSocket upgrade failed:", error);
          socket.destroy();
        });
    });
    handle = async () => undefined;
  } else if (RUNTIME === "bun") {
    const { default: bunAdapter } = await import("crossws/adapters/bun");
    const adapter = bunAdapter(adapterOptions);
    Object.assign(options.bunHandlers ?? {}, adapter.websocket, {
      maxPayloadLength: maxMessageSize,
      ...(maxBufferedAmount > 0 ? { backpressureLimit: maxBufferedAmount, closeOnBackpressureLimit: true } : {}),
    });
    handle = async (request) => {
      await prepare(request);
      return adapter.handleUpgrade(request, request.runtime?.bun?.server as never);
    };
  } else {
    const { default: denoAdapter } = await import("crossws/adapters/deno");
    const adapter = denoAdapter(adapterOptions);
    handle = async (request) => {
      await prepare(request);
      const response = await adapter.handleUpgrade(request, request.runtime?.deno?.info as never);
      const headers = acceptHeaders.get(request);
      if (headers && response.status === 101) {
        try {
          for (const [name, value] of headers) if (!response.headers.has(name)) response.headers.set(name, value);
        } catch (error) {
          logger.debug("WebSocket upgrade headers not set:", error);
        }
      }
      return response;
    };
  }

  return {
    handle,
    get size() {
      return open.size;
    },
    async close(force) {
      closing = true;
      for (const peer of open.keys()) {
        try {
          goingAway.add(peer);
          if (force) peer.terminate();
          else peer.close(1001, shutdownReason);
        } catch {}
      }
      while (closed.size > 0) await Promise.all(closed);
    },
  };
}
