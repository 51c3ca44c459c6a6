import { describe, expect, it } from "vitest";
import { ConfigError, GOOGLE_JWKS_URL, resolveCloudRunEvents, resolveConfig } from "../../src/config.ts";
import { recordBatch, recordController } from "../../src/events/batch.ts";
import {
  decodeMessageData,
  parsePubSubPush,
  parseSchedulerRequest,
  pubsubVerdict,
  schedulerStatus,
} from "../../src/events/cloud-run.ts";
import { startUpWarnings } from "../../src/serve/cloud-run-events.ts";

const encoder = new TextEncoder();
const base64 = (text: string | Uint8Array) =>
  Buffer.from(typeof text === "string" ? encoder.encode(text) : text).toString("base64");

/** A push body as Pub/Sub sends it (wrapped format, both spellings of each field). */
function push(overrides: { data?: string; attributes?: Record<string, string>; deliveryAttempt?: number } = {}) {
  return encoder.encode(
    JSON.stringify({
      message: {
        data: overrides.data,
        attributes: overrides.attributes,
        messageId: "2070443601311540",
        message_id: "2070443601311540",
        publishTime: "2026-12-01T10:00:00.123Z",
        publish_time: "2026-12-01T10:00:00.123Z",
      },
      subscription: "projects/demo/subscriptions/jobs-push",
      ...(overrides.deliveryAttempt === undefined ? {} : { deliveryAttempt: overrides.deliveryAttempt }),
    }),
  );
}

/** The Message a handler sees for a push body. */
function messageOf(bytes: Uint8Array) {
  const event = parsePubSubPush(bytes);
  if (typeof event === "string") throw new Error(event);
  return { event, message: recordBatch(event).batch.messages[0]! };
}

describe("Pub/Sub push → MessageBatch", () => {
  it("maps the wrapped format to a batch of one", () => {
    const { event, message } = messageOf(push({ data: base64('{"job":42}') }));
    expect(event.queue).toBe("jobs-push");
    expect(message.id).toBe("2070443601311540");
    expect(message.timestamp.toISOString()).toBe("2026-12-01T10:00:00.123Z");
    expect(message.attempts).toBe(1);
    expect(message.body).toEqual({ job: 42 });
  });

  it("takes attempts from deliveryAttempt and the snake_case spellings alone", () => {
    expect(messageOf(push({ data: base64("1"), deliveryAttempt: 5 })).message.attempts).toBe(5);
    const snake = encoder.encode(
      JSON.stringify({
        message: { data: base64("x"), message_id: "7", publish_time: "2026-12-01T10:00:00Z" },
        subscription: "projects/p/subscriptions/NAME",
      }),
    );
    const { event, message } = messageOf(snake);
    expect([event.queue, message.id, message.timestamp.getTime()]).toEqual([
      "NAME",
      "7",
      Date.parse("2026-12-01T10:00:00Z"),
    ]);
  });

  it("sniffs the body: JSON, else a UTF-8 string, else bytes; no data is null", () => {
    expect(messageOf(push({ data: base64("[1,2]") })).message.body).toEqual([1, 2]);
    expect(messageOf(push({ data: base64("héllo world") })).message.body).toBe("héllo world");
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
    const body = messageOf(push({ data: base64(bytes) })).message.body;
    expect(body).toBeInstanceOf(Uint8Array);
    expect([...(body as Uint8Array)]).toEqual([...bytes]);
    expect(messageOf(push({ attributes: { kind: "ping" } })).message.body).toBeNull();
  });

  it("honours a content-type attribute", () => {
    const text = { "content-type": "text/plain; charset=utf-8" };
    expect(messageOf(push({ data: base64("42"), attributes: text })).message.body).toBe("42");
    const octets = { contentType: "application/octet-stream" };
    expect(messageOf(push({ data: base64("{}"), attributes: octets })).message.body).toEqual(encoder.encode("{}"));
    const json = { "content-type": "application/cloudevents+json" };
    expect(messageOf(push({ data: base64('{"a":1}'), attributes: json })).message.body).toEqual({ a: 1 });
    expect(parsePubSubPush(push({ data: base64("not json"), attributes: json }))).toMatch(/data is not JSON/);
    expect(parsePubSubPush(push({ data: base64(new Uint8Array([0xff])), attributes: text }))).toMatch(/not UTF-8/);
  });

  it("refuses malformed pushes with one line", () => {
    const reasons = [
      encoder.encode("not json"),
      encoder.encode("{}"),
      encoder.encode(JSON.stringify({ message: {}, subscription: "projects/p/subscriptions/s" })),
      encoder.encode(
        JSON.stringify({
          message: { messageId: "1", publishTime: "yesterday" },
          subscription: "projects/p/subscriptions/s",
        }),
      ),
      encoder.encode(
        JSON.stringify({ message: { messageId: "1", publishTime: "2026-12-01T10:00:00Z" }, subscription: "s" }),
      ),
      push({ data: "***" }),
      push({ data: base64("x"), deliveryAttempt: 0 }),
    ].map(parsePubSubPush);
    for (const reason of reasons) {
      expect(typeof reason).toBe("string");
      expect(reason).not.toContain("\n");
    }
    expect(reasons[0]).toBe("a Pub/Sub push body must be JSON");
    expect(reasons[2]).toMatch(/messageId is required/);
    expect(reasons[3]).toMatch(/RFC 3339/);
    expect(reasons[4]).toMatch(/projects\/PROJECT\/subscriptions\/NAME/);
  });

  it("decodeMessageData keeps declared bytes as bytes even when they are JSON", () => {
    expect(decodeMessageData(encoder.encode("{}"), "image/png")).toMatchObject({ contentType: "bytes" });
    expect(decodeMessageData(encoder.encode("{}"), undefined)).toEqual({ body: {} });
  });
});

describe("the answer to a push", () => {
  const decide = (act: (batch: ReturnType<typeof recordBatch>["batch"]) => void, failed = false) => {
    const event = parsePubSubPush(push({ data: base64("1") }));
    if (typeof event === "string") throw new Error(event);
    const recorded = recordBatch(event);
    act(recorded.batch);
    return pubsubVerdict(recorded.calls(), failed);
  };

  it("acks when the handler returned or acked, retries when it threw or retried", () => {
    expect(decide(() => {})).toEqual({ retry: false });
    expect(decide(() => {}, true)).toEqual({ retry: true });
    expect(decide((batch) => batch.messages[0]!.ack(), true)).toEqual({ retry: false });
    expect(decide((batch) => batch.ackAll(), true)).toEqual({ retry: false });
    expect(decide((batch) => batch.messages[0]!.retry())).toEqual({ retry: true });
    expect(decide((batch) => batch.retryAll({ delaySeconds: 30 }))).toEqual({ retry: true, delaySeconds: 30 });
  });

  it("lets the message's own call win over the batch's, as on Cloudflare", () => {
    expect(
      decide((batch) => {
        batch.retryAll();
        batch.messages[0]!.ack();
      }),
    ).toEqual({ retry: false });
    expect(
      decide((batch) => {
        batch.ackAll();
        batch.messages[0]!.retry({ delaySeconds: 5 });
      }),
    ).toEqual({ retry: true, delaySeconds: 5 });
  });
});

describe("Cloud Scheduler → ScheduledController", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");

  it("reads scheduledTime from X-CloudScheduler-ScheduleTime, else now", () => {
    const headers = new Headers({ "x-cloudscheduler-scheduletime": "2026-12-01T11:59:00+01:00" });
    expect(parseSchedulerRequest(headers, new Uint8Array(0), now)).toEqual({
      cron: "",
      scheduledTime: Date.parse("2026-12-01T10:59:00Z"),
    });
    expect(parseSchedulerRequest(new Headers(), new Uint8Array(0), now)).toEqual({ cron: "", scheduledTime: now });
    const bad = new Headers({ "x-cloudscheduler-scheduletime": "noon" });
    expect(parseSchedulerRequest(bad, new Uint8Array(0), now)).toMatch(/RFC 3339/);
  });

  it("takes cron from the body's cron, else the job name", () => {
    const headers = new Headers({ "x-cloudscheduler-jobname": "nightly-report" });
    const body = encoder.encode(JSON.stringify({ cron: "0 3 * * *", other: true }));
    expect(parseSchedulerRequest(headers, body, now)).toMatchObject({ cron: "0 3 * * *" });
    expect(parseSchedulerRequest(headers, new Uint8Array(0), now)).toMatchObject({ cron: "nightly-report" });
    expect(parseSchedulerRequest(headers, encoder.encode("{}"), now)).toMatchObject({ cron: "nightly-report" });
  });

  it("refuses a body that is not a JSON object with a string cron", () => {
    for (const body of ["hello", "[1]", '{"cron":5}', "null"]) {
      expect(parseSchedulerRequest(new Headers(), encoder.encode(body), now)).toMatch(
        /^a Cloud Scheduler body must be/,
      );
    }
  });

  it("answers 200 unless the handler threw without noRetry()", () => {
    expect(schedulerStatus(false, false)).toBe(200);
    expect(schedulerStatus(true, false)).toBe(500);
    expect(schedulerStatus(true, true)).toBe(200);
    const recorded = recordController({ cron: "x", scheduledTime: now });
    recorded.controller.noRetry();
    expect(recorded.noRetry()).toBe(true);
  });
});

describe("Cloud Run events configuration", () => {
  it("is off by default, with Google's key set", () => {
    expect(resolveConfig({}).cloudRunEvents).toEqual({ oidcJwksUrl: GOOGLE_JWKS_URL });
  });

  it("reads the variables", () => {
    expect(
      resolveCloudRunEvents({
        CONTAINERFLARE_PUBSUB_PATH: "/_events/pubsub",
        CONTAINERFLARE_SCHEDULER_PATH: " /_events/scheduler ",
        CONTAINERFLARE_OIDC_AUDIENCE: "https://svc-abc.a.run.app",
        CONTAINERFLARE_OIDC_EMAILS: "Push@demo.iam.gserviceaccount.com, cron@demo.iam.gserviceaccount.com",
        CONTAINERFLARE_OIDC_JWKS_URL: "http://127.0.0.1:9999/certs",
      }),
    ).toEqual({
      pubsubPath: "/_events/pubsub",
      schedulerPath: "/_events/scheduler",
      oidcAudience: "https://svc-abc.a.run.app",
      oidcEmails: ["push@demo.iam.gserviceaccount.com", "cron@demo.iam.gserviceaccount.com"],
      oidcJwksUrl: "http://127.0.0.1:9999/certs",
    });
  });

  it("lets options win, validated alike", () => {
    const env = { CONTAINERFLARE_PUBSUB_PATH: "/from-env" };
    expect(resolveCloudRunEvents(env, { pubsubPath: "/from-option", oidcEmails: ["a@b.c"] })).toMatchObject({
      pubsubPath: "/from-option",
      oidcEmails: ["a@b.c"],
    });
    expect(() => resolveCloudRunEvents(env, { schedulerPath: "relative" })).toThrow(
      /^invalid cloudRunEvents\.schedulerPath="relative": expected a path starting with \//,
    );
  });

  it("refuses bad values in one line", () => {
    const cases: Record<string, string>[] = [
      { CONTAINERFLARE_PUBSUB_PATH: "_events/pubsub" },
      { CONTAINERFLARE_PUBSUB_PATH: "/a?b" },
      { CONTAINERFLARE_OIDC_EMAILS: "not-an-email" },
      { CONTAINERFLARE_OIDC_JWKS_URL: "ftp://keys" },
      { CONTAINERFLARE_PUBSUB_PATH: "/same", CONTAINERFLARE_SCHEDULER_PATH: "/same" },
    ];
    for (const env of cases) {
      let error: unknown;
      try {
        resolveConfig(env);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("warns once at start-up about open routes and missing handlers", () => {
    const handlers = { queue: () => {} };
    const settings = { pubsubPath: "/p", schedulerPath: "/s", oidcJwksUrl: GOOGLE_JWKS_URL };
    const warnings = startUpWarnings(settings, handlers);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^CONTAINERFLARE_PUBSUB_PATH=\/p and CONTAINERFLARE_SCHEDULER_PATH=\/s accept unauth/);
    expect(warnings[1]).toMatch(/no scheduled handler/);
    expect(startUpWarnings({ ...settings, oidcAudience: "aud" }, { ...handlers, scheduled: () => {} })).toEqual([]);
  });
});
