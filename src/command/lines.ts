/** Options of {@link createLineSplitter}. */
export interface LineSplitterOptions {
  /** Lines longer than this many bytes are not buffered: they go to `onOversized`. */
  maxLineBytes: number;
  /** A complete line, without its `\n` (or `\r\n`); empty lines are skipped. */
  onLine(line: string): void;
  /** A line above the limit was skipped; `prefix` is its first bytes, decoded, to recover an id. */
  onOversized(prefix: string, bytes: number): void;
}

/** Feeds bytes in, gets lines out. */
export interface LineSplitter {
  push(chunk: Uint8Array): void;
  /** Bytes held back waiting for a newline (a partial line). */
  readonly buffered: number;
}

const NEWLINE = 0x0a;
const PREFIX_BYTES = 256;

/**
 * Splits a byte stream into UTF-8 lines (JSON lines framing) with a hard size limit: a line
 * above `maxLineBytes` is never buffered whole, only counted until its newline and reported,
 * so a 20 MiB line costs no more memory than the limit. Runtime-agnostic (no node: imports).
 */
export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const { maxLineBytes, onLine, onOversized } = options;
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let skipping = false;
  let skipPrefix = "";
  let skipBytes = 0;

  const emit = (bytes: Uint8Array) => {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    if (end === 0) return;
    onLine(decoder.decode(end === bytes.length ? bytes : bytes.subarray(0, end)));
  };

  // The first bytes of the buffered parts, decoded: enough for a receiver to read a frame id.
  const prefixOf = (tail?: Uint8Array): string => {
    const head = new Uint8Array(PREFIX_BYTES);
    let length = 0;
    for (const part of tail ? [...parts, tail] : parts) {
      const take = Math.min(part.length, PREFIX_BYTES - length);
      head.set(part.subarray(0, take), length);
      length += take;
      if (length === PREFIX_BYTES) break;
    }
    return decoder.decode(head.subarray(0, length));
  };

  const joined = (tail: Uint8Array): Uint8Array => {
    const whole = new Uint8Array(partBytes + tail.length);
    let offset = 0;
    for (const part of parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    whole.set(tail, offset);
    parts = [];
    partBytes = 0;
    return whole;
  };

  return {
    get buffered() {
      return partBytes;
    },
    push(chunk) {
      let start = 0;
      while (start < chunk.length) {
        const newline = chunk.indexOf(NEWLINE, start);
        if (newline === -1) {
          const rest = chunk.subarray(start);
          if (skipping) skipBytes += rest.length;
          else {
            // Copied: some runtimes reuse the chunk's memory after the callback returns.
            parts.push(rest.slice());
            partBytes += rest.length;
            if (partBytes > maxLineBytes) {
              skipping = true;
              skipPrefix = prefixOf();
              skipBytes = partBytes;
              parts = [];
              partBytes = 0;
            }
          }
          return;
        }
        const piece = chunk.subarray(start, newline);
        start = newline + 1;
        if (skipping) {
          skipping = false;
          onOversized(skipPrefix, skipBytes + piece.length);
          skipPrefix = "";
          continue;
        }
        const total = partBytes + piece.length;
        if (total > maxLineBytes) {
          const prefix = prefixOf(piece);
          parts = [];
          partBytes = 0;
          onOversized(prefix, total);
          continue;
        }
        emit(parts.length === 0 ? piece : joined(piece));
      }
    },
  };
}
