/**
 * The container's side of an event: the `ScheduledController` and `MessageBatch` a handler
 * receives, recording what it calls so that the Worker can replay it on the real batch. Pure:
 * no I/O, no runtime APIs.
 *
 * @module
 */
import { type BatchCall, decodeMessageBody, type QueueEvent, type ScheduledEvent } from "./protocol.ts";
import type { Message, MessageBatch, QueueRetryOptions, ScheduledController } from "./types.ts";

/** A batch and the calls made on it. */
export interface RecordedBatch {
  batch: MessageBatch;
  /**
   * The calls that decide something, in the order made: a message's first `ack()` or `retry()`
   * (later ones change nothing on Cloudflare either) and the batch's first `ackAll()` or
   * `retryAll()`. So at most one call per message plus one: the app cannot grow it.
   */
  calls(): BatchCall[];
}

function retryDelay(options: QueueRetryOptions | undefined): { delaySeconds?: number } {
  const delay = options?.delaySeconds;
  if (delay === undefined) return {};
  if (!Number.isInteger(delay) || delay < 0 || delay > 43_200)
    throw new RangeError(`retry delaySeconds must be an integer from 0 to 43200, got ${String(delay)}`);
  return { delaySeconds: delay };
}

/** The batch a `queue` handler receives for `event`. */
export function recordBatch(event: Pick<QueueEvent, "queue" | "messages">): RecordedBatch {
  const calls: BatchCall[] = [];
  const decided = new Set<string>();
  let batchDecided = false;
  const messages = event.messages.map((wire): Message => {
    const decide = (call: BatchCall & { id: string }) => {
      if (decided.has(wire.id)) return;
      decided.add(wire.id);
      calls.push(call);
    };
    return Object.freeze({
      id: wire.id,
      timestamp: new Date(wire.timestamp),
      body: decodeMessageBody(wire),
      attempts: wire.attempts,
      ack: () => decide({ op: "ack", id: wire.id }),
      retry: (options?: QueueRetryOptions) => decide({ op: "retry", id: wire.id, ...retryDelay(options) }),
    });
  });
  const decideBatch = (call: BatchCall) => {
    if (batchDecided) return;
    batchDecided = true;
    calls.push(call);
  };
  const batch: MessageBatch = Object.freeze({
    queue: event.queue,
    messages: Object.freeze(messages),
    ackAll: () => decideBatch({ op: "ackAll" }),
    retryAll: (options?: QueueRetryOptions) => decideBatch({ op: "retryAll", ...retryDelay(options) }),
  });
  return { batch, calls: () => [...calls] };
}

/** A controller and whether its handler asked for no retry. */
export interface RecordedController {
  controller: ScheduledController;
  noRetry(): boolean;
}

/** The controller a `scheduled` handler receives for `event`. */
export function recordController(event: Pick<ScheduledEvent, "cron" | "scheduledTime">): RecordedController {
  let noRetry = false;
  const controller: ScheduledController = Object.freeze({
    cron: event.cron,
    scheduledTime: event.scheduledTime,
    noRetry: () => {
      noRetry = true;
    },
  });
  return { controller, noRetry: () => noRetry };
}
