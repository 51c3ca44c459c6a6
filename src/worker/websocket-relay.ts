/**
 * A WebSocket the container accepted, relayed by its Durable Object: the object accepts the
 * container's end and a new pair's server end, and copies each message across. Passing the 101
 * through would be cheaper, but then the object sees none of the socket's traffic: it could not
 * tell a busy socket from an idle container, and the platform documents no activity for a socket
 * it does not hold. Relayed, each message is activity the container's inactivity timeout is
 * renewed by, and the accepted sockets keep the object in memory while they are open.
 *
 * Nothing is buffered here: workerd queues what `send` is given (a Worker's WebSocket exposes no
 * backpressure), and its own 32 MiB message limit closes a larger message with 1009.
 *
 * @module
 */

/** The workerd WebSocket calls the relay uses (a `WebSocket` of @cloudflare/workers-types fits). */
export interface RelayedSocket {
  accept(): void;
  send(message: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: string | ArrayBuffer }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

/** workerd's `WebSocketPair`, present in a Worker and absent elsewhere. */
type WebSocketPairConstructor = new () => { 0: RelayedSocket; 1: RelayedSocket };

/**
 * Whether a close code may be sent on (RFC 6455 7.4): 1005, 1006 and 1015 only describe a close
 * and never travel in a frame; unassigned codes are refused by the runtime.
 */
export function sendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Closes `socket` with what the other side closed with, as far as it can be sent on; never throws. */
function closeLike(socket: RelayedSocket, code: number, reason: string): void {
  try {
    if (sendableCloseCode(code)) socket.close(code, reason);
    else socket.close();
  } catch {
    // Already closed: nothing left to tell it.
  }
}

/**
 * Relays the socket of a container's 101 through a new pair and answers the client with the
 * pair's end and the 101's headers; `onMessage` runs for each message in either direction.
 * A response that is no upgrade (or a runtime without `WebSocketPair`) is returned untouched.
 */
export function relayWebSocket(response: Response, onMessage: () => void): Response {
  const upstream = (response as Response & { webSocket?: RelayedSocket | null }).webSocket;
  const Pair = (globalThis as { WebSocketPair?: WebSocketPairConstructor }).WebSocketPair;
  if (response.status !== 101 || !upstream || !Pair) return response;
  const pair = new Pair();
  const client = pair[0];
  const server = pair[1];
  upstream.accept();
  server.accept();
  const pipe = (from: RelayedSocket, to: RelayedSocket) => {
    from.addEventListener("message", (event) => {
      onMessage();
      try {
        to.send(event.data);
      } catch {
        // `to` is closing: its close event ends the relay.
      }
    });
    from.addEventListener("close", (event) => closeLike(to, event.code, event.reason));
    from.addEventListener("error", () => closeLike(to, 1011, "the other side of the relay failed"));
  };
  pipe(upstream, server);
  pipe(server, upstream);
  return new Response(null, { status: 101, headers: response.headers, webSocket: client } as ResponseInit);
}
