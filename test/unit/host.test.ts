import type { ConsolaInstance } from "consola";
import { describe, expect, it } from "vitest";
import { CommandError } from "../../src/errors.ts";
import {
  createCommandHost,
  createStreamSession,
  detectBindingKind,
  type StreamConnection,
  serveStream,
} from "../../src/host/index.ts";
import { MemoryAssets, MemoryD1, MemoryKV, MemoryQueue, MemoryR2, memoryBindings } from "../fixtures/bindings/index.ts";

function hostWith(options: Partial<Parameters<typeof createCommandHost>[0]> = {}) {
  const bindings = memoryBindings();
  const host = createCommandHost({
    bindings,
    allow: ["CACHE", "DB", "JOBS", "FILES", "ASSETS", "MISSING"],
    vars: { GREETING: "hello", LIMITS: { max: 3 } },
    ...options,
  });
  return { host, bindings };
}

const frame = (id: number, command: string, payload?: unknown) => ({ v: 1, id, command, payload });

describe("createCommandHost().dispatch", () => {
  it("answers host.ping and describes allowed bindings and vars", async () => {
    const { host } = hostWith();
    expect(await host.dispatch(frame(1, "host.ping"))).toMatchObject({
      v: 1,
      id: 1,
      ok: true,
      payload: { pong: true },
    });
    expect(await host.dispatch(frame(2, "host.describe", null))).toEqual({
      v: 1,
      id: 2,
      ok: true,
      payload: {
        v: 1,
        bindings: {
          CACHE: "kv",
          DB: "d1",
          JOBS: "queue",
          FILES: "r2",
          ASSETS: "assets",
          GREETING: "var",
          LIMITS: "var",
        },
        vars: { GREETING: "hello", LIMITS: { max: 3 } },
        limits: { maxFrameBytes: 16 * 1024 * 1024 },
      },
    });
  });

  it("detects binding kinds from their methods", () => {
    expect(detectBindingKind(new MemoryKV())).toBe("kv");
    expect(detectBindingKind(new MemoryD1())).toBe("d1");
    expect(detectBindingKind(new MemoryQueue())).toBe("queue");
    expect(detectBindingKind(new MemoryR2())).toBe("r2");
    expect(detectBindingKind(new MemoryAssets({}))).toBe("assets");
    expect(detectBindingKind("a string")).toBeUndefined();
    expect(detectBindingKind({})).toBeUndefined();
  });

  it("answers UNKNOWN_COMMAND, INVALID_PAYLOAD, FORBIDDEN and NO_BINDING with the request id", async () => {
    const { host } = hostWith();
    expect(await host.dispatch(frame(3, "kv.frobnicate", {}))).toEqual({
      v: 1,
      id: 3,
      ok: false,
      error: { code: "UNKNOWN_COMMAND", message: "unknown command kv.frobnicate", retryable: false },
    });
    expect(await host.dispatch(frame(4, "kv.get", { binding: "CACHE" }))).toMatchObject({
      id: 4,
      error: { code: "INVALID_PAYLOAD", message: expect.stringMatching(/^kv\.get: key: /) },
    });
    expect(
      await host.dispatch(frame(5, "kv.get", { binding: "CACHE", key: ["a"], type: "arrayBuffer" })),
    ).toMatchObject({
      error: { code: "INVALID_PAYLOAD", message: "kv.get: a list of keys can only be read as text or json" },
    });
    expect(await host.dispatch(frame(6, "kv.get", { binding: "SECRET_KV", key: "k" }))).toMatchObject({
      id: 6,
      error: { code: "FORBIDDEN", message: "kv.get: binding SECRET_KV is not allowed on this host" },
    });
    expect(await host.dispatch(frame(7, "kv.get", { binding: "MISSING", key: "k" }))).toMatchObject({
      error: { code: "NO_BINDING", message: "kv.get: no binding named MISSING" },
    });
    expect(await host.dispatch(frame(8, "kv.get", { binding: "DB", key: "k" }))).toMatchObject({
      error: { code: "NO_BINDING", message: "kv.get: binding DB is a d1 binding, not kv" },
    });
    for (const inherited of ["constructor", "toString", "valueOf", "hasOwnProperty"]) {
      expect(await host.dispatch(frame(11, inherited, { binding: "CACHE" }))).toMatchObject({
        ok: false,
        error: { code: "UNKNOWN_COMMAND", message: `unknown command ${inherited}` },
      });
    }
    expect(await host.dispatch(frame(9, "env.get", { binding: "NOPE" }))).toMatchObject({
      error: { code: "NO_BINDING" },
    });
    expect(await host.dispatch(frame(10, "env.get", { binding: "LIMITS" }))).toMatchObject({
      ok: true,
      payload: { value: { max: 3 } },
    });
  });

  it("answers INTERNAL with the binding's message when a binding throws", async () => {
    const { host } = hostWith();
    expect(
      await host.dispatch(frame(11, "d1.query", { binding: "DB", sql: "SELECT * FROM no_such_table" })),
    ).toMatchObject({
      id: 11,
      ok: false,
      error: { code: "INTERNAL", message: expect.stringContaining("no such table: no_such_table"), retryable: false },
    });
  });

  it("answers malformed frames with id 0 (or the id when readable) and other versions with a clear message", async () => {
    const { host } = hostWith();
    expect(JSON.parse(await host.dispatchText("{nope"))).toMatchObject({
      id: 0,
      ok: false,
      error: { code: "INVALID_PAYLOAD", message: "malformed frame: not JSON" },
    });
    expect(JSON.parse(await host.dispatchText('{"v":1,"id":5,"command":'))).toMatchObject({
      id: 5,
      error: { code: "INVALID_PAYLOAD" },
    });
    expect(await host.dispatch({ v: 2, id: 6, command: "host.ping" })).toMatchObject({
      id: 6,
      error: { code: "INVALID_PAYLOAD", message: "unsupported protocol version 2; this host speaks v1" },
    });
    expect(await host.dispatch({ v: 1, id: -1, command: "host.ping" })).toMatchObject({
      id: 0,
      error: { code: "INVALID_PAYLOAD" },
    });
  });

  it("refuses frames above the size limit in both directions with TOO_LARGE", async () => {
    const { host, bindings } = hostWith({ maxFrameBytes: 1024 });
    const big = `{"v":1,"id":12,"command":"kv.put","payload":{"binding":"CACHE","key":"k","value":"${"x".repeat(2000)}"}}`;
    expect(JSON.parse(await host.dispatchText(big))).toEqual({
      v: 1,
      id: 12,
      ok: false,
      error: { code: "TOO_LARGE", message: "request frame of 2 KiB exceeds the 1 KiB frame limit", retryable: false },
    });
    await bindings.CACHE.put("large", "y".repeat(2000));
    expect(await host.dispatch(frame(13, "kv.get", { binding: "CACHE", key: "large" }))).toMatchObject({
      id: 13,
      error: {
        code: "TOO_LARGE",
        message: expect.stringMatching(/^kv\.get: answer of 2 KiB exceeds the 1 KiB frame limit$/),
      },
    });
  });

  it("runs custom commands, maps their CommandErrors, and refuses to replace built-ins", async () => {
    const { host } = hostWith({
      commands: {
        "app.sum": (payload) => (payload as number[]).reduce((sum, value) => sum + value, 0),
        "app.busy": () => {
          throw new CommandError("UNAVAILABLE", "try later", { retryable: true });
        },
      },
    });
    expect(await host.dispatch(frame(14, "app.sum", [1, 2, 3]))).toMatchObject({ ok: true, payload: 6 });
    expect(await host.dispatch(frame(15, "app.busy"))).toMatchObject({
      error: { code: "UNAVAILABLE", message: "try later", retryable: true },
    });
    expect(() => createCommandHost({ bindings: {}, allow: [], commands: { "kv.get": () => 1 } })).toThrow(
      /cannot replace the built-in command kv\.get/,
    );
    expect(() => createCommandHost({ bindings: {}, allow: [], commands: { "kv.getMany": () => 1 } })).toThrow(
      /the kv\. namespace is reserved/,
    );
    expect(() => createCommandHost({ bindings: {}, allow: { CACHE: "cache" as never } })).toThrow(
      /allow\.CACHE: expected one of/,
    );
  });
});

describe("createCommandHost().handle (HTTP transport)", () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    new Request("http://containerflare.internal/v1/commands", {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
    });

  it("answers a POSTed frame with its response frame", async () => {
    const { host } = hostWith();
    const response = await host.handle(post(JSON.stringify(frame(1, "env.get", { binding: "GREETING" }))));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ v: 1, id: 1, ok: true, payload: { value: "hello" } });
  });

  it("answers error frames with 200 when the id is known, and 400/405/413 when it is not", async () => {
    const { host } = hostWith({ maxFrameBytes: 128 });
    const forbidden = await host.handle(post(JSON.stringify(frame(2, "kv.get", { binding: "X", key: "k" }))));
    expect(forbidden.status).toBe(200);
    expect(await forbidden.json()).toMatchObject({ id: 2, error: { code: "FORBIDDEN" } });
    const garbage = await host.handle(post("garbage"));
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ id: 0, error: { code: "INVALID_PAYLOAD" } });
    const get = await host.handle(new Request("http://containerflare.internal/v1/commands"));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const large = await host.handle(post(`{"v":1,"id":3,"command":"x.y","payload":"${"z".repeat(200)}"}`));
    expect(large.status).toBe(200);
    expect(await large.json()).toMatchObject({ id: 3, error: { code: "TOO_LARGE" } });
    const anonymous = await host.handle(post(`["${"z".repeat(200)}"]`));
    expect(anonymous.status).toBe(413);
  });
});

describe("createCommandHost().serveStream", () => {
  it("answers JSON lines over Web streams, each as soon as it is done", async () => {
    const { host } = hostWith({
      commands: {
        "test.wait": async (payload) => {
          await new Promise((resolve) => setTimeout(resolve, payload as number));
          return payload;
        },
      },
    });
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const output = new TransformStream<Uint8Array, Uint8Array>();
    const served = host.serveStream(input.readable, output.writable);
    const writer = input.writable.getWriter();
    const encoder = new TextEncoder();
    await writer.write(
      encoder.encode(`${JSON.stringify(frame(1, "test.wait", 60))}\n${JSON.stringify(frame(2, "test.wait", 1))}\n`),
    );
    await writer.write(encoder.encode(`${JSON.stringify(frame(3, "host.ping"))}\nnot json\n`));
    await writer.close();
    const text = await new Response(output.readable).text();
    await served;
    const answers = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { id: number; ok: boolean });
    expect(answers.map((answer) => answer.id).sort()).toEqual([0, 1, 2, 3]);
    expect(answers.at(-1)!.id).toBe(1);
    expect(answers.find((answer) => answer.id === 0)).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
  });
});

/** A connection whose peer takes answers only when the test says so. */
function manualConnection() {
  const unflushed: (() => void)[] = [];
  const written: string[] = [];
  const state = { paused: false, destroyed: false };
  const connection: StreamConnection = {
    write(text, flushed) {
      written.push(text);
      unflushed.push(flushed);
    },
    pause: () => void (state.paused = true),
    resume: () => void (state.paused = false),
    destroy: () => void (state.destroyed = true),
  };
  const answers = () =>
    written
      .join("")
      .split("\n")
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as {
            id: number;
            ok: boolean;
            error?: { code: string; message: string; retryable: boolean };
          },
      );
  return {
    connection,
    state,
    answers,
    flush: () => {
      for (const flushed of unflushed.splice(0)) flushed();
    },
  };
}

function logRecorder() {
  const warnings: string[] = [];
  const logger = {
    warn: (...args: unknown[]) => void warnings.push(args.join(" ")),
    debug: () => undefined,
  } as unknown as ConsolaInstance;
  return { logger, warnings };
}

/** A host whose commands report what ran: `test.blob` (an answer of n chars), `test.hold` (until aborted). */
function streamHost(streams: Record<string, number>, maxFrameBytes = 8 * 1024) {
  const started: string[] = [];
  const aborted: number[] = [];
  const host = createCommandHost({
    bindings: {},
    allow: [],
    maxFrameBytes,
    streams,
    commands: {
      "test.blob": (payload) => {
        started.push("blob");
        return "x".repeat(payload as number);
      },
      "test.hold": (payload, { signal }) => {
        started.push("hold");
        return new Promise((_resolve, reject) =>
          signal?.addEventListener("abort", () => {
            aborted.push(payload as number);
            reject(signal.reason);
          }),
        );
      },
    },
  });
  return { host, started, aborted };
}

const line = (id: number, command: string, payload?: unknown) =>
  new TextEncoder().encode(`${JSON.stringify(frame(id, command, payload))}\n`);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createStreamSession limits", () => {
  it("pauses the input and starts no frame while the peer leaves answers unread; resumes once it reads", async () => {
    const { host, started } = streamHost({ outputHighWaterBytes: 1000, stalledOutputMs: 60_000 });
    const peer = manualConnection();
    const session = createStreamSession(host, peer.connection);
    session.push(line(1, "test.blob", 2000));
    await settle();
    expect(peer.state.paused).toBe(true);
    session.push(line(2, "test.blob", 10));
    session.push(line(3, "test.blob", 10));
    await settle();
    expect(started).toEqual(["blob"]);
    peer.flush();
    await settle();
    expect(peer.state.paused).toBe(false);
    expect(started).toEqual(["blob", "blob", "blob"]);
    expect(peer.answers().map((answer) => answer.id)).toEqual([1, 2, 3]);
    await session.drain();
  });

  it("closes the connection (logged) when unread answers pass maxOutputBytes, aborting the commands still running", async () => {
    const { host, aborted } = streamHost({ outputHighWaterBytes: 1000, maxOutputBytes: 8192, stalledOutputMs: 60_000 });
    const peer = manualConnection();
    const { logger, warnings } = logRecorder();
    const session = createStreamSession(host, peer.connection, { logger });
    // Below the high-water mark, then one answer that takes the unread total past the maximum.
    session.push(
      new Uint8Array([...line(1, "test.hold", 1), ...line(2, "test.blob", 900), ...line(3, "test.blob", 8000)]),
    );
    await settle();
    expect(peer.state.destroyed).toBe(true);
    expect(warnings).toEqual([
      expect.stringMatching(/closing the connection: the client left \d+\.\d KiB of answers unread \(limit 8 KiB\)/),
    ]);
    expect(aborted).toEqual([1]);
    await session.drain();
  });

  it("holds answers that finish while the output is blocked unencoded, and writes them all, in order, once the peer reads", async () => {
    const { host } = streamHost({ outputHighWaterBytes: 1000, maxOutputBytes: 10_000, stalledOutputMs: 60_000 });
    const peer = manualConnection();
    const { logger, warnings } = logRecorder();
    const session = createStreamSession(host, peer.connection, { logger });
    // 20 answers of 3 KB finish together: 60 KB, six times maxOutputBytes, for a healthy peer.
    const burst: number[] = [];
    for (let id = 1; id <= 20; id++) burst.push(...line(id, "test.blob", 3000));
    session.push(new Uint8Array(burst));
    await settle();
    expect(peer.answers()).toHaveLength(1);
    for (let round = 0; round < 40 && peer.answers().length < 20; round++) {
      peer.flush();
      await settle();
    }
    expect(peer.answers().map((answer) => answer.id)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect(peer.state.destroyed).toBe(false);
    expect(warnings).toEqual([]);
    await session.drain();
  });

  it("closes a connection whose peer takes nothing for stalledOutputMs", async () => {
    const { host } = streamHost({ outputHighWaterBytes: 1000, stalledOutputMs: 50 });
    const peer = manualConnection();
    const { logger, warnings } = logRecorder();
    // The peer never takes anything: nothing is flushed.
    const session = createStreamSession(host, peer.connection, { logger });
    session.push(line(1, "test.blob", 2000));
    for (let waited = 0; waited < 5_000 && !peer.state.destroyed; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(peer.state.destroyed).toBe(true);
    expect(warnings).toEqual([
      expect.stringMatching(/closing the connection: the client took none of its 2 KiB of unread answers for \d+ ms/),
    ]);
  });

  it("answers frames beyond maxInFlight at once with a retryable UNAVAILABLE naming the limit; closing aborts the running ones", async () => {
    const { host, started, aborted } = streamHost({ maxInFlight: 4 });
    const peer = manualConnection();
    const session = createStreamSession(host, peer.connection);
    for (let id = 1; id <= 10; id++) session.push(line(id, "test.hold", id));
    await settle();
    expect(started).toHaveLength(4);
    const refused = peer.answers();
    expect(refused.map((answer) => answer.id)).toEqual([5, 6, 7, 8, 9, 10]);
    for (const answer of refused) {
      expect(answer.error).toEqual({
        code: "UNAVAILABLE",
        message:
          "the host runs at most 4 commands in flight per connection (maxInFlight); retry once some are answered",
        retryable: true,
      });
    }
    session.close();
    await session.drain();
    expect(aborted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
  });

  it("never starts the frames waiting for the output once the connection closes", async () => {
    const { host, started } = streamHost({ outputHighWaterBytes: 1000, stalledOutputMs: 60_000 });
    const peer = manualConnection();
    const session = createStreamSession(host, peer.connection);
    session.push(line(1, "test.blob", 2000));
    await settle();
    for (let id = 2; id <= 5; id++) session.push(line(id, "test.blob", 10));
    session.close();
    peer.flush();
    await settle();
    await session.drain();
    expect(started).toEqual(["blob"]);
  });

  it("pauses the input while the frames in flight hold more than maxInFlightBytes", async () => {
    const { host } = streamHost({ maxInFlightBytes: 1000 });
    const peer = manualConnection();
    const session = createStreamSession(host, peer.connection);
    session.push(line(1, "test.hold", "a".repeat(400)));
    expect(peer.state.paused).toBe(false);
    session.push(line(2, "test.hold", "b".repeat(700)));
    expect(peer.state.paused).toBe(true);
    session.close();
    await session.drain();
  });

  it("checks its limits when the host is created", () => {
    expect(() => createCommandHost({ bindings: {}, allow: [], streams: { maxInFlight: 0 } })).toThrow(
      /^streams\.maxInFlight: /,
    );
    expect(() => createCommandHost({ bindings: {}, allow: [], streams: { stalledOutputMs: 1.5 } })).toThrow(
      /^streams\.stalledOutputMs: /,
    );
    expect(() =>
      createCommandHost({ bindings: {}, allow: [], maxFrameBytes: 2048, streams: { maxOutputBytes: 1024 } }),
    ).toThrow(/^streams\.maxOutputBytes: 1024 is below the frame limit \(2048\)/);
  });

  it("does not run a command whose signal is already aborted", async () => {
    const { host, started } = streamHost({});
    const reason = new CommandError("UNAVAILABLE", "the connection of this command closed");
    const answer = JSON.parse(
      await host.dispatchText(JSON.stringify(frame(1, "test.blob", 10)), AbortSignal.abort(reason)),
    );
    expect(answer).toMatchObject({ id: 1, ok: false, error: { code: "UNAVAILABLE" } });
    expect(started).toEqual([]);
  });
});

describe("serveStream backpressure (Web streams)", () => {
  it("stops pulling input while its output is not read, then gives up on the stalled peer", async () => {
    const { host } = streamHost({ outputHighWaterBytes: 4096, stalledOutputMs: 100 });
    const { logger, warnings } = logRecorder();
    let pulls = 0;
    const input = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          if (pulls > 10_000) controller.close();
          else controller.enqueue(line(pulls, "test.blob", 1000));
        },
      },
      { highWaterMark: 0 },
    );
    // Nobody reads the output side.
    const output = new TransformStream<Uint8Array, Uint8Array>();
    const served = serveStream(host, input, output.writable, logger);
    const outcome = await Promise.race([
      served.then(() => "served"),
      new Promise((resolve) => setTimeout(resolve, 5_000, "still serving")),
    ]);
    expect(outcome).toBe("served");
    expect(pulls).toBeLessThan(100);
    expect(warnings).toEqual([expect.stringMatching(/closing the connection: the client took none/)]);
  });
});
