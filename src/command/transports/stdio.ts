import { CommandError } from "../../errors.ts";
import { createFrameWriter } from "../../protocol/lines.ts";
import { createFrameReader, fitsPending, hostNotReadingError, maxPendingRequestChars } from "./framing.ts";
import type { OutgoingFrame, Transport, TransportContext } from "./types.ts";

/** The readable half: `process.stdin` or any Node-style stream of bytes. */
export interface StdioInput {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/** The writable half: `process.stdout` or any Node-style writable. */
export interface StdioOutput {
  /** Node's contract: `callback` runs once the text is flushed (or could not be). */
  write(text: string, callback: (error?: Error | null) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** Streams of the stdio transport; default `process.stdin` / `process.stdout`. */
export interface StdioStreams {
  input?: StdioInput;
  output?: StdioOutput;
}

/**
 * JSON lines on stdin/stdout: the command host is the parent process. While this transport is
 * active it owns stdout (containerflare's own logs go to stderr). When stdin ends the host is
 * gone for good: commands in flight fail with TRANSPORT_CLOSED and so does every later one.
 * Requests stdout has not flushed are bounded by {@link maxPendingRequestChars}: beyond it a
 * command fails at once with a retryable UNAVAILABLE (a parent that does not read).
 */
export function createStdioTransport(context: TransportContext, streams: StdioStreams = {}): Transport {
  const { sink, logger } = context;
  const processLike = (globalThis as { process?: { stdin: StdioInput; stdout: StdioOutput } }).process;
  const input = streams.input ?? processLike?.stdin;
  const output = streams.output ?? processLike?.stdout;
  let state: "idle" | "open" | "ended" | "closed" = "idle";
  const writer = createFrameWriter((text, flushed) => void output?.write(text, flushed));
  const maxPending = maxPendingRequestChars(context.maxFrameBytes);

  const end = (why: string) => {
    if (state !== "open") return;
    state = "ended";
    writer.clear();
    logger.warn(`command host on stdio went away (${why}); commands in flight failed`);
    sink.drop(
      new CommandError("TRANSPORT_CLOSED", `the command host on stdio went away (${why})`, { retryable: false }),
    );
  };

  const reader = createFrameReader(context);
  const onData = (chunk: Uint8Array) => reader.push(chunk);
  const onEnd = () => end("stdin ended");
  const onClose = () => end("stdin closed");
  const onInputError = (error: Error) => end(`stdin: ${error.message}`);
  const onOutputError = (error: Error) => end(`stdout: ${error.message}`);

  const open = () => {
    state = "open";
    input!.on("data", onData);
    input!.on("end", onEnd);
    input!.on("close", onClose);
    input!.on("error", onInputError);
    output!.on("error", onOutputError);
    input!.resume();
  };

  return {
    send(frame: OutgoingFrame) {
      if (state === "idle") {
        if (!input || !output) {
          sink.fail(
            frame.id,
            new CommandError("UNAVAILABLE", "no stdin/stdout in this runtime for the stdio command transport", {
              command: frame.command,
            }),
          );
          return;
        }
        open();
      }
      if (state !== "open") {
        const message = state === "closed" ? "the command client is closed" : "the command host on stdio went away";
        sink.fail(frame.id, new CommandError("TRANSPORT_CLOSED", message, { command: frame.command }));
        return;
      }
      if (!fitsPending(writer.pending, frame.text.length + 1, maxPending)) {
        sink.fail(frame.id, hostNotReadingError(frame, writer.pending, maxPending));
        return;
      }
      writer.push(`${frame.text}\n`);
    },
    async close() {
      const wasOpen = state === "open";
      state = "closed";
      writer.clear();
      if (!wasOpen || !input || !output) return;
      // Let the process exit: nothing of ours keeps reading stdin any more.
      input.removeListener("data", onData);
      input.removeListener("end", onEnd);
      input.removeListener("close", onClose);
      input.removeListener("error", onInputError);
      output.removeListener("error", onOutputError);
      input.pause();
    },
  };
}
