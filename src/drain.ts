/**
 * Graceful connection draining on shutdown, per runtime. Once a drain begins, every HTTP/1.1
 * response says `Connection: close`, no new request starts on a connection whose last response is
 * decided, and every request already started is answered, so that `server.close()` ends as soon
 * as the last response is out, even while keep-alive clients keep sending.
 *
 * - Node (node:http): the keep-alive decision is made on the `ServerResponse` (`shouldKeepAlive`),
 *   also for responses already in flight when the drain begins; a request that Node parses behind
 *   a connection's final response (pipelining) is never handed to the app, and Node drops it when
 *   that connection closes. Idle connections are closed as they appear.
 * - Bun and Deno: once srvx's close() has stopped their servers, they end each connection after its
 *   in-flight response but do not say so on the wire, so a keep-alive client may send its next
 *   request into a closing connection. Responses completed while draining get `Connection: close`
 *   (a response with immutable headers is copied; a protocol switch is left alone).
 *
 * Cost while not draining: none per request on Node (the drain swaps the request listener when it
 * begins) and one Set entry per open connection, removed when the connection closes (the Set holds
 * exactly the server's open connections, so its bound is the server's); on Bun and Deno a wrapper of
 * the server's fetch (a boolean check per request, plus one promise reaction for a handler that answers
 * asynchronously, since the drain may begin while its response is pending; measured: 30-75 ns
 * against ~20 us per request).
 */
import type { IncomingMessage, Server as NodeHttpServer, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Server, ServerRequest } from "srvx";

/** How often idle keep-alive connections are closed while draining on Node. */
const IDLE_SWEEP_MS = 50;

/** A node:http request listener (srvx's, or serve()'s own: src/node/listener.ts). */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Drains the open connections of one srvx server on shutdown. */
export interface ConnectionDrain {
  /**
   * Wraps the server's fetch so that responses say `Connection: close` while draining (Bun and
   * Deno); returns `fetch` itself on Node, where the drain works on connections and costs nothing
   * per request. A wrapper rather than a srvx middleware: with any middleware srvx runs its
   * middleware chain for every request, which costs Bun and Deno more than the check itself.
   */
  wrap<Fetch extends (request: ServerRequest) => Response | Promise<Response>>(fetch: Fetch): Fetch;
  /**
   * Binds the drain to the server srvx created; call once, right after creating it. On Node,
   * `listener` tells which request listener answers requests when the drain begins (default:
   * srvx's; serve() may have put its own in its place, src/node/listener.ts).
   */
  attach(server: Server, listener?: () => NodeRequestListener): void;
  /** Starts draining; call before `server.close()`. Idempotent. */
  begin(): void;
  /** Stops the background work of the drain (the idle sweep); call once `server.close()` settled. */
  end(): void;
}

/** Internals of node:http this module reads (stable since Node 0.x, present on 20 and 24). */
interface HttpSocket extends Socket {
  /** The response being written on this connection, if any. */
  _httpMessage?: ServerResponse | null;
  /** The connection's HTTP parser; `incoming` is the latest request it parsed. */
  parser?: { incoming?: IncomingMessage | null } | null;
}

/** Returns `response` with `Connection: close`, copied when its headers are immutable. */
export function withConnectionClose(response: Response): Response {
  // A protocol switch (WebSocket upgrade) must reach the runtime untouched.
  if (response.status === 101 || response.headers.get("connection")?.toLowerCase() === "close") return response;
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    try {
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    } catch {
      return response; // Response.error() (status 0) cannot be rebuilt; the runtime closes it anyway
    }
  }
}

/** Node: connection-level drain over the node:http server srvx created. */
function drainNodeServer(server: NodeHttpServer, listener: () => NodeRequestListener) {
  let handler: NodeRequestListener = listener();
  const sockets = new Set<HttpSocket>();
  // Connections whose final response is decided: nothing more starts on them.
  const closing = new WeakSet<Socket>();
  server.on("connection", (socket: HttpSocket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  /** Answers the first request a connection sends while draining; never starts one behind it. */
  function onRequestWhileDraining(req: IncomingMessage, res: ServerResponse) {
    if (closing.has(req.socket)) return; // its connection closes after the response ahead of it
    closing.add(req.socket);
    res.shouldKeepAlive = false;
    return handler(req, res);
  }

  /** Makes the response in flight on `socket` the connection's last, when that loses nothing. */
  function closeAfterInFlight(socket: HttpSocket) {
    const response = socket._httpMessage;
    // Idle, or its head is on the wire already: the idle sweep or the next request closes it.
    if (!response || response.headersSent || response.writableEnded) return;
    // Requests pipelined behind it have started: they are answered, the next request closes.
    const latest = socket.parser?.incoming;
    if (latest && latest !== response.req) return;
    response.shouldKeepAlive = false;
    closing.add(socket);
  }

  let sweep: ReturnType<typeof setInterval> | undefined;
  return {
    begin() {
      // Swapping the listener (instead of a check inside it) keeps the request path untouched.
      handler = listener();
      if (server.listeners("request").includes(handler)) {
        server.removeListener("request", handler);
        server.prependListener("request", onRequestWhileDraining);
      }
      for (const socket of sockets) closeAfterInFlight(socket);
      // Keep-alive connections that turn idle while draining would stay open until their timeout.
      server.closeIdleConnections();
      sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    },
    end() {
      clearInterval(sweep);
    },
  };
}

/**
 * Bun and Deno close a connection after a response that says `Connection: close`; node:http decides
 * keep-alive per connection instead. (srvx picks its adapter by the same runtime check.)
 */
const marksResponses = "Bun" in globalThis || "Deno" in globalThis;

/** Creates the drain for the server that `serve()` is about to create. */
export function createConnectionDrain(): ConnectionDrain {
  let draining = false;
  let node: ReturnType<typeof drainNodeServer> | undefined;
  const markIfDraining = (response: Response) =>
    draining && response instanceof Response ? withConnectionClose(response) : response;
  return {
    wrap(fetch) {
      if (!marksResponses) return fetch;
      return ((request: ServerRequest) => {
        const result = fetch(request);
        if (result instanceof Response) return draining ? withConnectionClose(result) : result;
        // The drain may begin while this response is pending: decide when it is ready.
        return result.then(markIfDraining);
      }) as typeof fetch;
    },
    attach(server, listener) {
      const srvx = server.node;
      const nodeServer = srvx?.server;
      // HTTP/2 sessions (srvx over TLS) have no keep-alive to turn off: srvx's close() and the deadline apply.
      if (srvx && nodeServer && "closeIdleConnections" in nodeServer) {
        node = drainNodeServer(nodeServer, listener ?? (() => srvx.handler as NodeRequestListener));
      }
    },
    begin() {
      if (draining) return;
      draining = true;
      node?.begin();
    },
    end() {
      node?.end();
    },
  };
}
