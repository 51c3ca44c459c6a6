/**
 * The Workers types of the events a container receives, written structurally (the library is
 * checked with Node's types): @cloudflare/workers-types' `ScheduledController`, `MessageBatch`
 * and `Message` fit them, so handlers written for a Worker type-check here unchanged.
 *
 * @module
 */
import type { Bindings } from "../command/index.ts";
import type { ContainerContext } from "../context.ts";

/** Options of {@link Message.retry} and {@link MessageBatch.retryAll}. */
export interface QueueRetryOptions {
  /** Seconds before the message is delivered again (0–43,200; the queue's `retry_delay` when unset). */
  delaySeconds?: number;
}

/** One message of a {@link MessageBatch}. */
export interface Message<Body = unknown> {
  readonly id: string;
  readonly timestamp: Date;
  /** The body as sent: JSON values as parsed, bytes as a Uint8Array. */
  readonly body: Body;
  /** Delivery attempts so far, this one included (1 on the first). */
  readonly attempts: number;
  /** Delivers the message again later. The first of `ack()`/`retry()` decides; later calls do nothing. */
  retry(options?: QueueRetryOptions): void;
  /** Marks the message delivered, whatever the handler does next. */
  ack(): void;
}

/** A batch of messages from one queue: what `queue(batch, env, ctx)` receives. */
export interface MessageBatch<Body = unknown> {
  readonly queue: string;
  readonly messages: readonly Message<Body>[];
  /** Delivers every message again later, except those already acked or retried one by one. */
  retryAll(options?: QueueRetryOptions): void;
  /** Marks every message delivered, except those already retried one by one. */
  ackAll(): void;
}

/** What `scheduled(controller, env, ctx)` receives for a Cron Trigger (or a Cloud Scheduler job). */
export interface ScheduledController {
  /** When the trigger was due, in ms since the epoch. */
  readonly scheduledTime: number;
  /** The cron expression that fired (on Cloud Run: the job's, see docs/deploy.md). */
  readonly cron: string;
  /** Asks the platform not to run this invocation again if it fails. */
  noRetry(): void;
}

/** A Cron Trigger handler: the same signature as a Worker's `scheduled`. */
export type ScheduledHandler<Env = Bindings> = (
  controller: ScheduledController,
  env: Env,
  ctx: ContainerContext<Env>,
) => unknown | Promise<unknown>;

/** A queue consumer handler: the same signature as a Worker's `queue`. */
export type QueueHandler<Env = Bindings, Body = unknown> = (
  batch: MessageBatch<Body>,
  env: Env,
  ctx: ContainerContext<Env>,
) => unknown | Promise<unknown>;

/** The event handlers of an app (`serve({ fetch, scheduled, queue })`). */
export interface EventHandlers<Env = Bindings> {
  scheduled?: ScheduledHandler<Env> | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: a handler may type its messages' body (MessageBatch<Job>).
  queue?: QueueHandler<Env, any> | undefined;
}
