/**
 * The Worker's half of events: a Cron Trigger or a queue batch the Worker receives is sent to
 * the container's `scheduled` or `queue` handler (src/serve/events.ts), and what the handler did
 * is applied to the real event: each `ack()`/`retry()`/`ackAll()`/`retryAll()` replayed on the
 * batch, in order; a handler that failed, or a container that did not answer in time, fails the
 * invocation, so the platform retries what was not acked. The wire format is
 * src/events/protocol.ts.
 *
 * ```ts
 * export default {
 *   fetch: (request, env) => env.APP.getByName("main").fetch(request),
 *   scheduled: (controller, env) => forwardScheduled(controller, env.APP.getByName("main"), env),
 *   queue: (batch, env) => forwardQueue(batch, env.APP.getByName("main"), env),
 * };
 * ```
 *
 * @module
 */

import * as v from "valibot";
import { ContainerflareError } from "../errors.ts";
import {
  EVENT_SIGNATURE_HEADER,
  EVENTS_PATH,
  type EventOutcome,
  EventOutcomeSchema,
  encodeMessageBody,
  MAX_OUTCOME_BYTES,
} from "../events/protocol.ts";
import type { MessageBatch, ScheduledController } from "../events/types.ts";
import { errorMessage } from "../internal/error-message.ts";
import { readStreamLimited } from "../protocol/bytes.ts";
import { signCommandRequest } from "../request-signature.ts";
import { type ForwardOptions, type ForwardTarget, forward } from "./forward.ts";
import type { ContainerflareWorkerEnv } from "./types.ts";

/**
 * How long the Worker waits for the container's answer to an event by default: 5 minutes. A
 * queue consumer or a Cron Trigger may run for up to 15 minutes on Cloudflare; a container that
 * has not answered in 5 is more likely stuck than busy, and its batch is better retried.
 */
export const DEFAULT_EVENT_TIMEOUT_MS = 5 * 60_000;

/** Options of {@link forwardScheduled} and {@link forwardQueue}. */
export interface ForwardEventOptions extends ForwardOptions {
  /**
   * How long to wait for the container's answer, in ms; default {@link DEFAULT_EVENT_TIMEOUT_MS}.
   * Past it the invocation fails (the platform retries the batch; the handler may still finish).
   */
  timeoutMs?: number;
}

/**
 * Runs a Cron Trigger in the container's `scheduled(controller, env, ctx)` and waits for it.
 * Rejects when the handler failed (after `controller.noRetry()` if the handler called it) or the
 * container did not answer: the invocation is then marked failed.
 */
export async function forwardScheduled(
  controller: ScheduledController,
  target: ForwardTarget,
  env: ContainerflareWorkerEnv = {},
  options: ForwardEventOptions = {},
): Promise<void> {
  const body = JSON.stringify({
    v: 1,
    type: "scheduled",
    cron: controller.cron,
    scheduledTime: controller.scheduledTime,
  });
  const outcome = await sendEvent("scheduled", body, target, env, options);
  if (outcome.noRetry) controller.noRetry();
  if (!outcome.ok) throw failure("scheduled", controller.cron, outcome);
}

/**
 * Delivers a queue batch to the container's `queue(batch, env, ctx)` and applies what it did to
 * `batch`. Rejects when the handler failed or the container did not answer, after the calls it
 * made were applied: the platform then retries every message not acked.
 *
 * Bodies travel as JSON, bytes (ArrayBuffer, typed arrays) as base64; a body JSON cannot carry
 * (a cyclic object, a BigInt) is not sent: that message is retried (and, after `max_retries`,
 * goes to the dead letter queue) with a line in the Worker's log.
 */
export async function forwardQueue(
  batch: MessageBatch,
  target: ForwardTarget,
  env: ContainerflareWorkerEnv = {},
  options: ForwardEventOptions = {},
): Promise<void> {
  const encoded: string[] = [];
  for (const message of batch.messages) {
    try {
      encoded.push(
        JSON.stringify({
          id: message.id,
          timestamp: message.timestamp.getTime(),
          attempts: message.attempts,
          ...encodeMessageBody(message.body),
        }),
      );
    } catch (error) {
      console.error(
        `containerflare: queue ${batch.queue}: message ${message.id} has a body JSON cannot carry (${errorMessage(error)}); it is retried`,
      );
      message.retry();
    }
  }
  if (encoded.length === 0) return;
  const body = `{"v":1,"type":"queue","queue":${JSON.stringify(batch.queue)},"messages":[${encoded.join(",")}]}`;
  const outcome = await sendEvent("queue", body, target, env, options);
  const messages = new Map(batch.messages.map((message) => [message.id, message]));
  for (const call of outcome.calls ?? []) {
    const delay = "delaySeconds" in call && call.delaySeconds !== undefined ? { delaySeconds: call.delaySeconds } : {};
    if (call.op === "ack") messages.get(call.id)?.ack();
    else if (call.op === "retry") messages.get(call.id)?.retry(delay);
    else if (call.op === "ackAll") batch.ackAll();
    else batch.retryAll(delay);
  }
  if (!outcome.ok) throw failure("queue", batch.queue, outcome);
}

function failure(type: string, what: string, outcome: EventOutcome): ContainerflareError {
  return new ContainerflareError(
    "UNAVAILABLE",
    `containerflare: the container's ${type} handler failed for ${what}: ${outcome.error?.message ?? "no reason given"}`,
  );
}

/** Sends one signed event and reads the container's outcome; rejects when there is none. */
async function sendEvent(
  type: string,
  body: string,
  target: ForwardTarget,
  env: ContainerflareWorkerEnv,
  options: ForwardEventOptions,
): Promise<EventOutcome> {
  const secret = options.secret ?? env.CONTAINERFLARE_SECRET;
  if (!secret) {
    throw new ContainerflareError(
      "INVALID_CONFIG",
      "containerflare: forwarding events needs CONTAINERFLARE_SECRET (wrangler secret put CONTAINERFLARE_SECRET): the container accepts only signed events",
    );
  }
  const bytes = new TextEncoder().encode(body);
  const signature = await signCommandRequest(secret, { method: "POST", path: EVENTS_PATH, body: bytes });
  const request = new Request(`http://container${EVENTS_PATH}`, {
    method: "POST",
    body: bytes,
    headers: { "content-type": "application/json", [EVENT_SIGNATURE_HEADER]: signature },
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_EVENT_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ContainerflareError(
            "TIMEOUT",
            `containerflare: the container did not answer the ${type} event within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    const response = await Promise.race([forward(request, target, env, options), timedOut]);
    return await Promise.race([readOutcome(type, response), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outcome in a response: the container's JSON (200 or 500), else an error naming what came back. */
async function readOutcome(type: string, response: Response): Promise<EventOutcome> {
  const isJson = response.headers.get("content-type")?.includes("json");
  const read = response.body && isJson ? await readStreamLimited(response.body, MAX_OUTCOME_BYTES) : undefined;
  if (!read || read.tooLarge) {
    await response.body?.cancel().catch(() => {});
    throw new ContainerflareError(
      "UNAVAILABLE",
      `containerflare: the container answered the ${type} event with ${response.status} and no outcome: is it served by containerflare's serve() with a ${type} handler?`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(read.bytes));
  } catch {
    json = undefined;
  }
  const parsed = v.safeParse(EventOutcomeSchema, json);
  if (parsed.success) return parsed.output;
  const error = (json as { error?: { message?: unknown } } | undefined)?.error;
  const reason = typeof error?.message === "string" ? `: ${error.message}` : "";
  throw new ContainerflareError(
    "UNAVAILABLE",
    `containerflare: the container refused the ${type} event with ${response.status}${reason}`,
  );
}
