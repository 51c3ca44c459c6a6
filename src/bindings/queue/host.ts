import { decodeBytes, type EncodedBytes } from "../../protocol/bytes.ts";
import { type CommandDefinition, defineCommand, defined } from "../handler.ts";
import { QueueSendBatchPayloadSchema, QueueSendPayloadSchema } from "../schemas.ts";

function body(value: unknown, contentType: string | undefined): unknown {
  return contentType === "bytes" ? decodeBytes(value as EncodedBytes) : value;
}

/** Send responses carry a Date; it travels as an ISO string. */
function wireResponse(response: unknown): unknown {
  if (response === undefined || response === null) return null;
  const metrics = (response as { metadata?: { metrics?: Record<string, unknown> } }).metadata?.metrics;
  if (!metrics) return response;
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
export const queueCommands: Record<string, CommandDefinition> = {
  "queue.send": defineCommand({
    schema: QueueSendPayloadSchema,
    kind: "queue",
    async run(payload, queue) {
      const options = defined({ contentType: payload.contentType, delaySeconds: payload.delaySeconds });
      return wireResponse(await queue.send(body(payload.body, payload.contentType), options));
    },
  }),
  "queue.sendBatch": defineCommand({
    schema: QueueSendBatchPayloadSchema,
    kind: "queue",
    async run(payload, queue) {
      const messages = payload.messages.map((message) =>
        defined({
          body: body(message.body, message.contentType),
          contentType: message.contentType,
          delaySeconds: message.delaySeconds,
        }),
      );
      return wireResponse(await queue.sendBatch(messages, defined({ delaySeconds: payload.delaySeconds })));
    },
  }),
};
