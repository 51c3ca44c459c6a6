import { describe, expect, it } from "vitest";
import { parseCloudTraceContext, parseTraceparent, traceFromHeaders } from "../../src/trace.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("parseTraceparent", () => {
  it("parses a sampled W3C header", () => {
    expect(parseTraceparent(`00-${TRACE}-00f067aa0ba902b7-01`)).toEqual({
      traceId: TRACE,
      spanId: "00f067aa0ba902b7",
      sampled: true,
    });
    expect(parseTraceparent(`00-${TRACE}-00f067aa0ba902b7-00`)?.sampled).toBe(false);
  });

  it.each([
    "",
    "garbage",
    `00-${TRACE}-00f067aa0ba902b7`,
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `ff-${TRACE}-00f067aa0ba902b7-01`,
    `00-${TRACE}-00f067aa0ba902b7-01-extra`,
    `00-${TRACE.slice(1)}-00f067aa0ba902b7-01`,
  ])("rejects %j", (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it("accepts future versions with extra fields", () => {
    expect(parseTraceparent(`01-${TRACE}-00f067aa0ba902b7-01-what-ever`)?.traceId).toBe(TRACE);
  });
});

describe("parseCloudTraceContext", () => {
  it("converts the decimal span id to 16 hex digits", () => {
    expect(parseCloudTraceContext(`${TRACE}/1;o=1`)).toEqual({
      traceId: TRACE,
      spanId: "0000000000000001",
      sampled: true,
    });
    expect(parseCloudTraceContext(`${TRACE}/18446744073709551615;o=0`)).toEqual({
      traceId: TRACE,
      spanId: "ffffffffffffffff",
      sampled: false,
    });
    expect(parseCloudTraceContext(`${TRACE.toUpperCase()}/255`)).toEqual({
      traceId: TRACE,
      spanId: "00000000000000ff",
      sampled: false,
    });
  });

  it.each([
    "",
    "nope",
    `${TRACE}/18446744073709551616;o=1`,
    `${TRACE}/12a;o=1`,
    `${TRACE}/1;o=2`,
    `${"0".repeat(32)}/1;o=1`,
    "abc/1;o=1",
  ])("rejects %j", (value) => {
    expect(parseCloudTraceContext(value)).toBeUndefined();
  });
});

describe("traceFromHeaders", () => {
  it("prefers traceparent, falls back to X-Cloud-Trace-Context", () => {
    const both = new Headers({
      traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
      "x-cloud-trace-context": `${"a".repeat(32)}/1;o=1`,
    });
    expect(traceFromHeaders(both)?.traceId).toBe(TRACE);
    const cloud = new Headers({ traceparent: "broken", "x-cloud-trace-context": `${"a".repeat(32)}/10;o=1` });
    expect(traceFromHeaders(cloud)).toEqual({ traceId: "a".repeat(32), spanId: "000000000000000a", sampled: true });
    expect(traceFromHeaders(new Headers())).toBeUndefined();
  });
});
