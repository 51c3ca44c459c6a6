import { type MessageBatch, type ScheduledController, serve } from "containerflare";
import type { Env } from "./env.ts";

// The Worker module shape: fetch, scheduled and queue, with the Workers signatures and ctx.env typed.
serve<Env>({
  fetch: (_request, ctx) => new Response(ctx.request.id),
  async scheduled(controller: ScheduledController, env, ctx) {
    const at: number = controller.scheduledTime;
    await env.JOBS.send({ cron: controller.cron, at });
    ctx.log.info("ran");
    controller.noRetry();
  },
  async queue(batch: MessageBatch<{ url: string }>, env) {
    for (const message of batch.messages) {
      const url: string = message.body.url;
      const when: Date = message.timestamp;
      await env.CACHE.put(url, when.toISOString());
      if (message.attempts > 3) message.ack();
      else message.retry({ delaySeconds: 30 });
    }
    batch.ackAll();
  },
});

// Events only: no fetch.
serve<Env>({ queue: (batch) => batch.retryAll({ delaySeconds: 10 }) });

// @ts-expect-error an object needs fetch, scheduled or queue
serve<Env>({});

// @ts-expect-error retry takes options, not a number
serve<Env>({ queue: (batch) => batch.messages[0]?.retry(30) });
