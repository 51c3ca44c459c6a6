/** Payload schemas of the `queue.*` commands. */
import * as v from "valibot";
import { EncodedBytesSchema } from "../../protocol/bytes.ts";
import { nonNegativeInt, withBinding } from "../schemas.ts";

const queueContentType = v.optional(v.picklist(["text", "bytes", "json", "v8"]));
const delaySeconds = v.optional(nonNegativeInt);

const messageEntries = { body: v.unknown(), contentType: queueContentType, delaySeconds };

type MessageShape = { body: unknown; contentType?: "text" | "bytes" | "json" | "v8" | undefined };

/** `schema` with the checks that a body matches its content type: bytes as an envelope, text as a string. */
function checkingBody<Schema extends v.GenericSchema<unknown, MessageShape>>(schema: Schema) {
  return v.pipe(
    schema,
    v.check<v.InferOutput<Schema>, string>(
      (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
      "a bytes body must be a base64 envelope",
    ),
    v.check<v.InferOutput<Schema>, string>(
      (message) => message.contentType !== "text" || typeof message.body === "string",
      "a text body must be a string",
    ),
  );
}

/** One queue message; with `contentType: "bytes"` the body is a bytes envelope. */
export const QueueMessageSchema = checkingBody(v.object(messageEntries));

/** `queue.send`. */
export const QueueSendPayloadSchema = checkingBody(v.object({ ...withBinding, ...messageEntries }));

/** `queue.sendBatch`. */
export const QueueSendBatchPayloadSchema = v.object({
  ...withBinding,
  messages: v.pipe(v.array(QueueMessageSchema), v.minLength(1)),
  delaySeconds,
});
