/**
 * Events on Cloud Run, where no Worker forwards them: a Pub/Sub push request becomes a
 * `MessageBatch` of one for `queue`, a Cloud Scheduler request a `ScheduledController` for
 * `scheduled`, and what the handler did becomes the status code each of them retries on. Pure:
 * bytes and headers in, values out, no I/O (the receiver, cloud-run-receive.ts, does the I/O).
 *
 * Decisions (docs/deploy.md, "Events on Cloud Run"):
 *
 * - A message's body is decoded from its `data` by the `content-type` (or `contentType`)
 *   attribute when there is one: JSON types (`application/json`, `…+json`) are parsed, `text/*`
 *   is decoded as UTF-8, any other type is bytes (a Uint8Array). Without the attribute it is
 *   sniffed: JSON when the data is UTF-8 JSON, else the UTF-8 string when the data is valid
 *   UTF-8, else bytes; no data at all is `null` (as a Cloudflare message sent without a body).
 *   Data that does not match its declared type is a malformed push (400).
 * - A Scheduler job's `cron` is the `cron` of its JSON body (`{"cron":"0 * * * *"}`, set with
 *   `--message-body`) when it has one, else the `X-CloudScheduler-JobName` header, else "".
 *
 * @module
 */
import * as v from "valibot";
import { issueLine } from "../internal/issues.ts";
import { encodeBytes, fromBase64 } from "../protocol/bytes.ts";
import {
  type BatchCall,
  type EventMessage,
  MAX_NAME_LENGTH,
  type QueueEvent,
  type ScheduledEvent,
} from "./protocol.ts";

/** Largest Pub/Sub push body read: 16 MiB (a message is at most 10 MB, 13.4 MB as base64, plus its attributes). */
export const MAX_PUBSUB_BODY_BYTES = 16 * 2 ** 20;

/** Largest Cloud Scheduler body read: 64 KiB (only its `cron` is read). */
export const MAX_SCHEDULER_BODY_BYTES = 64 * 2 ** 10;

const rfc3339 = v.pipe(
  v.string(),
  v.maxLength(64),
  v.regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i, "must be an RFC 3339 time"),
  v.check((value) => Number.isFinite(Date.parse(value)), "must be an RFC 3339 time"),
);
const messageId = v.pipe(v.string(), v.nonEmpty(), v.maxLength(MAX_NAME_LENGTH));

/** The `message` of a push in the wrapped format; Pub/Sub sends each of its fields in both spellings. */
const PubSubMessageSchema = v.pipe(
  v.object({
    data: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/, "data must be standard base64"))),
    attributes: v.optional(v.nullable(v.record(v.string(), v.string()))),
    messageId: v.optional(messageId),
    message_id: v.optional(messageId),
    publishTime: v.optional(rfc3339),
    publish_time: v.optional(rfc3339),
  }),
  v.check((message) => (message.messageId ?? message.message_id) !== undefined, "message.messageId is required"),
  v.check((message) => (message.publishTime ?? message.publish_time) !== undefined, "message.publishTime is required"),
);

/** A Pub/Sub push body (the wrapped format; `--push-no-wrapper` subscriptions are not supported). */
export const PubSubPushSchema = v.object({
  message: PubSubMessageSchema,
  subscription: v.pipe(
    v.string(),
    v.maxLength(MAX_NAME_LENGTH),
    v.regex(/^projects\/[^/]+\/subscriptions\/[^/]+$/, "subscription must be projects/PROJECT/subscriptions/NAME"),
  ),
  deliveryAttempt: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1)))),
});

/** A Cloud Scheduler body: empty, or a JSON object whose `cron` (if any) is the job's cron. */
const SchedulerBodySchema = v.looseObject({
  cron: v.optional(v.pipe(v.string(), v.maxLength(MAX_NAME_LENGTH))),
});

/** A queue event, ready for `recordBatch` (batch.ts). */
export type PubSubEvent = Pick<QueueEvent, "queue" | "messages">;

/** The `queue` event of a push body, or a one-line reason it is malformed. */
export function parsePubSubPush(bytes: Uint8Array): PubSubEvent | string {
  const json = parseJson(bytes);
  if (json === INVALID) return "a Pub/Sub push body must be JSON";
  const parsed = v.safeParse(PubSubPushSchema, json);
  if (!parsed.success) return `invalid Pub/Sub push: ${issueLine(parsed.issues)}`;
  const { message, subscription, deliveryAttempt } = parsed.output;
  const data = message.data ? fromBase64(message.data) : new Uint8Array(0);
  const body = decodeMessageData(data, contentTypeOf(message.attributes ?? undefined));
  if (typeof body === "string") return `invalid Pub/Sub push: ${body}`;
  const wire: EventMessage = {
    id: (message.messageId ?? message.message_id) as string,
    timestamp: Date.parse((message.publishTime ?? message.publish_time) as string),
    attempts: deliveryAttempt ?? 1,
    ...body,
  };
  return { queue: subscription.slice(subscription.lastIndexOf("/") + 1), messages: [wire] };
}

/** The declared content type of a message: its `content-type` (or `contentType`) attribute. */
export function contentTypeOf(attributes: Record<string, string> | undefined): string | undefined {
  return attributes?.["content-type"] ?? attributes?.contentType ?? attributes?.["Content-Type"];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A message's body on the events wire (bytes as a base64 envelope), from its data and declared
 * content type (see the module comment), or a one-line reason the data does not match its type.
 */
export function decodeMessageData(
  data: Uint8Array,
  contentType: string | undefined,
): Pick<EventMessage, "body" | "contentType"> | string {
  const kind = contentType === undefined ? "sniff" : mediaKind(contentType);
  if (kind === "bytes") return { body: encodeBytes(data), contentType: "bytes" };
  if (kind === "sniff" && data.byteLength === 0) return { body: null };
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return kind === "sniff" ? { body: encodeBytes(data), contentType: "bytes" } : `data is not UTF-8 (${contentType})`;
  }
  if (kind === "text") return { body: text };
  const json = parseJsonText(text);
  if (json !== INVALID) return { body: json };
  return kind === "json" ? `data is not JSON (${contentType})` : { body: text };
}

/** How a declared media type is decoded. */
function mediaKind(contentType: string): "json" | "text" | "bytes" {
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) return "json";
  return type.startsWith("text/") ? "text" : "bytes";
}

/** What a push is answered with: 204 acknowledges it, 503 has Pub/Sub deliver it again. */
export interface PubSubVerdict {
  retry: boolean;
  /** A delay the handler asked for: Pub/Sub cannot honour it per message (its retry policy decides). */
  delaySeconds?: number;
}

/**
 * The fate of a batch of one, from the calls its handler made (recordBatch's, in order) and
 * whether it threw. As on Cloudflare, the message's own `ack()`/`retry()` wins, then the batch's
 * `ackAll()`/`retryAll()`; without either, a handler that returned acknowledges the message and
 * one that threw has it delivered again.
 */
export function pubsubVerdict(calls: readonly BatchCall[], failed: boolean): PubSubVerdict {
  const call = calls.find((item) => item.op === "ack" || item.op === "retry") ?? calls[0];
  if (!call) return { retry: failed };
  if (call.op === "ack" || call.op === "ackAll") return { retry: false };
  return call.delaySeconds === undefined ? { retry: true } : { retry: true, delaySeconds: call.delaySeconds };
}

/** The scheduled event of a Cloud Scheduler request, or a one-line reason it is malformed. */
export function parseSchedulerRequest(
  headers: Headers,
  bytes: Uint8Array,
  now: number,
): Pick<ScheduledEvent, "cron" | "scheduledTime"> | string {
  const scheduleHeader = headers.get("x-cloudscheduler-scheduletime");
  let scheduledTime = now;
  if (scheduleHeader !== null) {
    if (!v.is(rfc3339, scheduleHeader)) return "X-CloudScheduler-ScheduleTime must be an RFC 3339 time";
    scheduledTime = Date.parse(scheduleHeader);
  }
  let cron: string | undefined;
  if (bytes.byteLength > 0) {
    const json = parseJson(bytes);
    // valibot's objects take arrays: a JSON array is no job body either.
    const parsed = v.safeParse(SchedulerBodySchema, json === INVALID || Array.isArray(json) ? undefined : json);
    if (!parsed.success)
      return 'a Cloud Scheduler body must be empty or a JSON object such as {"cron":"0 * * * *"} (cron a string of at most 1024 characters)';
    cron = parsed.output.cron;
  }
  cron ??= headers.get("x-cloudscheduler-jobname") ?? "";
  if (cron.length > MAX_NAME_LENGTH) return `X-CloudScheduler-JobName is longer than ${MAX_NAME_LENGTH} characters`;
  return { cron, scheduledTime };
}

/**
 * The status a Scheduler request is answered with: 200 when the handler returned, 500 when it
 * threw (Cloud Scheduler retries per the job's retry config), 200 when it threw after
 * `noRetry()` (the failure is in the log, and the job does not run again).
 */
export function schedulerStatus(failed: boolean, noRetry: boolean): 200 | 500 {
  return failed && !noRetry ? 500 : 200;
}

const INVALID: unique symbol = Symbol("invalid JSON");

function parseJson(bytes: Uint8Array): unknown {
  try {
    return parseJsonText(utf8.decode(bytes));
  } catch {
    return INVALID;
  }
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}
