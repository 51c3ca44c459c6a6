import { CommandError } from "../../errors.ts";
import { formatBytes } from "../../protocol/bytes.ts";
import { leadingFrameId } from "../../protocol/frames.ts";
import { createLineSplitter, type LineSplitter } from "../../protocol/lines.ts";
import type { OutgoingFrame, TransportContext } from "./types.ts";

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
