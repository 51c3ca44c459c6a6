import { CommandError } from "../errors.ts";
import { createLineSplitter, type LineSplitter } from "../lines.ts";
import { formatBytes, leadingFrameId } from "../protocol.ts";
import type { OutgoingFrame, TransportContext } from "./types.ts";

/**
 * Hands text to a stream; calls `flushed` once, when the stream has passed it on (or failed to):
 * Node's `write(text, callback)`, or a WritableStream writer's `write()` promise.
 */
export type FrameSink = (text: string, flushed: () => void) => void;

/**
 * Collects frames written in the same tick and hands them to `write` as one string: with 64
 * commands in flight this turns 64 writes (64 system calls on a pipe) into a few. A batch is
 * written as soon as it holds {@link MAX_BATCH_FRAMES} frames, so that the peer starts on the
 * first frames while the rest are still being produced: client and host then work at the same
 * time instead of taking turns (measured: 64 in flight over unix went from ~95k to ~135k
 * commands/s on two cores). A batch of {@link MAX_BATCH_CHARS} characters goes out at once too,
 * so big frames are neither held back nor copied into an ever larger string.
 *
 * `pending` counts what the peer has not taken yet, batched here or written and not flushed by
 * the stream: both sides bound it, so a peer that stops reading cannot make us keep its frames.
 */
export interface FrameWriter {
  push(line: string): void;
  /** Drops what was not written yet (the connection is gone). */
  clear(): void;
  /** Characters pushed and not flushed yet (UTF-16 code units: bytes, for ASCII JSON). */
  readonly pending: number;
}

/** Frames per write, at most. */
export const MAX_BATCH_FRAMES = 16;
/** Characters per write before it goes out at once (big frames are not held back or copied twice). */
export const MAX_BATCH_CHARS = 64 * 1024;

/**
 * Creates a {@link FrameWriter}; `line` must already end with `\n`. `onFlushed` runs after the
 * stream passed a batch on: the moment to look at `pending` again.
 */
export function createFrameWriter(write: FrameSink, onFlushed?: () => void): FrameWriter {
  let batch: string[] = [];
  let batchChars = 0;
  let unflushed = 0;
  let scheduled = false;
  const flush = () => {
    if (batch.length === 0) return;
    const text = batch.length === 1 ? batch[0]! : batch.join("");
    batch = [];
    batchChars = 0;
    unflushed += text.length;
    let done = false;
    write(text, () => {
      if (done) return;
      done = true;
      unflushed -= text.length;
      onFlushed?.();
    });
  };
  const onTick = () => {
    scheduled = false;
    flush();
  };
  return {
    get pending() {
      return batchChars + unflushed;
    },
    push(line) {
      batch.push(line);
      batchChars += line.length;
      if (batch.length >= MAX_BATCH_FRAMES || batchChars >= MAX_BATCH_CHARS) return flush();
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(onTick);
      }
    },
    clear() {
      batch = [];
      batchChars = 0;
    },
  };
}

/**
 * How many characters of requests a client holds for a host that does not read them: twice the
 * frame limit (32 MiB by default), so a frame at the limit always fits behind another one.
 */
export function maxPendingRequestChars(maxFrameBytes: number): number {
  return 2 * maxFrameBytes;
}

/**
 * Whether a request of `chars` may join `pending` unsent ones within `limit`; always when
 * nothing is pending, so that a single frame within the frame limit is never refused.
 */
export function fitsPending(pending: number, chars: number, limit: number): boolean {
  return pending === 0 || pending + chars <= limit;
}

/** The retryable error of a request refused because the host has not read the ones before it. */
export function hostNotReadingError(frame: OutgoingFrame, pending: number, limit: number): CommandError {
  return new CommandError(
    "UNAVAILABLE",
    `${frame.command}: the command host is not reading: ${formatBytes(pending)} of requests wait to be sent (limit ${formatBytes(limit)})`,
    { command: frame.command, retryable: true },
  );
}

/** A line splitter that feeds a transport's sink: one per connection. */
export function createFrameReader(context: TransportContext): LineSplitter {
  return createLineSplitter({
    maxLineBytes: context.maxFrameBytes,
    onLine: (line) => context.sink.receive(line),
    onOversized: (prefix, bytes) => context.sink.oversized(leadingFrameId(prefix), bytes),
  });
}
