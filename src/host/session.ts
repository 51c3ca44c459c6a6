import type { ConsolaInstance } from "consola";
import { createLineSplitter } from "../command/lines.ts";
import { encodeFailure, formatBytes, leadingFrameId } from "../command/protocol.ts";
import { createFrameWriter } from "../command/transports/framing.ts";
import type { CommandHost } from "./host.ts";

/** One connection of the JSON-lines server. */
export interface StreamSession {
  /** Bytes received from the client. */
  push(chunk: Uint8Array): void;
  /** Resolves when every frame received so far is answered. */
  drain(): Promise<void>;
  /** Stops writing answers (the peer is gone). */
  close(): void;
}

/**
 * The JSON-lines server side of one connection: splits the input into frames, dispatches each
 * at once (many in flight) and writes every answer as soon as it is ready, so answers come back
 * in completion order. A line above the frame limit is answered TOO_LARGE when its id can be
 * read from its first bytes, and otherwise dropped and logged. Runtime-agnostic.
 */
export function createStreamSession(host: CommandHost, write: (text: string) => void, logger?: ConsolaInstance): StreamSession {
  let closed = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let draining: Promise<void> | undefined;
  const writer = createFrameWriter((text) => {
    if (!closed) write(text);
  });
  const settle = () => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };
  const splitter = createLineSplitter({
    maxLineBytes: host.maxFrameBytes,
    onLine(line) {
      inFlight++;
      void host.dispatchText(line).then((answer) => {
        if (!closed) writer.push(`${answer}\n`);
        settle();
      }, settle);
    },
    onOversized(prefix, bytes) {
      const id = leadingFrameId(prefix);
      const message = `request frame of ${formatBytes(bytes)} exceeds the ${formatBytes(host.maxFrameBytes)} frame limit`;
      logger?.warn(`${message}${id === undefined ? " (dropped: no id in its first bytes)" : ` (id ${id})`}`);
      writer.push(`${encodeFailure(id ?? 0, { code: "TOO_LARGE", message, retryable: false })}\n`);
    },
  });
  return {
    push(chunk) {
      if (!closed) splitter.push(chunk);
    },
    drain() {
      if (inFlight === 0) return Promise.resolve();
      // One promise for every caller: a second drain() must not replace the first one's resolver.
      draining ??= new Promise<void>((resolve) => {
        idle = () => {
          idle = undefined;
          draining = undefined;
          resolve();
        };
      });
      return draining;
    },
    close() {
      closed = true;
      writer.clear();
    },
  };
}

/**
 * Serves JSON lines over a pair of Web streams until the readable ends; then waits for the
 * answers still in flight, writes them and closes the writable.
 */
export async function serveStream(
  host: CommandHost,
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
  logger?: ConsolaInstance,
): Promise<void> {
  const encoder = new TextEncoder();
  const output = writable.getWriter();
  let failed = false;
  const session = createStreamSession(
    host,
    (text) => {
      output.write(encoder.encode(text)).catch(() => {
        failed = true;
        session.close();
      });
    },
    logger,
  );
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || failed) break;
      session.push(value);
    }
  } catch (error) {
    logger?.debug("command stream input failed:", error);
  }
  await session.drain();
  // Answers are flushed in a microtask after the last one settles.
  await Promise.resolve();
  await output.close().catch(() => undefined);
}
