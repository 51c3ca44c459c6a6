/**
 * `containerflare/host/node`: the JSON-lines command host on tcp and unix sockets and on a child
 * process's stdio, for Node, Bun and Deno. Kept apart from `containerflare/host`, which has no
 * node: imports so that it bundles for workerd.
 */
import { unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { parseCommandEndpoint, type CommandEndpoint } from "../config.ts";
import type { CommandHost } from "./host.ts";
import { createStreamSession } from "./session.ts";

/** A listening command host. */
export interface CommandHostListener {
  /** `tcp://127.0.0.1:PORT` or `unix:///path`: what a client's `CF_CMD_ENDPOINT` should say. */
  readonly url: string;
  /** The bound port (tcp). */
  readonly port?: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Node-style byte streams: a socket, `child.stdout`/`child.stdin`, `process.stdin`/`process.stdout`. */
export interface NodeReadable {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}
/** The writable half. */
export interface NodeWritable {
  write(text: string): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * Serves JSON lines over Node-style streams, e.g. the stdio of a child process whose
 * `CF_CMD_ENDPOINT=stdio`: `serveNodeStream(host, child.stdout, child.stdin)`. Resolves when
 * the input ends and every answer was handed to `output`.
 */
export function serveNodeStream(host: CommandHost, input: NodeReadable, output: NodeWritable): Promise<void> {
  let outputFailed = false;
  const session = createStreamSession(host, (text) => {
    if (!outputFailed) output.write(text);
  });
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

/**
 * Listens for command clients on `tcp://host:port` or `unix:///path`.
 * A stale unix socket file left by a killed host is replaced; a live one is an error.
 */
export async function listenCommandHost(host: CommandHost, endpoint: CommandEndpoint | string): Promise<CommandHostListener> {
  const target = typeof endpoint === "string" ? parseCommandEndpoint(endpoint, "endpoint") : endpoint;
  if (target.kind !== "tcp" && target.kind !== "unix") {
    throw new TypeError(`listenCommandHost() listens on tcp://host:port or unix:///path, not ${target.kind}`);
  }
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    if (target.kind === "tcp") socket.setNoDelay(true);
    const session = createStreamSession(host, (text) => {
      if (!socket.destroyed) socket.write(text);
    });
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
  const url = target.kind === "tcp" ? `tcp://${target.host.includes(":") ? `[${target.host}]` : target.host}:${port}` : `unix://${target.path}`;
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
