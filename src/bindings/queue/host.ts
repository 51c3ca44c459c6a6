import type { MessageSendRequest, Queue } from "@cloudflare/workers-types";
import { decodeBytes, type EncodedBytes } from "../../protocol/bytes.ts";
import { defineBindingHost, defined, handler } from "../handler.ts";
import { type QueueSendJson, queue } from "./descriptor.ts";
import { QueueSendBatchPayloadSchema, QueueSendPayloadSchema } from "./schemas.ts";

function body(value: unknown, contentType: string | undefined): unknown {
  return contentType === "bytes" ? decodeBytes(value as EncodedBytes) : value;
}

/** Send responses carry a Date; it travels as an ISO string. */
function wireResponse(response: unknown): QueueSendJson {
  if (response === undefined || response === null) return null;
  const metrics = (response as { metadata?: { metrics?: Record<string, unknown> } }).metadata?.metrics;
  if (!metrics) return response as QueueSendJson;
  const { oldestMessageTimestamp, ...rest } = metrics;
  return {
    ...(response as object),
    metadata: {
      ...(response as { metadata: object }).metadata,
      metrics: {
        ...rest,
        ...(oldestMessageTimestamp instanceof Date
          ? { oldestMessageTimestamp: oldestMessageTimestamp.toISOString() }
          : {}),
      },
    },
  };
}

/** `queue.*` commands against a Workers Queue producer. */
export const queueHost = defineBindingHost<typeof queue, Queue>(queue, {
  "queue.send": handler(QueueSendPayloadSchema, async (payload, queue: Queue) => {
    const options = defined({ contentType: payload.contentType, delaySeconds: payload.delaySeconds });
    return wireResponse(await queue.send(body(payload.body, payload.contentType), options));
  }),
  "queue.sendBatch": handler(QueueSendBatchPayloadSchema, async (payload, queue: Queue) => {
    const messages = payload.messages.map(
      (message): MessageSendRequest =>
        defined({
          body: body(message.body, message.contentType),
          contentType: message.contentType,
          delaySeconds: message.delaySeconds,
        }) as MessageSendRequest,
    );
    return wireResponse(await queue.sendBatch(messages, defined({ delaySeconds: payload.delaySeconds })));
  }),
});
