/**
 * Workers' `FixedLengthStream` for the container (no imports: it is part of containerflare's
 * start-up entry).
 *
 * @module
 */

/** Where a {@link FixedLengthStream}'s readable side keeps its length. */
export const STREAM_LENGTH: unique symbol = Symbol.for("containerflare.streamLength");

/**
 * Workers' `FixedLengthStream` in the container: bytes written to it pass through, and its
 * readable side states their count, which R2's `put` needs for a stream (as it does in Workers:
 * `env.FILES.put(key, body.pipeThrough(new FixedLengthStream(size)))`). Errors if more or fewer
 * bytes pass.
 */
export class FixedLengthStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(expectedLength: number | bigint) {
    const length = Number(expectedLength);
    if (!Number.isSafeInteger(length) || length < 0)
      throw new RangeError(`FixedLengthStream: expected a byte count, got ${String(expectedLength)}`);
    let seen = 0;
    super({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > length) throw new RangeError(`FixedLengthStream: more than the ${length} bytes announced`);
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== length) throw new RangeError(`FixedLengthStream: ${seen} of the ${length} bytes announced`);
      },
    });
    Object.defineProperty(this.readable, STREAM_LENGTH, { value: length });
  }
}
