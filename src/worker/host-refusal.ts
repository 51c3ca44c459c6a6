/**
 * The answer of a command host that cannot serve (its configuration is invalid): every frame of
 * the request gets the same error frame, for its own id, in the shape the client sent, so that
 * the app's command fails with the reason rather than with "no valid answer frame".
 *
 * @module
 */
import { BATCH_CONTENT_TYPE, discardRest, FRAME_CONTENT_TYPE, splitFrameLine } from "../protocol/body.ts";
import { readBodyLimited } from "../protocol/bytes.ts";
import { DEFAULT_MAX_FRAME_BYTES, encodeFailure, leadingFrameId } from "../protocol/frames.ts";

/** Status of the refusal: the Worker's own configuration is at fault, not the request. */
const STATUS = 500;

/**
 * Answers every request frame of `request` (one JSON frame, a batch of JSON lines, or a solo
 * exchange's frame line; docs/protocol.md 2.2) with an `INVALID_CONFIG` error frame carrying
 * `message`, HTTP 500. The body is read up to the default frame limit only to find the frames'
 * ids (a frame whose id cannot be read is answered with id 0); a solo exchange's streamed bytes
 * are dropped unread. The answers name no binding: `message` is the Worker's own configuration
 * error.
 */
export async function refuseEveryFrame(request: Request, message: string): Promise<Response> {
  const error = { code: "INVALID_CONFIG", message, retryable: false } as const;
  const type = request.headers.get("content-type") ?? "";
  if (type.startsWith(FRAME_CONTENT_TYPE)) {
    const split = await splitFrameLine(request.body ?? new Blob([]).stream(), DEFAULT_MAX_FRAME_BYTES);
    if (split.ok) discardRest(split);
    const id = split.ok ? (leadingFrameId(split.line.slice(0, 256)) ?? 0) : 0;
    return answer(encodeFailure(id, error), "application/json");
  }
  const read = await readBodyLimited(request, DEFAULT_MAX_FRAME_BYTES);
  const text = new TextDecoder().decode(read.tooLarge ? read.head : read.bytes);
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const ids = lines.length > 0 ? lines.map((line) => leadingFrameId(line.slice(0, 256)) ?? 0) : [0];
  if (type.startsWith(BATCH_CONTENT_TYPE)) {
    return answer(ids.map((id) => `${encodeFailure(id, error)}\n`).join(""), BATCH_CONTENT_TYPE);
  }
  return answer(encodeFailure(ids[0]!, error), "application/json");
}

function answer(body: string, type: string): Response {
  return new Response(body, { status: STATUS, headers: { "content-type": type } });
}
