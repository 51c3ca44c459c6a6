import { CommandError } from "../../errors.ts";
import { errorMessage } from "../../internal/error-message.ts";
import { inlineBody } from "../../protocol/body.ts";
import { exceedsBytes, formatBytes, utf8Length } from "../../protocol/bytes.ts";
import { encodeRequest, leadingFrameId } from "../../protocol/frames.ts";
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

/**
 * A frame with its body inlined as base64 in its marker's place, for a transport (or a v1 HTTP
 * host) without raw bodies. Rejects with a CommandError: TOO_LARGE beyond the frame limit, or
 * INVALID_PAYLOAD when the body cannot be read.
 */
export async function inlineFrame(frame: OutgoingFrame, maxFrameBytes: number): Promise<OutgoingFrame> {
  try {
    return await inline(frame, maxFrameBytes);
  } catch (error) {
    throw inlineError(frame.command, error);
  }
}

async function inline(frame: OutgoingFrame, maxFrameBytes: number): Promise<OutgoingFrame> {
  const payload = await inlineBody(frame.payload, frame.body ?? null, maxFrameBytes, frame.command);
  const text = encodeRequest(frame.id, frame.command, payload);
  if (exceedsBytes(text, maxFrameBytes)) {
    throw new CommandError(
      "TOO_LARGE",
      `${frame.command}: request frame of ${formatBytes(utf8Length(text))} exceeds the ${formatBytes(maxFrameBytes)} frame limit`,
      { command: frame.command },
    );
  }
  const { body: _body, payload: _payload, ...rest } = frame;
  return { ...rest, text };
}

function inlineError(command: string, error: unknown): CommandError {
  if (error instanceof CommandError || error instanceof RangeError)
    return new CommandError(error instanceof CommandError ? error.code : "TOO_LARGE", error.message, { command });
  const reason = errorMessage(error);
  return new CommandError("INVALID_PAYLOAD", `${command}: cannot read the body to send (${reason})`, { command });
}
