/**
 * Events from the Worker's code to serve(): forwardScheduled and forwardQueue (src/worker/events.ts)
 * send signed events to a real app on node (24 and the machine's 20), bun and deno, whose
 * `scheduled` and `queue` handlers run with the Workers objects; the acks and retries they make
 * come back and are replayed on the batch, in order. And what is not an event, or not a valid
 * one, never reaches a handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_SIGNATURE_HEADER, EVENTS_PATH } from "../../src/events/route.ts";
import { signCommandRequest } from "../../src/request-signature.ts";
import { forwardQueue, forwardScheduled } from "../../src/worker/events.ts";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/events-app.mjs`;
const SECRET = "events-test-secret";
const ENV = { CONTAINERFLARE_SECRET: SECRET };
// The fixture's and the refusals' JSON, checked field by field.
// biome-ignore lint/suspicious/noExplicitAny: see above.
const json = (response: Response): Promise<any> => response.json();

type Call = [string, ...unknown[]];

/** A batch as the Workers runtime gives it, recording what is called on it. */
function fakeBatch(queue: string, bodies: unknown[]) {
  const calls: Call[] = [];
  const messages = bodies.map((body, index) => ({
    id: `m${index}`,
    timestamp: new Date(1_700_000_000_000 + index),
    body,
    attempts: index + 1,
    ack: () => calls.push(["ack", `m${index}`]),
    retry: (options?: unknown) => calls.push(["retry", `m${index}`, options]),
  }));
  return {
    batch: {
      queue,
      messages,
      ackAll: () => calls.push(["ackAll"]),
      retryAll: (options?: unknown) => calls.push(["retryAll", options]),
    },
    calls,
  };
}

function fakeController(cron: string) {
  const state = { noRetry: false };
  return { controller: { cron, scheduledTime: 1_700_000_123_000, noRetry: () => void (state.noRetry = true) }, state };
}

async function signedPost(url: string, body: string, secret = SECRET): Promise<Response> {
  const bytes = new TextEncoder().encode(body);
  const signature = await signCommandRequest(secret, { method: "POST", path: EVENTS_PATH, body: bytes });
  return fetch(`${url}${EVENTS_PATH}`, {
    method: "POST",
    body: bytes,
    headers: { "content-type": "application/json", [EVENT_SIGNATURE_HEADER]: signature },
  });
}

describe.each(RUNTIMES)("events in serve() on $name", (runtime) => {
  let app: RunningApp;
  const seen = async (): Promise<Record<string, unknown>[]> => json(await fetch(`${app.url}/seen`));
  beforeAll(async () => {
    app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_LOG_FORMAT: "json" });
  });
  afterAll(() => app.stop());

  it("runs scheduled with the controller and a context from the Worker's signed metadata", async () => {
    const { controller, state } = fakeController("*/5 * * * *");
    await forwardScheduled(controller, app.url, ENV);
    expect((await seen()).at(-1)).toEqual({
      type: "scheduled",
      cron: "*/5 * * * *",
      scheduledTime: 1_700_000_123_000,
      source: "worker",
      hasEnv: true,
    });
    expect(state.noRetry).toBe(false);
    // Its console line is a JSON line with the event's request id.
    const find = () =>
      app.jsonLogs().find((entry) => String(entry.message).startsWith("scheduled */5 * * * * ran in "));
    await expect.poll(find).toBeDefined();
    const line = find()!;
    expect(line.requestId).toEqual(expect.any(String));
    expect(line.requestId).toBe(String(line.message).split(" ran in ")[1]);
  });

  it("fails the invocation when scheduled throws, and passes noRetry() on", async () => {
    const thrown = fakeController("throw");
    await expect(forwardScheduled(thrown.controller, app.url, ENV)).rejects.toThrow(
      /scheduled handler failed for throw: the handler failed/,
    );
    expect(thrown.state.noRetry).toBe(false);
    const noRetry = fakeController("no-retry");
    await expect(forwardScheduled(noRetry.controller, app.url, ENV)).rejects.toThrow(/handler failed/);
    expect(noRetry.state.noRetry).toBe(true);
    // The app's log has the error with the request id; the Worker reads only that it failed.
    expect(app.jsonLogs().some((line) => String(line.message).includes("scheduled fails on purpose"))).toBe(true);
  });

  it("delivers a batch with its bodies and replays the handler's acks and retries in order", async () => {
    const { batch, calls } = fakeBatch("jobs", [
      { action: "ack", text: "héllo ✓" },
      { action: "retry" },
      { action: "none" },
      new Uint8Array([0, 1, 255]).buffer,
      { action: "twice" },
      "plain text",
    ]);
    await forwardQueue(batch, app.url, ENV);
    expect(calls).toEqual([
      ["ack", "m0"],
      ["retry", "m1", { delaySeconds: 7 }],
      // The first of ack() and retry() decides a message.
      ["ack", "m4"],
    ]);
    const delivered = (await seen()).filter((entry) => entry.type === "queue" && entry.queue === "jobs");
    expect(delivered.map((entry) => entry.body)).toEqual([
      { action: "ack", text: "héllo ✓" },
      { action: "retry" },
      { action: "none" },
      { bytes: [0, 1, 255] },
      { action: "twice" },
      "plain text",
    ]);
    expect(delivered[0]).toMatchObject({
      id: "m0",
      timestamp: "2023-11-14T22:13:20.000Z",
      attempts: 1,
      source: "worker",
    });
    expect(delivered[5]).toMatchObject({ id: "m5", attempts: 6 });
  });

  it("replays ackAll and retryAll with its delay", async () => {
    const acked = fakeBatch("all", [{ action: "ackAll" }, { action: "ack" }]);
    await forwardQueue(acked.batch, app.url, ENV);
    expect(acked.calls).toEqual([["ackAll"], ["ack", "m1"]]);
    const retried = fakeBatch("all", [{ action: "retryAll" }, { action: "ackAll" }]);
    await forwardQueue(retried.batch, app.url, ENV);
    // The batch's first call decides it: the later ackAll() is not sent.
    expect(retried.calls).toEqual([["retryAll", { delaySeconds: 3 }]]);
  });

  it("applies what a failing handler did before it threw, then fails the invocation", async () => {
    const { batch, calls } = fakeBatch("failing", [{ action: "ack" }, { action: "throw" }, { action: "ack" }]);
    await expect(forwardQueue(batch, app.url, ENV)).rejects.toThrow(/queue handler failed for failing/);
    expect(calls).toEqual([["ack", "m0"]]);
  });

  it("fails the invocation when the container does not answer in time", async () => {
    const { batch, calls } = fakeBatch("slow", [{ action: "slow", ms: 1_500 }]);
    await expect(forwardQueue(batch, app.url, ENV, { timeoutMs: 200 })).rejects.toThrow(
      /did not answer the queue event within 200 ms/,
    );
    expect(calls).toEqual([]);
  });

  it("retries a message whose body JSON cannot carry, and sends the others", async () => {
    const { batch, calls } = fakeBatch("bigint", [10n, { action: "ack" }]);
    await forwardQueue(batch, app.url, ENV);
    expect(calls).toEqual([
      ["retry", "m0", undefined],
      ["ack", "m1"],
    ]);
  });

  it("leaves what is not a signed event to the app, and refuses bad events with a typed error", async () => {
    // No event signature: the app's own route (a 404 from the app, not from containerflare).
    const plain = await fetch(`${app.url}${EVENTS_PATH}`, { method: "POST", body: "{}" });
    expect(plain.status).toBe(404);
    expect(await plain.text()).toBe(`app: POST ${EVENTS_PATH}`);
    // Signed with another secret, malformed, or replayed: refused before any handler.
    const event = JSON.stringify({ v: 1, type: "scheduled", cron: "x", scheduledTime: 1 });
    const forged = await signedPost(app.url, event, "not-the-secret");
    expect(forged.status).toBe(401);
    expect(await json(forged)).toMatchObject({
      error: { code: "FORBIDDEN", message: "event signature refused (bad-signature)" },
    });
    const garbled = await fetch(`${app.url}${EVENTS_PATH}`, {
      method: "POST",
      body: event,
      headers: { [EVENT_SIGNATURE_HEADER]: "nonsense" },
    });
    expect(garbled.status).toBe(401);
    const malformed = await signedPost(
      app.url,
      JSON.stringify({ v: 1, type: "queue", queue: "q", messages: [{ id: "" }] }),
    );
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error.message).toMatch(/^invalid event at messages\.0\.id: /);
    const notJson = await signedPost(app.url, "{");
    expect(notJson.status).toBe(400);
    const bytes = new TextEncoder().encode(event);
    const signature = await signCommandRequest(SECRET, { method: "POST", path: EVENTS_PATH, body: bytes });
    const send = () =>
      fetch(`${app.url}${EVENTS_PATH}`, {
        method: "POST",
        body: bytes,
        headers: { [EVENT_SIGNATURE_HEADER]: signature },
      });
    expect((await send()).status).toBe(200);
    const replayed = await send();
    expect(replayed.status).toBe(401);
    expect((await json(replayed)).error.message).toBe("event signature refused (replayed)");
    // Only the one valid event ran.
    expect((await seen()).filter((entry) => entry.cron === "x")).toHaveLength(1);
  });
});

describe("events in serve() without CONTAINERFLARE_SECRET", () => {
  it("refuses them with a line saying what to set, and the Worker's side needs the secret too", async () => {
    const app = await startApp(RUNTIMES[0]!, APP, { CONTAINERFLARE_LOG_FORMAT: "json" });
    try {
      const refused = await signedPost(
        app.url,
        JSON.stringify({ v: 1, type: "scheduled", cron: "x", scheduledTime: 1 }),
      );
      expect(refused.status).toBe(403);
      expect((await json(refused)).error.message).toBe("events need CONTAINERFLARE_SECRET on the container");
      expect(app.jsonLogs().some((line) => String(line.message).includes("no CONTAINERFLARE_SECRET"))).toBe(true);
      await expect(forwardScheduled(fakeController("x").controller, app.url, {})).rejects.toThrow(
        /forwarding events needs CONTAINERFLARE_SECRET/,
      );
      await expect(forwardScheduled(fakeController("x").controller, app.url, ENV)).rejects.toThrow(
        /refused the scheduled event with 403: events need CONTAINERFLARE_SECRET on the container/,
      );
    } finally {
      await app.stop();
    }
  });
});
