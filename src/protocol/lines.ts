/**
 * Bytes shared by several line splitters (the connections of one listener), so that the sum
 * of their partial lines has a bound that the number of connections does not multiply.
 */
export interface ByteBudget {
  /** Takes `bytes` from the budget; `false`, and nothing taken, when fewer are left. */
  take(bytes: number): boolean;
  /** Gives back bytes taken before. */
  give(bytes: number): void;
  /** Bytes taken now. */
  readonly used: number;
  /** The budget's size in bytes. */
  readonly limit: number;
}

/** A {@link ByteBudget} of `limit` bytes. */
export function createByteBudget(limit: number): ByteBudget {
  let used = 0;
  return {
    limit,
    get used() {
      return used;
    },
    take(bytes) {
      if (used + bytes > limit) return false;
      used += bytes;
      return true;
    },
    give(bytes) {
      used = Math.max(0, used - bytes);
    },
  };
}

/** Options of {@link createLineSplitter}. */
export interface LineSplitterOptions {
  /** Lines longer than this many bytes are not buffered: they go to `onOversized`. */
  maxLineBytes: number;
  /** A complete line, without its `\n` (or `\r\n`); empty lines are skipped. */
  onLine(line: string): void;
  /** A line above the limit was skipped; `prefix` is its first bytes, decoded, to recover an id. */
  onOversized(prefix: string, bytes: number): void;
  /**
   * Where buffer memory above `freeBytes` comes from. When the budget is short, the line is
   * skipped like an oversized one and reported to `onRefused` (to `onOversized` without it).
   */
  budget?: ByteBudget;
  /** Buffer bytes this splitter may hold without taking them from `budget`; default 64 KiB. */
  freeBytes?: number;
  /** A line within the limit was skipped because `budget` could not pay for its buffer. */
  onRefused?(prefix: string, bytes: number): void;
}

/** Feeds bytes in, gets lines out. */
export interface LineSplitter {
  push(chunk: Uint8Array): void;
  /** Bytes held back waiting for a newline (a partial line). */
  readonly buffered: number;
  /** Bytes of memory held for the partial line: the buffer's capacity, at most twice `buffered` once past 256 bytes. */
  readonly retained: number;
  /** Drops the partial line and frees its buffer (and budget): the stream is gone. */
  release(): void;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const PREFIX_BYTES = 256;
const MIN_CAPACITY = 256;
/** Default {@link LineSplitterOptions.freeBytes}: lines up to this size never wait for a budget. */
export const DEFAULT_FREE_LINE_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);

/** A line being skipped: counted until its newline, never buffered. */
interface Skipped {
  prefix: string;
  bytes: number;
  /** Skipped for want of budget rather than size. */
  refused: boolean;
}

/**
 * The capacity to grow to for `needed` bytes: doubling (so that 1-byte chunks cost amortised
 * O(1) copies), never above the line limit (a line above it is not buffered at all).
 */
function nextCapacity(current: number, needed: number, maxLineBytes: number): number {
  return Math.min(maxLineBytes, Math.max(needed, MIN_CAPACITY, current * 2));
}

/**
 * Splits a byte stream into UTF-8 lines (JSON lines framing) with a hard size limit. The partial
 * line lives in one buffer whose capacity doubles as it fills, capped at `maxLineBytes`: memory
 * stays within twice the partial line whatever the chunking (one byte per chunk included), and
 * a buffer grown for a big line is freed once that line is out. A line above the limit is never
 * buffered, only counted until its newline and reported. Runtime-agnostic (no node: imports).
 */
export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const { maxLineBytes, onLine, onOversized, budget } = options;
  const onRefused = options.onRefused ?? onOversized;
  const freeBytes = options.freeBytes ?? DEFAULT_FREE_LINE_BYTES;
  const decoder = new TextDecoder();
  let buffer = EMPTY;
  let length = 0;
  let charged = 0;
  let skipped: Skipped | undefined;

  const chargeFor = (capacity: number) => Math.max(0, capacity - freeBytes);

  /** Frees a buffer grown beyond `freeBytes`; a small one is kept for the next line. */
  const shrink = () => {
    if (buffer.length <= freeBytes) return;
    buffer = EMPTY;
    if (charged > 0) budget?.give(charged);
    charged = 0;
  };

  /**
   * Makes room for `needed` bytes in the buffer; `false` when the budget cannot pay for it. When
   * doubling would cost more than the budget has left, the buffer grows to what is left instead.
   */
  const reserve = (needed: number): boolean => {
    if (needed <= buffer.length) return true;
    let capacity = nextCapacity(buffer.length, needed, maxLineBytes);
    if (budget) {
      const affordable = freeBytes + charged + (budget.limit - budget.used);
      capacity = Math.min(capacity, Math.max(affordable, buffer.length));
      if (capacity < needed) return false;
    }
    const extra = budget ? chargeFor(capacity) - charged : 0;
    if (extra > 0 && !budget!.take(extra)) return false;
    charged += extra;
    const grown = new Uint8Array(capacity);
    grown.set(buffer.subarray(0, length));
    buffer = grown;
    return true;
  };

  /** The first bytes of the partial line followed by `tail`, decoded: enough to read a frame id. */
  const prefixOf = (tail: Uint8Array): string => {
    const head = new Uint8Array(Math.min(PREFIX_BYTES, length + tail.length));
    head.set(buffer.subarray(0, Math.min(length, head.length)));
    if (length < head.length) head.set(tail.subarray(0, head.length - length), length);
    return decoder.decode(head);
  };

  const skip = (tail: Uint8Array, bytes: number, refused: boolean) => {
    skipped = { prefix: prefixOf(tail), bytes, refused };
    length = 0;
    shrink();
  };

  const endSkip = () => {
    const { prefix, bytes, refused } = skipped!;
    skipped = undefined;
    if (refused && bytes <= maxLineBytes) onRefused(prefix, bytes);
    else onOversized(prefix, bytes);
  };

  const decodeLine = (bytes: Uint8Array): string => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
    return end === 0 ? "" : decoder.decode(end === bytes.length ? bytes : bytes.subarray(0, end));
  };

  return {
    get buffered() {
      return length;
    },
    get retained() {
      return buffer.length;
    },
    release() {
      length = 0;
      skipped = undefined;
      buffer = EMPTY;
      if (charged > 0) budget?.give(charged);
      charged = 0;
    },
    push(chunk) {
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(NEWLINE, start);
        const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
        if (skipped) skipped.bytes += piece.length;
        else if (length + piece.length > maxLineBytes) skip(piece, length + piece.length, false);
        else if (newline !== -1 && length === 0) {
          // The whole line is in this chunk: decoded in place, never copied.
          const line = decodeLine(piece);
          if (line) onLine(line);
        } else if (!reserve(length + piece.length)) skip(piece, length + piece.length, true);
        else {
          // Copied: some runtimes reuse the chunk's memory after the callback returns.
          buffer.set(piece, length);
          length += piece.length;
          if (newline !== -1) {
            const line = decodeLine(buffer.subarray(0, length));
            length = 0;
            shrink();
            if (line) onLine(line);
          }
        }
        if (newline === -1) return;
        start = newline + 1;
        if (skipped) endSkip();
      }
    },
  };
}

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
