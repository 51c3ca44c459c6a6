/**
 * A real WebSocket client for the integration tests (Node's global WebSocket, undici), and a raw
 * handshake over node:http for upgrades that must fail (the client sees their status).
 */
import { request as httpRequest } from "node:http";

/** Bound of every wait on a socket. */
export const WAIT_MS = 10_000;

export interface Client {
  ws: WebSocket;
  /** The next message (strings as they are, binary as bytes). */
  next(): Promise<string | Uint8Array>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket and resolves once it is open; rejects on a failed handshake or after WAIT_MS. */
export function connectSocket(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<Client> {
  // Node's WebSocket (undici) takes request headers and protocols as a second-argument object.
  const ws = new (WebSocket as unknown as new (url: string, init?: unknown) => WebSocket)(url, options);
  ws.binaryType = "arraybuffer";
  const queue: (string | Uint8Array)[] = [];
  const waiting: ((value: string | Uint8Array) => void)[] = [];
  ws.addEventListener("message", (event) => {
    const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer);
    const waiter = waiting.shift();
    if (waiter) waiter(data);
    else queue.push(data);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  const next = () =>
    new Promise<string | Uint8Array>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error("no message within the wait")), WAIT_MS);
      waiting.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("socket did not open")), WAIT_MS);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolve({ ws, next, closed });
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error("handshake failed"));
    });
  });
}

/**
 * Opens `count` sockets to `url`, `batch` handshakes at a time (so that no listen backlog
 * overflows), and resolves once all of them are open; on any failure closes those that opened
 * and rejects. Each handshake is bounded by WAIT_MS.
 */
export async function connectMany(url: string, count: number, batch = 100): Promise<Client[]> {
  const clients: Client[] = [];
  for (let start = 0; start < count; start += batch) {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(batch, count - start) }, () => connectSocket(url)),
    );
    for (const result of results) if (result.status === "fulfilled") clients.push(result.value);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) {
      for (const client of clients) client.ws.close();
      throw new Error(`${clients.length} of ${count} sockets open: ${String(failed.reason)}`);
    }
  }
  return clients;
}

/** Resolves within WAIT_MS or rejects. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within the wait`)), WAIT_MS)),
  ]);
}

/** Resolves once `check()` holds; rejects after `waitMs` (WAIT_MS). */
export async function until(check: () => boolean, what: string, waitMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within the wait`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The handshake key of RFC 6455's example. */
export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** An upgrade handshake over node:http: the status the client sees (101 when accepted), body and headers. */
export function handshake(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
        ...headers,
      },
      timeout: WAIT_MS,
    });
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, body: "", headers: response.headers });
    });
    request.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("handshake timed out")));
    request.on("error", reject);
    request.end();
  });
}
