/** Payload schemas of the `queue.*` commands. */
import * as v from "valibot";
import { EncodedBytesSchema } from "../../protocol/bytes.ts";
import { nonNegativeInt, withBinding } from "../schemas.ts";

const queueContentType = v.optional(v.picklist(["text", "bytes", "json", "v8"]));
const delaySeconds = v.optional(nonNegativeInt);

/** One queue message; with `contentType: "bytes"` the body is a bytes envelope. */
export const QueueMessageSchema = v.pipe(
  v.object({ body: v.unknown(), contentType: queueContentType, delaySeconds }),
  v.check(
    (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
    "a bytes body must be a base64 envelope",
  ),
  v.check(
    (message) => message.contentType !== "text" || typeof message.body === "string",
    "a text body must be a string",
  ),
);

/** `queue.send`. */
export const QueueSendPayloadSchema = v.pipe(
  v.object({ ...withBinding, body: v.unknown(), contentType: queueContentType, delaySeconds }),
  v.check(
    (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
    "a bytes body must be a base64 envelope",
  ),
  v.check(
    (message) => message.contentType !== "text" || typeof message.body === "string",
    "a text body must be a string",
  ),
);

/** `queue.sendBatch`. */
export const QueueSendBatchPayloadSchema = v.object({
  ...withBinding,
  messages: v.pipe(v.array(QueueMessageSchema), v.minLength(1)),
  delaySeconds,
});
