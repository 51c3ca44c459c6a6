// The parts serve() is assembled from, each on its own: the composition, the stand-in env of the
// first milliseconds, the command bus's lazy loading, and the log text without node:util.
import { createConsola } from "consola/core";
import { describe, expect, it } from "vitest";
import { formatLogArgs } from "../../src/log.ts";
import { bodyLimiting, DRAIN_BYTES, limitBody } from "../../src/serve/body-limit.ts";
import { createCommandBus } from "../../src/serve/command-bus.ts";
import { composeParts, type Part, type Step } from "../../src/serve/parts.ts";
import { createPendingEnv } from "../../src/serve/pending-env.ts";

const quiet = createConsola({ level: -999 });

describe("composeParts", () => {
  it("runs the parts outermost first, skips turned-off ones and hands on what a part passes", async () => {
    const seen: string[] = [];
    const tag =
      (name: string): Part =>
      (request, ctx, next) => {
        seen.push(name);
        return next(new Request(request, { headers: { "x-part": name } }), ctx);
      };
    const last: Step = (request) => new Response(request.headers.get("x-part"));
    const step = composeParts([tag("a"), undefined, tag("b")], last);
    const response = await step(new Request("http://x/"), {} as never);
    expect(seen).toEqual(["a", "b"]);
    expect(await response.text()).toBe("b");
  });
});

/** A real-looking env: a KV-like and a D1-like binding that record their calls. */
function fakeEnv() {
  const calls: string[] = [];
  const env = {
    CACHE: {
      get: async (key: string) => {
        calls.push(`get ${key}`);
        return `value of ${key}`;
      },
    },
    DB: {
      prepare(sql: string) {
        calls.push(`prepare ${sql}`);
        const statement = {
          bind(...params: unknown[]) {
            calls.push(`bind ${params.join(",")}`);
            return statement;
          },
          first: async () => ({ sql }),
        };
        return statement;
      },
    },
    JOBS: {
      send: async (body: unknown) => {
        calls.push(`send ${JSON.stringify(body)}`);
      },
    },
  };
  return { env, calls };
}

describe("createPendingEnv (ctx.env while the command bus module loads)", () => {
  it("replays calls, chains and sync methods on the real env once it exists", async () => {
    const { env, calls } = fakeEnv();
    let resolve!: (value: object) => void;
    const pending = createPendingEnv(new Promise<object>((done) => (resolve = done))) as typeof env;
    const value = pending.CACHE.get("k");
    const row = pending.DB.prepare("select 1").bind(1, 2).first();
    expect(calls).toEqual([]);
    resolve(env);
    expect(await value).toBe("value of k");
    expect(await row).toEqual({ sql: "select 1" });
    expect(calls).toEqual(["get k", "prepare select 1", "bind 1,2"]);
  });

  it("runs a call nobody awaits (fire and forget), caches handles by name, and is not thenable itself", async () => {
    const { env, calls } = fakeEnv();
    const pending = createPendingEnv(Promise.resolve(env)) as typeof env;
    void pending.JOBS.send({ n: 1 });
    await expect.poll(() => calls).toEqual(['send {"n":1}']);
    expect(pending.CACHE).toBe(pending.CACHE);
    expect((pending as unknown as { then?: unknown }).then).toBeUndefined();
    expect((pending.CACHE as unknown as { then?: unknown }).then).toBeUndefined();
    expect(JSON.stringify({ env: pending })).toBe('{"env":{}}');
  });

  it("rejects the chain with the real env's error, and a property read alone starts nothing", async () => {
    type Handle = { get(key: string): Promise<string>; notAMethod: { call(): Promise<unknown> } };
    const pending = createPendingEnv(Promise.reject(new Error("no command host"))) as { CACHE: Handle; NOPE: Handle };
    void pending.CACHE.get; // no call: nothing runs, no rejection left unhandled
    await expect(pending.CACHE.get("k")).rejects.toThrow("no command host");
    // A call's handle is its promise: .catch() and .finally() are the promise's.
    expect(await pending.CACHE.get("k").catch((error: Error) => `caught ${error.message}`)).toBe(
      "caught no command host",
    );
    let settled = false;
    await pending.CACHE.get("k")
      .finally(() => (settled = true))
      .catch(() => undefined);
    expect(settled).toBe(true);
    await expect(pending.NOPE.notAMethod.call()).rejects.toThrow();
  });

  it("once the real env is there, reads go to it and no stand-in handle is kept", async () => {
    const real = { CACHE: { get: async () => "v" } };
    const ready = Promise.resolve<object>(real);
    const pending = createPendingEnv(ready) as typeof real;
    const early = pending.CACHE;
    expect(early).not.toBe(real.CACHE);
    await ready;
    expect(pending.CACHE).toBe(real.CACHE);
    expect(await pending.CACHE.get()).toBe("v");
  });
});

describe("createCommandBus", () => {
  it("imports nothing until used; a disabled endpoint fails binding calls with UNAVAILABLE", async () => {
    const bus = createCommandBus({
      config: { commandTimeoutMs: 1000 },
      endpoint: { kind: "disabled" },
      unavailableReason: "no command host configured",
      logger: quiet,
    });
    expect(bus.commands.endpoint).toEqual({ kind: "disabled" });
    expect(bus.commands.inFlight).toBe(0);
    // Before the module has loaded ctx.env is the stand-in; its calls still reach the real client.
    const standIn = bus.env;
    const waiting = bus.commands;
    await expect(standIn.CACHE.get("k")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(waiting.invoke("host.ping")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    // Once loaded: the real env and client.
    expect(bus.env).not.toBe(standIn);
    expect(bus.commands).not.toBe(waiting);
    await expect(bus.env.CACHE.get("k")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await bus.preload();
    await bus.close();
  });

  it("closes without importing anything when never used", async () => {
    const bus = createCommandBus({ config: { commandTimeoutMs: 1000 }, endpoint: { kind: "disabled" }, logger: quiet });
    await expect(bus.close()).resolves.toBeUndefined();
  });
});

describe("formatLogArgs", () => {
  it("writes what util.format writes, joining plain strings itself", () => {
    expect(formatLogArgs(["listening on", "http://x/"])).toBe("listening on http://x/");
    expect(formatLogArgs(["100%"])).toBe("100%");
    expect(formatLogArgs(["%s items", 3])).toBe("3 items");
    expect(formatLogArgs(["after", { n: 1 }])).toBe("after { n: 1 }");
    expect(formatLogArgs([])).toBe("");
    expect(formatLogArgs([new Error("kaput")])).toMatch(/^Error: kaput\n\s+at /);
  });
});

describe("limitBody (bodies of unknown length)", () => {
  /** A source of `chunks` chunks of `size` bytes, counting what was pulled and whether it was cancelled. */
  function source(chunks: number, size: number) {
    const seen = { pulled: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (seen.pulled === chunks) return controller.close();
        seen.pulled++;
        controller.enqueue(new Uint8Array(size));
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    return { stream, seen };
  }

  it("passes a body within the limit untouched", async () => {
    const { stream, seen } = source(4, 1_000);
    const limited = limitBody(stream, 4_000);
    expect((await new Response(limited.stream).arrayBuffer()).byteLength).toBe(4_000);
    expect(limited.overflow()).toBeUndefined();
    expect(seen).toEqual({ pulled: 4, cancelled: false });
  });

  it("fails past the limit with TOO_LARGE, then drops the rest instead of cancelling it", async () => {
    const { stream, seen } = source(100, 64 * 1024);
    const limited = limitBody(stream, 100_000);
    await expect(new Response(limited.stream).arrayBuffer()).rejects.toMatchObject({ code: "TOO_LARGE" });
    await limited.overflow();
    // All 100 chunks were read (6.4 MiB, within the drain budget) and none kept; nothing was cancelled.
    expect(seen).toEqual({ pulled: 100, cancelled: false });
  });

  it("stops dropping at its byte budget and cancels the source", async () => {
    const chunk = 2 ** 20;
    const { stream, seen } = source(DRAIN_BYTES / chunk + 50, chunk);
    const limited = limitBody(stream, chunk);
    await expect(new Response(limited.stream).text()).rejects.toMatchObject({ code: "TOO_LARGE" });
    await limited.overflow();
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThanOrEqual(DRAIN_BYTES / chunk + 3);
  });
});

describe("bodyLimiting (where the limit is enforced)", () => {
  it("on Node: a part does it and srvx gets nothing; no limit, no part", () => {
    const limited = bodyLimiting(1024, undefined);
    expect(limited.srvx).toEqual({});
    expect(typeof limited.part).toBe("function");
    expect(bodyLimiting(1024, 4096).part).toBeTypeOf("function");
    const none = bodyLimiting(0, undefined);
    expect([none.srvx, none.part]).toEqual([{}, undefined]);
  });

  it("on Bun: srvx passes the limit on and there is no part, unless the app set srvx's own", () => {
    const native = bodyLimiting(1024, undefined, "bun");
    expect([native.srvx, native.part]).toEqual([{ maxRequestBodySize: 1024 }, undefined]);
    expect(bodyLimiting(1024, 4096, "bun").part).toBeTypeOf("function");
  });
});

/** The symbol a `Deno.serve` request keeps its inner request under, as Deno names it. */
const INNER = Symbol("request");

/** A stand-in for Deno's inner body: its stream or static bytes, built by its own class as Deno's is. */
class InnerBody {
  streamOrStatic: ReadableStream<Uint8Array> | { body: Uint8Array };
  constructor(stream: ReadableStream<Uint8Array> | { body: Uint8Array }) {
    this.streamOrStatic = stream;
  }
}

/** A stand-in for Deno's inner request class: `body` is a getter that caches, `header()` looks one up. */
function innerRequestClass() {
  class InnerRequest {
    reads = 0;
    #body: InnerBody | null | undefined;
    constructor(
      readonly headers: Record<string, string>,
      readonly source: () => InnerBody | null,
    ) {}
    header(name: string): string | null {
      return this.headers[name] ?? null;
    }
    get body(): InnerBody | null {
      this.reads++;
      if (this.#body === undefined) this.#body = this.source();
      return this.#body;
    }
  }
  return InnerRequest;
}

function streamOf(sizes: number[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const size of sizes) controller.enqueue(new Uint8Array(size));
      controller.close();
    },
  });
}

async function bytesOf(body: InnerBody): Promise<number> {
  const source = body.streamOrStatic;
  if (!(source instanceof ReadableStream)) return source.body.byteLength;
  return (await new Response(source).arrayBuffer()).byteLength;
}

describe("bodyLimiting on Deno (the runtime's body getter)", () => {
  const ctx = {} as never;
  const answer = () => new Response("ok");

  it("wraps the getter on the first request, limits every read through it, and gives it back on release", async () => {
    const InnerRequest = innerRequestClass();
    const runtimeGetter = Object.getOwnPropertyDescriptor(InnerRequest.prototype, "body")?.get;
    const limiting = bodyLimiting(1000, undefined, "deno");
    const request = (inner: object) => ({ [INNER]: inner }) as never;
    // A GET first: passed on untouched, and its body is not read.
    const get = new InnerRequest({}, () => null);
    expect(await (await (limiting.part as Part)(request(get), ctx, answer)).text()).toBe("ok");
    expect(get.reads).toBe(0);
    expect(Object.getOwnPropertyDescriptor(InnerRequest.prototype, "body")?.get).not.toBe(runtimeGetter);

    const within = new InnerRequest({}, () => new InnerBody(streamOf([600, 400])));
    expect(await bytesOf(within.body as InnerBody)).toBe(1000);
    const over = new InnerRequest({}, () => new InnerBody(streamOf([600, 600])));
    const limited = over.body as InnerBody;
    expect(over.body).toBe(limited);
    await expect(bytesOf(limited)).rejects.toMatchObject({ code: "TOO_LARGE" });
    const declared = new InnerRequest({ "content-length": "5000" }, () => new InnerBody(streamOf([10])));
    await expect(bytesOf(declared.body as InnerBody)).rejects.toThrow(
      "request body of 5000 bytes exceeds the 1000-byte limit",
    );
    const whole = { body: new Uint8Array(10) };
    const small = new InnerRequest({}, () => new InnerBody(whole));
    expect((small.body as InnerBody).streamOrStatic).toBe(whole);
    const big = new InnerRequest({}, () => new InnerBody({ body: new Uint8Array(1001) }));
    await expect(bytesOf(big.body as InnerBody)).rejects.toMatchObject({ code: "TOO_LARGE" });

    limiting.release();
    limiting.release();
    expect(Object.getOwnPropertyDescriptor(InnerRequest.prototype, "body")?.get).toBe(runtimeGetter);
  });

  it("limits any other request the ordinary way", async () => {
    const limiting = bodyLimiting(10, undefined, "deno");
    const part = limiting.part as Part;
    try {
      const post = (body: string, headers: Record<string, string> = {}) =>
        new Request("http://localhost/", { method: "POST", body, headers }) as never;
      await expect(async () => part(post("x".repeat(20), { "content-length": "20" }), ctx, answer)).rejects.toThrow(
        "request body of 20 bytes exceeds the 10-byte limit",
      );
      const read = (request: Request) => request.text().then(() => new Response("read"));
      await expect(part(post("x".repeat(20)), ctx, read as never)).rejects.toMatchObject({ code: "TOO_LARGE" });
      expect(await (await part(post("x"), ctx, read as never)).text()).toBe("read");
    } finally {
      limiting.release();
    }
  });
});
