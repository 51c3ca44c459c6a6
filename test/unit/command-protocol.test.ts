import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/internal/backoff.ts";
import {
  decodeBytes,
  encodeBytes,
  exceedsBytes,
  fromHex,
  readBody,
  toHex,
  utf8Length,
} from "../../src/protocol/bytes.ts";
import {
  encodeFailure,
  encodeRequest,
  encodeSuccess,
  leadingFrameId,
  RequestFrameSchema,
  ResponseFrameSchema,
} from "../../src/protocol/frames.ts";
import { createLineSplitter } from "../../src/protocol/lines.ts";

const encoder = new TextEncoder();

function splitter(maxLineBytes = 1024) {
  const lines: string[] = [];
  const oversized: { prefix: string; bytes: number }[] = [];
  const split = createLineSplitter({
    maxLineBytes,
    onLine: (line) => lines.push(line),
    onOversized: (prefix, bytes) => oversized.push({ prefix, bytes }),
  });
  return {
    lines,
    oversized,
    push: (text: string | Uint8Array) => split.push(typeof text === "string" ? encoder.encode(text) : text),
    split,
  };
}

describe("line splitter", () => {
  it("splits lines across chunks, drops empty lines and a trailing \\r", () => {
    const { lines, push } = splitter();
    push('{"a":1}\n{"b"');
    push(':2}\r\n\n{"c":3}');
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    push("\n");
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("decodes a multi-byte character split between two chunks", () => {
    const { lines, push } = splitter();
    const bytes = encoder.encode('"é€😀"\n');
    push(bytes.subarray(0, 2));
    push(bytes.subarray(2, 5));
    push(bytes.subarray(5));
    expect(lines).toEqual(['"é€😀"']);
  });

  it("skips an oversized line without buffering it, reports its prefix and size, then carries on", () => {
    const { lines, oversized, push, split } = splitter(100);
    const big = `{"v":1,"id":42,"payload":"${"x".repeat(500)}"}`;
    push(big.slice(0, 60));
    push(big.slice(60, 300));
    expect(split.buffered).toBe(0);
    push(`${big.slice(300)}\n{"ok":true}\n`);
    expect(oversized).toEqual([{ prefix: big.slice(0, 256), bytes: big.length }]);
    expect(leadingFrameId(oversized[0]!.prefix)).toBe(42);
    expect(lines).toEqual(['{"ok":true}']);
  });

  it("reports a line that crosses the limit inside one chunk", () => {
    const { lines, oversized, push } = splitter(10);
    push("0123456789A\nshort\n");
    expect(oversized).toEqual([{ prefix: "0123456789A", bytes: 11 }]);
    expect(lines).toEqual(["short"]);
  });
});

describe("frames", () => {
  it("encodes requests and answers with v and id first, valid under the schemas", () => {
    const request = encodeRequest(7, "kv.get", { binding: "CACHE", key: "k" });
    expect(request.startsWith('{"v":1,"id":7,')).toBe(true);
    expect(v.parse(RequestFrameSchema, JSON.parse(request))).toEqual({
      v: 1,
      id: 7,
      command: "kv.get",
      payload: { binding: "CACHE", key: "k" },
    });
    expect(v.parse(ResponseFrameSchema, JSON.parse(encodeSuccess(7, { value: null })))).toEqual({
      v: 1,
      id: 7,
      ok: true,
      payload: { value: null },
    });
    const failure = JSON.parse(encodeFailure(7, { code: "FORBIDDEN", message: "no", retryable: false }));
    expect(v.parse(ResponseFrameSchema, failure)).toEqual({
      v: 1,
      id: 7,
      ok: false,
      error: { code: "FORBIDDEN", message: "no", retryable: false },
    });
  });

  it("refuses payloads that are not JSON", () => {
    expect(() => encodeRequest(1, "x.y", { n: 1n })).toThrow(TypeError);
    expect(() => encodeRequest(1, "x.y", () => 1)).toThrow(/not JSON-serialisable/);
  });

  it("rejects frames of another version, with a bad id or without a command", () => {
    expect(v.is(RequestFrameSchema, { v: 2, id: 1, command: "host.ping" })).toBe(false);
    expect(v.is(RequestFrameSchema, { v: 1, id: 0, command: "host.ping" })).toBe(false);
    expect(v.is(RequestFrameSchema, { v: 1, id: 1.5, command: "host.ping" })).toBe(false);
    expect(v.is(RequestFrameSchema, { v: 1, id: 1, command: "" })).toBe(false);
    expect(v.is(ResponseFrameSchema, { v: 1, id: 1, ok: false })).toBe(false);
    expect(v.is(ResponseFrameSchema, { v: 1, id: 1, ok: "yes", payload: 1 })).toBe(false);
  });

  it("reads a frame id only from the leading keys", () => {
    expect(leadingFrameId('{"v":1,"id":12,"command":"x"')).toBe(12);
    expect(leadingFrameId(' { "id" : 9 , "v":1')).toBe(9);
    expect(leadingFrameId('{"v":1,"command":"x","payload":{"id":5}')).toBeUndefined();
    expect(leadingFrameId('{"v":1,"id":0,')).toBeUndefined();
    expect(leadingFrameId("garbage")).toBeUndefined();
  });

  it("measures UTF-8 sizes exactly near the limit", () => {
    for (const text of ["abc", "é", "€€", "😀x", "\ud800"]) expect(utf8Length(text)).toBe(encoder.encode(text).length);
    expect(exceedsBytes("€€€", 9)).toBe(false);
    expect(exceedsBytes("€€€", 8)).toBe(true);
    expect(exceedsBytes("a".repeat(11), 10)).toBe(true);
  });
});

describe("bytes", () => {
  it("round-trips bytes through base64 envelopes and hex", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    expect(encodeBytes(bytes)).toEqual({ encoding: "base64", data: "AAEC+v8=" });
    expect([...decodeBytes(encodeBytes(bytes.buffer))]).toEqual([...bytes]);
    expect(toHex(bytes)).toBe("000102faff");
    expect([...fromHex("000102faff")]).toEqual([...bytes]);
    const stream = new Blob([bytes]).stream();
    expect([...(await readBody(stream))]).toEqual([...bytes]);
    expect(new TextDecoder().decode(await readBody("hé"))).toBe("hé");
    await expect(readBody(42)).rejects.toThrow(TypeError);
  });
});

describe("backoff", () => {
  it("grows exponentially with equal jitter and a cap", () => {
    expect(backoffDelay(0)).toBe(0);
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(2_000, 100 * 2 ** (failures - 1));
      for (let sample = 0; sample < 20; sample++) {
        const delay = backoffDelay(failures);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});
