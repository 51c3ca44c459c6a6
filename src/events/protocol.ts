/**
 * Events on the wire: how the Worker hands a Cron Trigger or a queue batch to the container, and
 * how the container answers with what its handler did (docs/protocol.md, "Events"). Shared by the
 * Worker (src/worker/events.ts) and the container (src/serve/events.ts): valibot and Web APIs
 * only.
 *
 * An event is `POST /__containerflare/v1/events` with a JSON body, signed like a command request
 * (src/request-signature.ts: method, path and body under `CONTAINERFLARE_SECRET`) in its own
 * header, {@link EVENT_SIGNATURE_HEADER}: the Durable Object in between re-signs the metadata
 * header of what it forwards, but leaves this one as the Worker made it.
 *
 * @module
 */
import * as v from "valibot";
import { decodeBytes, type EncodedBytes, EncodedBytesSchema, encodeBytes } from "../protocol/bytes.ts";

export { EVENT_SIGNATURE_HEADER, EVENTS_PATH, MAX_EVENT_BODY_BYTES } from "./route.ts";

/** Most messages in one batch: 1,000 (Cloudflare delivers at most 100, Pub/Sub one). */
export const MAX_BATCH_MESSAGES = 1_000;

/** Largest outcome the Worker reads back: 1 MiB (one call per message, ~100 bytes each). */
export const MAX_OUTCOME_BYTES = 2 ** 20;

/** Longest cron expression, queue or job name, or message id accepted (here and from Cloud Run): 1,024 characters. */
export const MAX_NAME_LENGTH = 1_024;

const name = v.pipe(v.string(), v.nonEmpty(), v.maxLength(MAX_NAME_LENGTH));
const time = v.pipe(v.number(), v.finite());
const delaySeconds = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(43_200)));

/** A Cron Trigger: `scheduled(controller)`'s `cron` and `scheduledTime` (ms). */
export const ScheduledEventSchema = v.object({
  v: v.literal(1),
  type: v.literal("scheduled"),
  cron: v.pipe(v.string(), v.maxLength(MAX_NAME_LENGTH)),
  scheduledTime: time,
});

/** One message of a batch: a JSON body, or bytes (`contentType: "bytes"`) as a base64 envelope. */
export const EventMessageSchema = v.pipe(
  v.object({
    id: name,
    timestamp: time,
    attempts: v.pipe(v.number(), v.integer(), v.minValue(1)),
    body: v.unknown(),
    contentType: v.optional(v.picklist(["json", "bytes"])),
  }),
  v.check(
    (message) => message.contentType !== "bytes" || v.is(EncodedBytesSchema, message.body),
    "a bytes body must be a base64 envelope",
  ),
);

/** A queue batch. */
export const QueueEventSchema = v.object({
  v: v.literal(1),
  type: v.literal("queue"),
  queue: name,
  messages: v.pipe(v.array(EventMessageSchema), v.maxLength(MAX_BATCH_MESSAGES)),
});

/** Any event. */
export const EventSchema = v.variant("type", [ScheduledEventSchema, QueueEventSchema]);

export type ScheduledEvent = v.InferOutput<typeof ScheduledEventSchema>;
export type QueueEvent = v.InferOutput<typeof QueueEventSchema>;
export type EventMessage = v.InferOutput<typeof EventMessageSchema>;
export type ContainerEvent = v.InferOutput<typeof EventSchema>;

/** One call the handler made on its batch, replayed by the Worker on the real one, in order. */
export const BatchCallSchema = v.variant("op", [
  v.object({ op: v.literal("ack"), id: name }),
  v.object({ op: v.literal("retry"), id: name, delaySeconds }),
  v.object({ op: v.literal("ackAll") }),
  v.object({ op: v.literal("retryAll"), delaySeconds }),
]);

export type BatchCall = v.InferOutput<typeof BatchCallSchema>;

/**
 * The container's answer: `ok` (status 200) when the handler returned, else (status 500) a
 * failure; either way the calls it made on the batch, and for a Cron Trigger whether it called
 * `noRetry()`.
 */
export const EventOutcomeSchema = v.object({
  v: v.literal(1),
  ok: v.boolean(),
  calls: v.optional(v.pipe(v.array(BatchCallSchema), v.maxLength(MAX_BATCH_MESSAGES + 1))),
  noRetry: v.optional(v.boolean()),
  error: v.optional(v.object({ code: v.string(), message: v.string() })),
});

export type EventOutcome = v.InferOutput<typeof EventOutcomeSchema>;

/** A message body on the wire: bytes as a base64 envelope, anything else as JSON. */
export function encodeMessageBody(body: unknown): Pick<EventMessage, "body" | "contentType"> {
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { body: encodeBytes(body), contentType: "bytes" };
  // JSON.stringify drops `undefined`: a message sent without a body arrives as null.
  return { body: body === undefined ? null : body };
}

/** The body a handler sees: the bytes of an envelope as a Uint8Array, JSON as parsed. */
export function decodeMessageBody(message: Pick<EventMessage, "body" | "contentType">): unknown {
  return message.contentType === "bytes" ? decodeBytes(message.body as EncodedBytes) : message.body;
}
