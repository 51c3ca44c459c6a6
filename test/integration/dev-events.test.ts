/**
 * Cron Triggers and queue batches through `containerflare dev`: the app's `scheduled` and
 * `queue` handlers (its default export) run in the app process, under node, bun and deno, behind
 * dev's built-in Worker and behind the app's own Worker (a Durable Object on the Container API
 * that forwards them with forwardScheduled/forwardQueue). The messages are real: the app sends
 * them to its queue through the command bus, Miniflare's queue delivers them to the Worker, and
 * the acks and retries the handler makes decide what Miniflare delivers again.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyApp, startDevCli } from "../../bench/lib/dev-cli.ts";
import { checkedDev, until } from "./dev-checks.ts";
import { ROOT } from "./runtimes.ts";

const created: string[] = [];
afterAll(async () => {
  const { rmSync } = await import("node:fs");
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

type Seen = {
  type: string;
  cron?: string;
  queue?: string;
  attempts?: number;
  body?: unknown;
  source?: string;
  hasEnv?: boolean;
};

const CASES = (["node", "bun", "deno"] as const).flatMap((runtime) =>
  (["builtin", "main"] as const).map((worker) => ({ runtime, worker })),
);

describe.each(CASES)("events through containerflare dev ($worker Worker, app on $runtime)", ({ runtime, worker }) => {
  it("runs scheduled for --trigger-cron and the HTTP route, and delivers consumed queues with acks and retries applied", async () => {
    const directory = `${copyApp(ROOT, join(ROOT, "test", "fixtures", "dev-events"), `dev-events-${process.pid}-${runtime}-${worker}`)}/`;
    created.push(directory);
    const dev = await startDevCli({
      root: ROOT,
      directory,
      entry: "app.ts",
      runtime,
      args: ["--worker", worker, "--trigger-cron", "*/5 * * * *"],
    });
    const seen = async () => (await (await fetch(`${dev.url}/seen`)).json()) as Seen[];
    await checkedDev(dev, directory, async () => {
      // --trigger-cron: the app's scheduled ran with that cron, through the Worker's signed event.
      await until("the --trigger-cron run", async () =>
        dev.output.some((line) => line.includes('scheduled "*/5 * * * *": ok')) ? true : undefined,
      );
      expect((await seen()).filter((entry) => entry.type === "scheduled")).toEqual([
        expect.objectContaining({ cron: "*/5 * * * *", source: "worker" }),
      ]);
      // The HTTP route on the dev port; a handler that fails reaches the Worker as a failure.
      const route = await fetch(`${dev.url}/cdn-cgi/handler/scheduled?cron=fail`);
      await route.arrayBuffer();
      expect(route.status).toBe(500);
      expect((await seen()).some((entry) => entry.cron === "fail")).toBe(true);

      // Queue: an acked message once, a retried one twice (attempts 1 then 2), bytes as bytes.
      for (const query of ["kind=ack&tag=a", "kind=retry&tag=b", "kind=bytes"]) {
        const sent = await fetch(`${dev.url}/send?${query}`);
        expect(await sent.text()).toBe("sent");
      }
      const queued = await until("the retried message's second delivery and the bytes", async () => {
        const entries = (await seen()).filter((entry) => entry.type === "queue");
        const retried = entries.some((entry) => (entry.body as { tag?: string })?.tag === "b" && entry.attempts === 2);
        const bytes = entries.some((entry) => (entry.body as { bytes?: unknown })?.bytes);
        return retried && bytes ? entries : undefined;
      });
      const tagged = (tag: string) => queued.filter((entry) => (entry.body as { tag?: string })?.tag === tag);
      expect(tagged("a")).toEqual([
        expect.objectContaining({ queue: "jobs", attempts: 1, source: "worker", hasEnv: true }),
      ]);
      expect(tagged("b").map((entry) => entry.attempts)).toEqual([1, 2]);
      expect(queued.filter((entry) => (entry.body as { bytes?: number[] })?.bytes)).toEqual([
        expect.objectContaining({ body: { bytes: [1, 2, 3] }, attempts: 1 }),
      ]);

      // A handler that throws: the batch is retried by the queue (max_retries 1: two deliveries).
      await (await fetch(`${dev.url}/send?kind=throw&tag=c`)).text();
      const failed = await until("two deliveries of the failing message", async () => {
        const entries = (await seen()).filter((entry) => (entry.body as { tag?: string })?.tag === "c");
        return entries.length >= 2 ? entries : undefined;
      });
      expect(failed.map((entry) => entry.attempts)).toEqual([1, 2]);
      // Nothing acked was delivered again.
      expect((await seen()).filter((entry) => (entry.body as { tag?: string })?.tag === "a")).toHaveLength(1);
    });
  }, 120_000);
});
