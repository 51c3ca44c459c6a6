import * as v from "valibot";
import { type DevSection, defineBinding } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type { QueueSendBatchPayloadSchema, QueueSendPayloadSchema } from "./schemas.ts";

/** A send response (QueueSendResponse) on the wire: Dates as ISO strings; null from runtimes that answer nothing. */
export type QueueSendJson = Record<string, unknown> | null;

/** Payload and result of every `queue.*` command. */
export type QueueCommands = {
  "queue.send": { payload: v.InferInput<typeof QueueSendPayloadSchema>; result: QueueSendJson };
  "queue.sendBatch": {
    payload: v.InferInput<typeof QueueSendBatchPayloadSchema>;
    result: QueueSendJson;
  };
};

const queueName = v.pipe(v.string(), v.nonEmpty());
const count = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)));

const queues = v.looseObject({
  producers: v.optional(v.array(v.looseObject({ binding: bindingName, queue: queueName }))),
  // What the app's Worker consumes: dev delivers these to the app's `queue` handler.
  consumers: v.optional(
    v.array(
      v.looseObject({
        queue: queueName,
        max_batch_size: count,
        max_batch_timeout: count,
        max_retries: count,
        dead_letter_queue: v.optional(queueName),
        retry_delay: count,
      }),
    ),
  ),
});

/** The queues wrangler.jsonc's `queues.consumers` lists: dev delivers their batches to the app. */
export function consumedQueues(section: v.InferOutput<typeof queues> | undefined): string[] {
  return [...new Set((section?.consumers ?? []).map((entry) => entry.queue))];
}

/** Queue producers (`Queue`), and in dev the consumers of wrangler.jsonc. */
export const queue = defineBinding<QueueCommands>()({
  kind: "queue",
  title: "queue",
  commands: {
    "queue.send": { read: false },
    "queue.sendBatch": { read: false },
  },
  detect: ["send", "sendBatch"],
  dev: {
    key: "queues",
    schema: queues,
    bindings: (section) => Object.fromEntries((section.producers ?? []).map((entry) => [entry.binding, entry.queue])),
    miniflare: (section) => {
      const producers = Object.fromEntries((section.producers ?? []).map((entry) => [entry.binding, entry.queue]));
      // Dev consumes every queue the app produces to: the ones wrangler.jsonc consumes with their
      // settings (delivered to the app's queue handler), the others at once (logged by the Worker).
      const consumers: Record<string, Record<string, unknown>> = Object.fromEntries(
        [...new Set(Object.values(producers))].map((name) => [name, { maxBatchTimeout: 0 }]),
      );
      for (const entry of section.consumers ?? []) {
        consumers[entry.queue] = {
          maxBatchTimeout: entry.max_batch_timeout ?? 0,
          ...(entry.max_batch_size !== undefined ? { maxBatchSize: entry.max_batch_size } : {}),
          ...(entry.max_retries !== undefined ? { maxRetries: entry.max_retries } : {}),
          ...(entry.dead_letter_queue !== undefined ? { deadLetterQueue: entry.dead_letter_queue } : {}),
          ...(entry.retry_delay !== undefined ? { retryDelay: entry.retry_delay } : {}),
        };
      }
      return { queueProducers: producers, queueConsumers: consumers };
    },
  } satisfies DevSection<typeof queues>,
});
