import { createLineSplitter, type LineSplitter } from "../lines.ts";
import { leadingFrameId } from "../protocol.ts";
import type { TransportContext } from "./types.ts";

/**
 * Collects frames written in the same tick and hands them to `write` as one string: with 64
 * commands in flight this turns 64 writes (64 syscalls on a pipe) into one.
 */
export interface FrameWriter {
  push(line: string): void;
  /** Drops what was not written yet (the connection is gone). */
  clear(): void;
}

/** Creates a {@link FrameWriter}; `line` must already end with `\n`. */
export function createFrameWriter(write: (text: string) => void): FrameWriter {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join("");
    pending = [];
    write(text);
  };
  return {
    push(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    clear() {
      pending = [];
    },
  };
}

/** A line splitter that feeds a transport's sink: one per connection. */
export function createFrameReader(context: TransportContext): LineSplitter {
  return createLineSplitter({
    maxLineBytes: context.maxFrameBytes,
    onLine: (line) => context.sink.receive(line),
    onOversized: (prefix, bytes) => context.sink.oversized(leadingFrameId(prefix), bytes),
  });
}
