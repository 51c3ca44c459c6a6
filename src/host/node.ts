/**
 * `containerflare/host/node`: the JSON-lines command host on tcp and unix sockets and on a child
 * process's stdio, for Node, Bun and Deno. Kept apart from `containerflare/host`, which has no
 * node: imports so that it bundles for workerd.
 */

import { unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { type CommandEndpoint, parseCommandEndpoint } from "../config.ts";
import { createDefaultLogger } from "../default-logger.ts";
import { createByteBudget } from "../protocol/lines.ts";
import type { CommandHost } from "./host.ts";
import { createStreamSession, type StreamConnection } from "./session.ts";

/** A listening command host. */
export interface CommandHostListener {
  /** `tcp://127.0.0.1:PORT` or `unix:///path`: what a client's `CF_CMD_ENDPOINT` should say. */
  readonly url: string;
  /** The bound port (tcp). */
  readonly port?: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Options of {@link listenCommandHost}. */
export interface CommandHostListenerOptions {
  /** Connections served at once; one more is closed as soon as it is accepted (logged). Default 64. */
  maxConnections?: number;
  /**
   * Bytes of partial request lines all connections may buffer together, above the first 64 KiB
   * of each (always theirs); default 64 MiB. A frame that finds it used up is skipped and
   * answered with a retryable UNAVAILABLE. With the defaults partial lines hold at most
   * 64 MiB + 64 × 64 KiB = 68 MiB, instead of 64 × 16 MiB.
   */
  maxBufferedBytes?: number;
  /** Where refused connections and frames are reported; default warnings on stderr. */
  logger?: ConsolaInstance;
}

/** Default {@link CommandHostListenerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Default {@link CommandHostListenerOptions.maxBufferedBytes}: 64 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Refused connections are logged at most this often (a flood must not flood the log). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

const positiveInteger = v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1)));
const ListenerOptionsSchema = v.object({ maxConnections: positiveInteger, maxBufferedBytes: positiveInteger });

/** Node-style byte streams: a socket, `child.stdout`/`child.stdin`, `process.stdin`/`process.stdout`. */
export interface NodeReadable {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Backpressure: no `data` until `resume()`. */
  pause(): unknown;
  resume(): unknown;
  destroy?(): unknown;
}
/** The writable half. */
export interface NodeWritable {
  /** Node's contract: `callback` runs once the text is flushed (or could not be). */
  write(text: string, callback: (error?: Error | null) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  destroy?(): unknown;
}

/**
 * Serves JSON lines over Node-style streams, e.g. the stdio of a child process whose
 * `CF_CMD_ENDPOINT=stdio`: `serveNodeStream(host, child.stdout, child.stdin)`. Resolves when
 * the input ends and every answer was handed to `output`. The input is paused while the child
 * leaves answers unread, with the limits of the host's `streams` option; a closed connection
 * is logged to `options.logger` (default: warnings on stderr).
 */
export function serveNodeStream(
  host: CommandHost,
  input: NodeReadable,
  output: NodeWritable,
  options: { logger?: ConsolaInstance } = {},
): Promise<void> {
  let outputFailed = false;
  const session = createStreamSession(
    host,
    {
      write(text, flushed) {
        if (outputFailed) return flushed();
        output.write(text, flushed);
      },
      pause: () => void input.pause(),
      resume: () => void input.resume(),
      destroy() {
        input.destroy?.();
        output.destroy?.();
      },
    },
    { logger: options.logger ?? createDefaultLogger("containerflare:host") },
  );
  output.on("error", () => {
    outputFailed = true;
    session.close();
  });
  input.on("data", (chunk) => session.push(chunk));
  return new Promise((resolve) => {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      void session.drain().then(() => resolve());
    };
    input.on("end", end);
    input.on("close", end);
    input.on("error", end);
  });
}

function listen(server: Server, endpoint: Extract<CommandEndpoint, { kind: "tcp" | "unix" }>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    if (endpoint.kind === "tcp") server.listen(endpoint.port, endpoint.host);
    else server.listen(endpoint.path);
  });
}

/** Whether something answers on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** A socket as a session sees it: writes report their flush, reads pause under backpressure. */
function socketConnection(socket: Socket): StreamConnection {
  return {
    write(text, flushed) {
      if (socket.destroyed) return flushed();
      socket.write(text, flushed);
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    destroy: () => void socket.destroy(),
  };
}

/** Logs refused connections: the first at once, then at most one line per interval with the count. */
function refusalLog(logger: ConsolaInstance, maxConnections: number): () => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return () => {
    unlogged++;
    const now = Date.now();
    if (now - lastAt < REFUSAL_LOG_INTERVAL_MS) return;
    logger.warn(
      `command host: ${unlogged} connection${unlogged === 1 ? "" : "s"} refused: ${maxConnections} are open (maxConnections)`,
    );
    lastAt = now;
    unlogged = 0;
  };
}

/**
 * Listens for command clients on `tcp://host:port` or `unix:///path`.
 * A stale unix socket file left by a killed host is replaced; a live one is an error.
 * At most `maxConnections` connections are served at once, and their partial lines share one
 * buffer budget (see {@link CommandHostListenerOptions}); each connection has the host's
 * stream limits (`createCommandHost({ streams })`).
 */
export async function listenCommandHost(
  host: CommandHost,
  endpoint: CommandEndpoint | string,
  options: CommandHostListenerOptions = {},
): Promise<CommandHostListener> {
  const target = typeof endpoint === "string" ? parseCommandEndpoint(endpoint, "endpoint") : endpoint;
  if (target.kind !== "tcp" && target.kind !== "unix") {
    throw new TypeError(`listenCommandHost() listens on tcp://host:port or unix:///path, not ${target.kind}`);
  }
  const parsed = v.safeParse(ListenerOptionsSchema, {
    maxConnections: options.maxConnections,
    maxBufferedBytes: options.maxBufferedBytes,
  });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new TypeError(
      `listenCommandHost() ${issue.path?.map((item) => String(item.key)).join(".")}: ${issue.message}`,
    );
  }
  const maxConnections = parsed.output.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const budget = createByteBudget(parsed.output.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
  const logger = options.logger ?? createDefaultLogger("containerflare:host");
  const refused = refusalLog(logger, maxConnections);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    if (sockets.size >= maxConnections) {
      refused();
      socket.destroy();
      return;
    }
    sockets.add(socket);
    if (target.kind === "tcp") socket.setNoDelay(true);
    const session = createStreamSession(host, socketConnection(socket), { logger, budget });
    socket.on("data", (chunk: Uint8Array) => session.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      sockets.delete(socket);
      session.close();
    });
  });
  try {
    await listen(server, target);
  } catch (error) {
    if (target.kind !== "unix" || (error as { code?: string }).code !== "EADDRINUSE") throw error;
    if (await socketAnswers(target.path)) throw new Error(`a command host already listens on unix://${target.path}`);
    await unlink(target.path);
    await listen(server, target);
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : undefined;
  const url =
    target.kind === "tcp"
      ? `tcp://${target.host.includes(":") ? `[${target.host}]` : target.host}:${port}`
      : `unix://${target.path}`;
  return {
    url,
    ...(port === undefined ? {} : { port }),
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
