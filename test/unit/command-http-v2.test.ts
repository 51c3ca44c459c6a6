import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type CommandClient, createBindings, createCommandClient, FixedLengthStream } from "../../src/command/index.ts";
import { createCommandHost } from "../../src/host/index.ts";
import { commandHandler } from "../../src/worker/commands.ts";
import { memoryBindings } from "../fixtures/bindings/index.ts";
import { serveHttpHost } from "../fixtures/command/http-host.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const MiB = 1024 * 1024;

/** What the test server saw of each POST. */
interface Seen {
  type: string;
  lines: number;
}

/**
 * A command host on 127.0.0.1 that streams both ways. `v1`: it hides that it speaks v2 (answers
 * without the version header, reads only single frames), like a host that predates it.
 */
async function v2Host(
  options: { v1?: boolean; handler?: (request: Request) => Promise<Response>; commands?: Record<string, never> } = {},
) {
  const bindings = memoryBindings();
  const host = createCommandHost({
    bindings,
    allow: ["CACHE", "FILES", "ASSETS"],
    commands: {
      "app.wait": async (payload, context) => {
        const ms = (payload as { ms: number }).ms;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          context.signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            aborted.push(ms);
            reject(new Error("aborted"));
          });
        });
        return ms;
      },
    },
  });
  const aborted: number[] = [];
  const seen: Seen[] = [];
  const { url, close } = await serveHttpHost(
    async (request, incoming, response) => {
      const type = incoming.headers["content-type"] ?? "";
      seen.push({ type, lines: 0 });
      if (options.v1 && type !== "application/json") {
        // What a v1 host does with anything else: it cannot read it as one frame.
        incoming.resume();
        response.writeHead(400, { "content-type": "application/json" });
        response.end(
          '{"v":1,"id":0,"ok":false,"error":{"code":"INVALID_PAYLOAD","message":"malformed frame: not JSON","retryable":false}}',
        );
        return undefined;
      }
      return (options.handler ?? ((incoming: Request) => host.handle(incoming)))(request);
    },
    options.v1 ? ["x-containerflare-http"] : [],
  );
  cleanups.push(close);
  return { url, seen, bindings, aborted, host };
}

function clientFor(url: string, secret?: string, timeoutMs = 20_000): CommandClient {
  const client = createCommandClient({
    endpoint: { kind: "http", url },
    timeoutMs,
    ...(secret ? { secret } : {}),
  });
  cleanups.push(() => client.close());
  return client;
}

/** A stream of `size` pseudo-random bytes made as it is read, and the SHA-256 of what it yields. */
function generated(size: number): { stream: ReadableStream<Uint8Array>; digest: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  let seed = 7;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const chunk = new Uint8Array(Math.min(256 * 1024, size - sent));
      for (let index = 0; index < chunk.length; index += 4096) chunk[index] = seed = (seed * 31 + 17) & 0xff;
      sent += chunk.length;
      hash.update(chunk);
      controller.enqueue(chunk);
    },
  });
  return { stream, digest: () => hash.digest("hex") };
}

async function digestOf(stream: ReadableStream<Uint8Array>): Promise<{ hex: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { hex: hash.digest("hex"), bytes };
}

describe("HTTP transport v2", () => {
  it("sends the commands of one turn in one POST once the host said it speaks v2", async () => {
    const { url, seen, bindings } = await v2Host();
    await bindings.CACHE.put("k", "v");
    const client = clientFor(url);
    await client.invoke("host.ping");
    expect(seen).toEqual([{ type: "application/json", lines: 0 }]);
    const env = createBindings(client, { bindings: { CACHE: "kv" } });
    const values = await Promise.all(Array.from({ length: 64 }, () => env.CACHE.get("k")));
    expect(values).toEqual(Array.from({ length: 64 }, () => "v"));
    expect(seen.slice(1).map((entry) => entry.type)).toEqual(["application/x-ndjson"]);
  });

  it("answers a batch in completion order: a slow command never holds back a fast one", async () => {
    const { url } = await v2Host();
    const client = clientFor(url);
    await client.invoke("host.ping");
    const started = Date.now();
    const done: number[] = [];
    const slow = client.invoke<number>("app.wait", { ms: 600 }).then((ms) => done.push(ms));
    const fast = client.invoke<number>("app.wait", { ms: 10 }).then((ms) => {
      done.push(ms);
      return Date.now() - started;
    });
    expect(await fast).toBeLessThan(400);
    await slow;
    expect(done).toEqual([10, 600]);
  });

  it("streams a 40 MiB R2 object both ways, above the 16 MiB frame limit", async () => {
    const { url, seen } = await v2Host();
    const client = clientFor(url);
    const env = createBindings(client, { bindings: { FILES: "r2" } });
    const source = generated(40 * MiB);
    const stored = await env.FILES.put("big.bin", source.stream.pipeThrough(new FixedLengthStream(40 * MiB)));
    expect(stored?.size).toBe(40 * MiB);
    const object = await env.FILES.get("big.bin");
    expect(object).not.toBeNull();
    const read = await digestOf(object!.body as unknown as ReadableStream<Uint8Array>);
    expect(read).toEqual({ hex: source.digest(), bytes: 40 * MiB });
    expect(seen.filter((entry) => entry.type === "application/x-containerflare-frame")).toHaveLength(2);
  });

  it("counts a streamed upload's timeout from its last byte: a slow producer is not a dead host", async () => {
    const { url } = await v2Host();
    const client = clientFor(url, undefined, 300);
    const env = createBindings(client, { bindings: { FILES: "r2" } });
    let sent = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 6) return controller.close();
        await new Promise((resolve) => setTimeout(resolve, 100));
        sent++;
        controller.enqueue(new Uint8Array(100 * 1024).fill(sent));
      },
    });
    // 600 ms to produce, a 300 ms timeout: the answer still arrives within 300 ms of the last byte.
    const stored = await env.FILES.put("slow.bin", slow.pipeThrough(new FixedLengthStream(600 * 1024)), {});
    expect(stored?.size).toBe(600 * 1024);
    await expect(client.invoke("app.wait", { ms: 1_000 }, { timeout: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  it("reads a 20 MiB KV text value (sent again alone after the batch said TOO_LARGE) and stores one", async () => {
    const { url } = await v2Host();
    const client = clientFor(url);
    await client.invoke("host.ping");
    const env = createBindings(client, { bindings: { CACHE: "kv" } });
    const value = "é".repeat(10 * MiB);
    await env.CACHE.put("big", value);
    const [small, big] = await Promise.all([env.CACHE.get("missing"), env.CACHE.get("big")]);
    expect(small).toBeNull();
    expect(big?.length).toBe(value.length);
    expect(big === value).toBe(true);
    const bytes = await env.CACHE.get("big", "arrayBuffer");
    expect(bytes?.byteLength).toBe(20 * MiB);
  });

  it("asks the host to stop a batched command the caller gave up on (host.cancel)", async () => {
    const { url, aborted } = await v2Host();
    const client = clientFor(url);
    await client.invoke("host.ping");
    const [gaveUp, other] = await Promise.allSettled([
      client.invoke("app.wait", { ms: 5_000 }, { timeout: 100 }),
      client.invoke("app.wait", { ms: 300 }),
    ]);
    expect(gaveUp).toMatchObject({ status: "rejected", reason: { code: "TIMEOUT" } });
    expect(other).toMatchObject({ status: "fulfilled", value: 300 });
    await expect.poll(() => aborted, { timeout: 2_000 }).toEqual([5_000]);
    expect(client.inFlight).toBe(0);
  });

  it("keeps working with a v1 host: one frame per POST, bodies inline within the frame limit", async () => {
    const { url, seen, bindings } = await v2Host({ v1: true });
    await bindings.CACHE.put("k", "v");
    const client = clientFor(url);
    const env = createBindings(client, { bindings: { CACHE: "kv", FILES: "r2" } });
    expect(await Promise.all([env.CACHE.get("k"), env.CACHE.get("k"), env.CACHE.get("k")])).toEqual(["v", "v", "v"]);
    await env.FILES.put("small", new Uint8Array(300 * 1024).fill(1));
    expect((await (await env.FILES.get("small"))!.arrayBuffer()).byteLength).toBe(300 * 1024);
    expect(new Set(seen.map((entry) => entry.type))).toEqual(new Set(["application/json"]));
    await expect(env.FILES.put("big", new Uint8Array(20 * MiB))).rejects.toMatchObject({ code: "TOO_LARGE" });
  });

  it("signs a solo exchange over its frame line; a host requiring signatures takes it and refuses a forged one", async () => {
    const secret = "s3cret-for-tests-only";
    const bindings = memoryBindings();
    const handle = commandHandler({ allow: ["FILES"], requireSignature: { secret } });
    const { url } = await v2Host({ handler: (request) => handle(request, bindings) });
    const client = clientFor(url, secret);
    const env = createBindings(client, { bindings: { FILES: "r2" } });
    await client.invoke("host.ping");
    await env.FILES.put("signed.bin", new Uint8Array(2 * MiB).fill(3));
    expect(bindings.FILES.objects.get("signed.bin")?.bytes.byteLength).toBe(2 * MiB);
    const forged = clientFor(url, "another-secret");
    const forgedEnv = createBindings(forged, { bindings: { FILES: "r2" } });
    await forged.invoke("host.ping").catch(() => undefined);
    await expect(forgedEnv.FILES.put("forged.bin", new Uint8Array(2 * MiB))).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(bindings.FILES.objects.has("forged.bin")).toBe(false);
  });
});
