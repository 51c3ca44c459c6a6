import { createConnection, type Socket } from "node:net";
import type { CommandEndpoint } from "../../config.ts";
import { CommandError } from "../../errors.ts";
import { type BackoffOptions, backoffDelay } from "../../internal/backoff.ts";
import { createFrameWriter, type FrameWriter } from "../../protocol/lines.ts";
import { createFrameReader, fitsPending, hostNotReadingError, maxPendingRequestChars } from "./framing.ts";
import type { OutgoingFrame, Transport, TransportContext } from "./types.ts";

/** A tcp or unix endpoint. */
export type SocketEndpoint = Extract<CommandEndpoint, { kind: "tcp" | "unix" }>;

/** Options of {@link createSocketTransport}. */
export interface SocketTransportOptions {
  /** Wait between failed connection attempts. */
  backoff?: BackoffOptions;
  /** A connection attempt that takes longer fails (a tcp host that drops packets); default 5 s. */
  connectTimeoutMs?: number;
}

/** `tcp://host:port` or `unix:///path`, for messages. */
export function describeEndpoint(endpoint: SocketEndpoint): string {
  return endpoint.kind === "tcp" ? `tcp://${endpoint.host}:${endpoint.port}` : `unix://${endpoint.path}`;
}

/**
 * JSON lines over one tcp or unix socket, connected on the first frame. When the connection
 * drops every command in flight fails at once with a retryable TRANSPORT_CLOSED; the next frame
 * reconnects, at once after a drop and with exponential backoff and jitter after failed
 * attempts (frames sent meanwhile wait for that attempt, bounded by their own timeouts).
 * Requests the host has not taken yet (waiting for the connection, or written and not flushed)
 * are bounded by {@link maxPendingRequestChars}: beyond it a command fails at once with a
 * retryable UNAVAILABLE instead of piling up in memory behind a host that does not read.
 */
export function createSocketTransport(
  endpoint: SocketEndpoint,
  context: TransportContext,
  options: SocketTransportOptions = {},
): Transport {
  const { sink, logger } = context;
  const { backoff = {}, connectTimeoutMs = 5_000 } = options;
  const where = describeEndpoint(endpoint);
  let state: "idle" | "waiting" | "connecting" | "open" | "closed" = "idle";
  let socket: Socket | undefined;
  let writer: FrameWriter | undefined;
  // Frames waiting for a connection; those whose command timed out meanwhile are never sent.
  let queued: OutgoingFrame[] = [];
  let queuedChars = 0;
  const maxPending = maxPendingRequestChars(context.maxFrameBytes);
  let failures = 0;
  let nextAttemptAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    timer = undefined;
    state = "connecting";
    const connection =
      endpoint.kind === "tcp"
        ? createConnection({ host: endpoint.host, port: endpoint.port })
        : createConnection({ path: endpoint.path });
    const reader = createFrameReader(context);
    let lastError: (Error & { code?: string }) | undefined;
    let opened = false;
    const connectTimer = setTimeout(() => {
      lastError = Object.assign(new Error(`no connection within ${connectTimeoutMs} ms`), { code: "ETIMEDOUT" });
      connection.destroy();
    }, connectTimeoutMs);

    connection.on("connect", () => {
      clearTimeout(connectTimer);
      if (state === "closed") return void connection.destroy();
      opened = true;
      state = "open";
      failures = 0;
      socket = connection;
      if (endpoint.kind === "tcp") connection.setNoDelay(true);
      writer = createFrameWriter((text, flushed) => void connection.write(text, flushed));
      logger.debug(`command transport connected to ${where}`);
      const ready = queued.filter((frame) => sink.isPending(frame.id));
      queued = [];
      queuedChars = 0;
      for (const frame of ready) writer.push(`${frame.text}\n`);
    });
    connection.on("data", (chunk: Uint8Array) => reader.push(chunk));
    connection.on("error", (error) => {
      lastError = error;
    });
    connection.on("close", () => {
      clearTimeout(connectTimer);
      if (socket === connection) {
        socket = undefined;
        writer?.clear();
        writer = undefined;
      }
      if (state === "closed") return;
      state = "idle";
      queued = [];
      queuedChars = 0;
      const reason = lastError ? `: ${lastError.code ?? lastError.message}` : "";
      if (opened) {
        nextAttemptAt = 0;
        logger.warn(`command host at ${where} closed the connection${reason}; commands in flight failed`);
        sink.drop(
          new CommandError("TRANSPORT_CLOSED", `connection to the command host at ${where} closed${reason}`, {
            retryable: true,
          }),
        );
      } else {
        failures++;
        const wait = backoffDelay(failures, backoff);
        nextAttemptAt = Date.now() + wait;
        logger.debug(`cannot reach the command host at ${where}${reason}; next attempt in ${wait} ms`);
        sink.drop(
          new CommandError("TRANSPORT_CLOSED", `cannot reach the command host at ${where}${reason}`, {
            retryable: true,
          }),
        );
      }
    });
  };

  const scheduleConnect = () => {
    const wait = nextAttemptAt - Date.now();
    if (wait <= 0) return connect();
    state = "waiting";
    timer = setTimeout(connect, wait);
  };

  const enqueue = (frame: OutgoingFrame) => {
    if (!fitsPending(queuedChars, frame.text.length + 1, maxPending))
      return sink.fail(frame.id, hostNotReadingError(frame, queuedChars, maxPending));
    queued.push(frame);
    queuedChars += frame.text.length + 1;
  };

  return {
    send(frame: OutgoingFrame) {
      switch (state) {
        case "open":
          if (!fitsPending(writer!.pending, frame.text.length + 1, maxPending)) {
            return sink.fail(frame.id, hostNotReadingError(frame, writer!.pending, maxPending));
          }
          writer!.push(`${frame.text}\n`);
          return;
        case "closed":
          sink.fail(
            frame.id,
            new CommandError("TRANSPORT_CLOSED", "the command client is closed", { command: frame.command }),
          );
          return;
        case "idle":
          enqueue(frame);
          scheduleConnect();
          return;
        default:
          enqueue(frame);
      }
    },
    cancel(id) {
      // Not written yet (waiting for the connection): dropped here, nothing to ask the host.
      const index = queued.findIndex((frame) => frame.id === id);
      if (index === -1) return state !== "open";
      queuedChars -= queued[index]!.text.length + 1;
      queued.splice(index, 1);
      return true;
    },
    async close() {
      const previous = state;
      state = "closed";
      if (timer) clearTimeout(timer);
      queued = [];
      queuedChars = 0;
      const connection = socket;
      if (!connection || previous !== "open") return;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => connection.destroy(), 1_000);
        connection.once("close", () => {
          clearTimeout(force);
          resolve();
        });
        connection.end();
      });
    },
  };
}
