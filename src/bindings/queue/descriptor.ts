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

const queues = v.looseObject({
  producers: v.optional(v.array(v.looseObject({ binding: bindingName, queue: v.pipe(v.string(), v.nonEmpty()) }))),
});

/** Queue producers (`Queue`). */
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
      // Dev consumes every queue the app produces to (the dev Worker logs each message).
      const names = [...new Set(Object.values(producers))];
      return {
        queueProducers: producers,
        queueConsumers: Object.fromEntries(names.map((name) => [name, { maxBatchTimeout: 0 }])),
      };
    },
  } satisfies DevSection<typeof queues>,
});
