/**
 * The events' pure parts: the Workers objects a handler receives (src/events/batch.ts), what they
 * record, and message bodies on the wire (src/events/protocol.ts).
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { recordBatch, recordController } from "../../src/events/batch.ts";
import {
  decodeMessageBody,
  EventOutcomeSchema,
  EventSchema,
  encodeMessageBody,
  MAX_BATCH_MESSAGES,
} from "../../src/events/protocol.ts";

const wire = (id: string, body: unknown = null) => ({ id, timestamp: 1_700_000_000_000, attempts: 2, body });

describe("recordBatch", () => {
  it("gives Workers-shaped messages, frozen, with the body decoded", () => {
    const { batch } = recordBatch({
      queue: "jobs",
      messages: [wire("a", { n: 1 }), { ...wire("b"), ...encodeMessageBody(new Uint8Array([7, 8])) }],
    });
    expect(batch.queue).toBe("jobs");
    const [first, second] = batch.messages;
    expect(first).toMatchObject({ id: "a", attempts: 2, body: { n: 1 } });
    expect(first!.timestamp).toEqual(new Date(1_700_000_000_000));
    expect(second!.body).toEqual(new Uint8Array([7, 8]));
    expect(Object.isFrozen(batch) && Object.isFrozen(batch.messages) && Object.isFrozen(first)).toBe(true);
  });

  it("records the first call per message and per batch, in order, and nothing after", () => {
    const { batch, calls } = recordBatch({ queue: "q", messages: [wire("a"), wire("b"), wire("c")] });
    const [a, b] = batch.messages;
    b!.retry({ delaySeconds: 5 });
    a!.ack();
    a!.retry();
    b!.ack();
    batch.retryAll();
    batch.ackAll();
    batch.retryAll({ delaySeconds: 1 });
    for (let i = 0; i < 1_000; i++) a!.ack();
    expect(calls()).toEqual([{ op: "retry", id: "b", delaySeconds: 5 }, { op: "ack", id: "a" }, { op: "retryAll" }]);
  });

  it("refuses a retry delay that is not 0 to 43,200 whole seconds, and records nothing for it", () => {
    const { batch, calls } = recordBatch({ queue: "q", messages: [wire("a")] });
    for (const delaySeconds of [-1, 1.5, 43_201, Number.NaN]) {
      expect(() => batch.messages[0]!.retry({ delaySeconds })).toThrow(
        /^retry delaySeconds must be an integer from 0 to 43200, got /,
      );
      expect(() => batch.retryAll({ delaySeconds })).toThrow(RangeError);
    }
    expect(calls()).toEqual([]);
    batch.messages[0]!.retry({ delaySeconds: 0 });
    expect(calls()).toEqual([{ op: "retry", id: "a", delaySeconds: 0 }]);
  });

  it("hands out a copy of the calls", () => {
    const { batch, calls } = recordBatch({ queue: "q", messages: [wire("a")] });
    calls().push({ op: "ackAll" });
    batch.messages[0]!.ack();
    expect(calls()).toEqual([{ op: "ack", id: "a" }]);
  });
});

describe("recordController", () => {
  it("carries the cron and time, and remembers noRetry()", () => {
    const { controller, noRetry } = recordController({ cron: "0 3 * * *", scheduledTime: 42 });
    expect(controller).toMatchObject({ cron: "0 3 * * *", scheduledTime: 42 });
    expect(noRetry()).toBe(false);
    controller.noRetry();
    expect(noRetry()).toBe(true);
  });
});

describe("event wire format", () => {
  it("carries bytes as a base64 envelope and everything else as JSON", () => {
    expect(encodeMessageBody(new Uint8Array([1, 2]).buffer)).toEqual({
      body: { encoding: "base64", data: "AQI=" },
      contentType: "bytes",
    });
    expect(encodeMessageBody(new Uint16Array([1]))).toMatchObject({ contentType: "bytes" });
    expect(encodeMessageBody({ a: 1 })).toEqual({ body: { a: 1 } });
    expect(encodeMessageBody(undefined)).toEqual({ body: null });
    expect(decodeMessageBody({ body: { encoding: "base64", data: "AQI=" }, contentType: "bytes" })).toEqual(
      new Uint8Array([1, 2]),
    );
    expect(decodeMessageBody({ body: "text" })).toBe("text");
  });

  it("validates events and outcomes, with bounds", () => {
    const message = { id: "m", timestamp: 1, attempts: 1, body: null };
    expect(v.is(EventSchema, { v: 1, type: "queue", queue: "q", messages: [message] })).toBe(true);
    expect(v.is(EventSchema, { v: 1, type: "scheduled", cron: "* * * * *", scheduledTime: 1 })).toBe(true);
    expect(v.is(EventSchema, { v: 2, type: "scheduled", cron: "", scheduledTime: 1 })).toBe(false);
    expect(v.is(EventSchema, { v: 1, type: "queue", queue: "q", messages: [{ ...message, attempts: 0 }] })).toBe(false);
    expect(
      v.is(EventSchema, {
        v: 1,
        type: "queue",
        queue: "q",
        messages: [{ ...message, contentType: "bytes", body: "x" }],
      }),
    ).toBe(false);
    const many = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, index) => ({ ...message, id: `m${index}` }));
    expect(v.is(EventSchema, { v: 1, type: "queue", queue: "q", messages: many })).toBe(false);
    expect(v.is(EventOutcomeSchema, { v: 1, ok: true, calls: [{ op: "retry", id: "m", delaySeconds: 3 }] })).toBe(true);
    expect(v.is(EventOutcomeSchema, { v: 1, ok: true, calls: [{ op: "drop", id: "m" }] })).toBe(false);
  });
});
