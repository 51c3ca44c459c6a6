import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { CommandError } from "../errors.ts";
import { formatBytes } from "../protocol/bytes.ts";
import { encodeFailure, leadingFrameId } from "../protocol/frames.ts";
import { type ByteBudget, createFrameWriter, createLineSplitter } from "../protocol/lines.ts";
import type { CancelScope, CommandHost } from "./host.ts";

/**
 * What one JSON-lines connection may cost the host, whatever its peer sends or fails to read
 * (`createCommandHost({ streams })`). Answer sizes are counted in characters (bytes, for the
 * ASCII JSON the host writes).
 */
export interface StreamLimits {
  /**
   * Frames received and not answered yet (running, or waiting for the output to drain), per
   * connection; default 1024. A frame beyond it is answered at once with a retryable
   * UNAVAILABLE and never runs.
   */
  maxInFlight: number;
  /**
   * Request bytes of the frames in flight above which the connection stops reading input, until
   * half of it is left; default twice the frame limit (32 MiB). Bounds what `maxInFlight` big
   * frames would hold.
   */
  maxInFlightBytes: number;
  /**
   * Answers handed to the connection and not yet taken by the peer above which the connection
   * stops reading input and starting frames, until half of it is left; default 1 MiB.
   */
  outputHighWaterBytes: number;
  /**
   * Unread answers above which the connection is closed (logged): the peer asked for more than
   * it reads. Default twice the frame limit (32 MiB); at least the frame limit.
   */
  maxOutputBytes: number;
  /** A connection above its high-water mark whose peer takes nothing for this long is closed (logged); default 30 s. */
  stalledOutputMs: number;
}

/** Default {@link StreamLimits.maxInFlight}. */
export const DEFAULT_MAX_IN_FLIGHT = 1024;
/** Default {@link StreamLimits.outputHighWaterBytes}: 1 MiB. */
export const DEFAULT_OUTPUT_HIGH_WATER_BYTES = 1024 * 1024;
/** Default {@link StreamLimits.stalledOutputMs}: as long as the client's default command timeout, after which nothing is waited for. */
export const DEFAULT_STALLED_OUTPUT_MS = 30_000;

const countSchema = v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1)));
const StreamLimitsSchema = v.object({
  maxInFlight: countSchema,
  maxInFlightBytes: countSchema,
  outputHighWaterBytes: countSchema,
  maxOutputBytes: countSchema,
  stalledOutputMs: countSchema,
});

/**
 * {@link StreamLimits} from partial options and the frame limit; a bad value throws a
 * TypeError naming it (`streams.maxInFlight: …`).
 */
export function resolveStreamLimits(options: Partial<StreamLimits> | undefined, maxFrameBytes: number): StreamLimits {
  const parsed = v.safeParse(StreamLimitsSchema, options ?? {});
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new TypeError(`streams.${issue.path?.map((item) => String(item.key)).join(".") ?? ""}: ${issue.message}`);
  }
  const given = parsed.output;
  const limits: StreamLimits = {
    maxInFlight: given.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    maxInFlightBytes: given.maxInFlightBytes ?? 2 * maxFrameBytes,
    outputHighWaterBytes: given.outputHighWaterBytes ?? DEFAULT_OUTPUT_HIGH_WATER_BYTES,
    maxOutputBytes: given.maxOutputBytes ?? 2 * maxFrameBytes,
    stalledOutputMs: given.stalledOutputMs ?? DEFAULT_STALLED_OUTPUT_MS,
  };
  if (limits.maxOutputBytes < maxFrameBytes) {
    throw new TypeError(
      `streams.maxOutputBytes: ${limits.maxOutputBytes} is below the frame limit (${maxFrameBytes}): an answer at the limit could never be written`,
    );
  }
  return limits;
}

/** The byte stream under a {@link StreamSession}: a socket, a child's stdio, a pair of Web streams. */
export interface StreamConnection {
  /** Writes a batch of answer lines; calls `flushed` once the peer's side took it (or it failed). */
  write(text: string, flushed: () => void): void;
  /** Stops delivering input (backpressure: the peer does not read its answers). */
  pause(): void;
  /** Delivers input again. */
  resume(): void;
  /** Ends the connection at once: the session gave up on a peer that does not read. */
  destroy(): void;
}

/** Options of {@link createStreamSession}. */
export interface StreamSessionOptions {
  /** Where refused frames and closed connections are reported (warn). */
  logger?: ConsolaInstance;
  /** Shared by the connections of a listener: partial-line bytes above each connection's own 64 KiB. */
  budget?: ByteBudget;
  /** The client's running commands for `host.cancel`; default one of the connection's own. */
  scope?: CancelScope;
}

/** One connection of the JSON-lines server. */
export interface StreamSession {
  /** Bytes received from the client. */
  push(chunk: Uint8Array): void;
  /** Resolves when every frame received so far is answered (or dropped, once closed). */
  drain(): Promise<void>;
  /** Stops writing answers and aborts the commands still running (the peer is gone). */
  close(): void;
}

/** A frame refused at once (in-flight cap, buffer budget): the answer says when to retry. */
function refusal(id: number, message: string): () => string {
  return () => encodeFailure(id, { code: "UNAVAILABLE", message, retryable: true });
}

/**
 * The JSON-lines server side of one connection: splits the input into frames, dispatches each
 * at once (up to {@link StreamLimits.maxInFlight}) and writes every answer as soon as it is
 * ready, so answers come back in completion order. A line above the frame limit is answered
 * TOO_LARGE when its id can be read from its first bytes, and otherwise dropped and logged.
 *
 * Backpressure: while the peer leaves more than `outputHighWaterBytes` of answers unread, the
 * session pauses the input and starts no frame (frames already split wait, within the in-flight
 * cap), and answers that finish meanwhile wait unencoded until the peer reads again, so a burst
 * of big results never becomes encoded text all at once and a healthy peer that asked for many
 * is served in full. The connection is closed when the peer takes nothing for `stalledOutputMs`,
 * or when the unread answers pass `maxOutputBytes` (only a single answer near the frame limit on
 * top of the high-water mark gets there). The input also pauses while the frames in flight hold more than
 * `maxInFlightBytes`. When the connection closes, running commands see their signal abort and
 * waiting ones never start. Runtime-agnostic.
 */
export function createStreamSession(
  host: CommandHost,
  connection: StreamConnection,
  options: StreamSessionOptions = {},
): StreamSession {
  const { logger, budget } = options;
  const scope: CancelScope = options.scope ?? new Map();
  const limits = host.streamLimits ?? resolveStreamLimits(undefined, host.maxFrameBytes);
  const abort = new AbortController();
  let closed = false;
  // Answers unread above the high-water mark: no frame starts and the input is paused.
  let outputBlocked = false;
  // The frames in flight hold more than maxInFlightBytes: the input is paused.
  let requestsHeld = false;
  let inputPaused = false;
  let running = 0;
  let inFlightChars = 0;
  // Frames split while the output was blocked: started, in order, once it drains.
  let waiting: string[] = [];
  // Answers finished while the output was blocked, not encoded yet: written, in order, once it
  // drains. Their results are held as the bindings returned them (at most maxInFlight of them).
  let held: (() => string)[] = [];
  let refusedBefore = false;
  let lastFlushAt = 0;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let idle: (() => void) | undefined;
  let draining: Promise<void> | undefined;

  /** Pauses or resumes the input when one of its two reasons changed. */
  const updateInput = () => {
    const pause = !closed && (outputBlocked || requestsHeld);
    if (pause === inputPaused) return;
    inputPaused = pause;
    if (pause) connection.pause();
    else if (!closed) connection.resume();
  };

  const onFlushed = () => {
    lastFlushAt = Date.now();
    if (!outputBlocked || closed || writer.pending > limits.outputHighWaterBytes / 2) return;
    outputBlocked = false;
    clearStallTimer();
    writeHeld();
    if (!outputBlocked) startWaiting();
    updateInput();
  };
  const writer = createFrameWriter((text, flushed) => {
    if (closed) return flushed();
    connection.write(text, flushed);
  }, onFlushed);

  const clearStallTimer = () => {
    if (stallTimer !== undefined) clearTimeout(stallTimer);
    stallTimer = undefined;
  };
  const armStallTimer = (ms: number) => {
    stallTimer = setTimeout(checkStall, ms);
    // Never the reason a process stays up: the connection itself does that.
    (stallTimer as { unref?: () => void }).unref?.();
  };
  const checkStall = () => {
    stallTimer = undefined;
    if (closed || !outputBlocked) return;
    const quiet = Date.now() - lastFlushAt;
    if (quiet < limits.stalledOutputMs) return armStallTimer(limits.stalledOutputMs - quiet);
    giveUp(`the client took none of its ${formatBytes(writer.pending)} of unread answers for ${quiet} ms`);
  };

  const giveUp = (reason: string) => {
    logger?.warn(`command stream: closing the connection: ${reason}`);
    close();
    connection.destroy();
  };

  /** Looks at the unread answers after each one: block above the high-water mark, give up above the maximum. */
  const checkOutput = () => {
    const pending = writer.pending;
    if (pending > limits.maxOutputBytes) {
      return giveUp(
        `the client left ${formatBytes(pending)} of answers unread (limit ${formatBytes(limits.maxOutputBytes)})`,
      );
    }
    if (outputBlocked || pending <= limits.outputHighWaterBytes) return;
    outputBlocked = true;
    lastFlushAt = Date.now();
    armStallTimer(limits.stalledOutputMs);
    updateInput();
  };

  /** Writes an answer, encoding it only now; above the high-water mark it waits in `held`. */
  const answer = (encode: () => string) => {
    if (closed) return;
    if (outputBlocked) return void held.push(encode);
    writer.push(`${encode()}\n`);
    checkOutput();
  };
  const writeHeld = () => {
    while (held.length > 0 && !outputBlocked && !closed) answer(held.shift()!);
    if (held.length === 0 && running === 0 && waiting.length === 0) idle?.();
  };

  const settled = (chars: number) => {
    running--;
    inFlightChars -= chars;
    if (requestsHeld && inFlightChars <= limits.maxInFlightBytes / 2) {
      requestsHeld = false;
      updateInput();
    }
    if (!outputBlocked) startWaiting();
    if (running === 0 && waiting.length === 0 && held.length === 0) idle?.();
  };
  const start = (line: string) => {
    running++;
    void host.dispatchDeferred(line, abort.signal, scope).then(
      (encode) => {
        answer(encode);
        settled(line.length);
      },
      () => settled(line.length),
    );
  };
  const startWaiting = () => {
    const ready = waiting;
    waiting = [];
    for (let index = 0; index < ready.length; index++) {
      if (outputBlocked || closed) {
        if (!closed) waiting = ready.slice(index).concat(waiting);
        return;
      }
      start(ready[index]!);
    }
  };

  const receive = (line: string) => {
    if (closed) return;
    if (running + waiting.length >= limits.maxInFlight) {
      if (!refusedBefore)
        logger?.warn(
          `command stream: more than ${limits.maxInFlight} commands in flight on one connection; the excess is answered UNAVAILABLE (logged once per connection)`,
        );
      refusedBefore = true;
      const message = `the host runs at most ${limits.maxInFlight} commands in flight per connection (maxInFlight); retry once some are answered`;
      return answer(refusal(leadingFrameId(line.slice(0, 256)) ?? 0, message));
    }
    inFlightChars += line.length;
    if (!requestsHeld && inFlightChars > limits.maxInFlightBytes) {
      requestsHeld = true;
      updateInput();
    }
    if (outputBlocked || waiting.length > 0) waiting.push(line);
    else start(line);
  };

  const splitter = createLineSplitter({
    maxLineBytes: host.maxFrameBytes,
    ...(budget ? { budget } : {}),
    onLine: receive,
    onOversized(prefix, bytes) {
      const id = leadingFrameId(prefix);
      const message = `request frame of ${formatBytes(bytes)} exceeds the ${formatBytes(host.maxFrameBytes)} frame limit`;
      logger?.warn(`${message}${id === undefined ? " (dropped: no id in its first bytes)" : ` (id ${id})`}`);
      answer(() => encodeFailure(id ?? 0, { code: "TOO_LARGE", message, retryable: false }));
    },
    onRefused(prefix, bytes) {
      const id = leadingFrameId(prefix);
      const message = `request frame of ${formatBytes(bytes)} not read: the host's ${formatBytes(budget!.limit)} buffer for partial frames, shared by all connections, is in use; retry`;
      logger?.warn(`${message}${id === undefined ? " (dropped: no id in its first bytes)" : ` (id ${id})`}`);
      answer(refusal(id ?? 0, message));
    },
  });

  const close = () => {
    if (closed) return;
    closed = true;
    for (const line of waiting) inFlightChars -= line.length;
    waiting = [];
    held = [];
    writer.clear();
    splitter.release();
    clearStallTimer();
    abort.abort(new CommandError("UNAVAILABLE", "the connection of this command closed"));
    if (running === 0) idle?.();
  };

  return {
    push(chunk) {
      if (!closed) splitter.push(chunk);
    },
    drain() {
      if (running === 0 && waiting.length === 0 && held.length === 0) return Promise.resolve();
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
    close,
  };
}

/**
 * Serves JSON lines over a pair of Web streams until the readable ends; then waits for the
 * answers still in flight, writes them and closes the writable. The readable is read only while
 * the writable keeps up (its writes resolve), with the limits of {@link createStreamSession}.
 */
export async function serveStream(
  host: CommandHost,
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
  logger?: ConsolaInstance,
  scope?: CancelScope,
): Promise<void> {
  const encoder = new TextEncoder();
  const output = writable.getWriter();
  const reader = readable.getReader();
  let stopped = false;
  let destroyed = false;
  let gate: Promise<void> | undefined;
  let openGate: (() => void) | undefined;
  const resume = () => {
    openGate?.();
    gate = openGate = undefined;
  };
  const stop = () => {
    stopped = true;
    resume();
    void reader.cancel().catch(() => undefined);
  };
  const session = createStreamSession(
    host,
    {
      write(text, flushed) {
        output.write(encoder.encode(text)).then(flushed, () => {
          flushed();
          session.close();
          stop();
        });
      },
      pause() {
        gate ??= new Promise((resolve) => (openGate = resolve));
      },
      resume,
      destroy() {
        destroyed = true;
        stop();
        void output.abort().catch(() => undefined);
      },
    },
    { ...(logger ? { logger } : {}), ...(scope ? { scope } : {}) },
  );
  try {
    for (;;) {
      if (gate) await gate;
      if (stopped) break;
      const { done, value } = await reader.read();
      if (done || stopped) break;
      session.push(value);
    }
  } catch (error) {
    logger?.debug("command stream input failed:", error);
  }
  await session.drain();
  // Aborted with a write in flight, the writable settles only once the peer reads: never, here.
  if (destroyed) return;
  // Answers are flushed in a microtask after the last one settles.
  await Promise.resolve();
  await output.close().catch(() => undefined);
}
