import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type CommandClient, createBindings, createCommandClient } from "../../src/command/index.ts";
import { createCommandHost } from "../../src/host/index.ts";
import { memoryBindings } from "../fixtures/bindings/index.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Step = (request: IncomingMessage, response: ServerResponse, body: string) => boolean | undefined;

/**
 * An HTTP command host on 127.0.0.1: `steps` may take over a request (fail it, answer oddly);
 * otherwise the real host answers through `host.handle`.
 */
async function httpHost(steps: Step[] = []) {
  const bindings = memoryBindings();
  const host = createCommandHost({ bindings, allow: ["CACHE", "DB", "ASSETS"] });
  const seen: { command: string; body: string }[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    // A v2 batch holds one frame per line; a solo exchange starts with one.
    const lines = request.headers["content-type"]?.startsWith("application/x-containerflare-frame")
      ? [body.slice(0, body.indexOf("\n"))]
      : body.split("\n").filter(Boolean);
    for (const line of lines) seen.push({ command: (JSON.parse(line) as { command: string }).command, body: line });
    const step = steps.shift();
    if (step?.(request, response, body)) return;
    const answer = await host.handle(
      new Request(`http://127.0.0.1${request.url}`, {
        method: request.method,
        headers: request.headers as Record<string, string>,
        body,
      }),
    );
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/commands`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url, seen, bindings };
}

function clientFor(url: string): CommandClient {
  const client = createCommandClient({ endpoint: { kind: "http", url }, timeoutMs: 5_000 });
  cleanups.push(() => client.close());
  return client;
}

const unavailable: Step = (_request, response) => {
  response.writeHead(503, { "content-type": "text/plain" });
  response.end("container starting");
  return true;
};
const networkError: Step = (request) => {
  request.socket.destroy();
  return true;
};

describe("HTTP transport", () => {
  it("POSTs one frame per command and reads the answer frame, many in flight", async () => {
    const { url, bindings } = await httpHost();
    await bindings.CACHE.put("k", "v");
    const client = clientFor(url);
    const env = createBindings(client);
    const values = await Promise.all(Array.from({ length: 50 }, () => env.CACHE.get("k")));
    expect(values).toEqual(Array.from({ length: 50 }, () => "v"));
    const asset = await env.ASSETS.fetch("https://example.invalid/index.html?x=1");
    expect(asset.status).toBe(200);
    expect(await asset.text()).toBe("<h1>hello</h1>");
  });

  it("retries a read after 503s and network errors, with backoff", async () => {
    const { url, seen, bindings } = await httpHost([unavailable, networkError]);
    await bindings.CACHE.put("k", "v");
    const client = clientFor(url);
    expect(await client.invoke("kv.get", { binding: "CACHE", key: "k" })).toEqual({ value: "v" });
    expect(seen.map((entry) => entry.command)).toEqual(["kv.get", "kv.get", "kv.get"]);
  });

  it("gives up on a read after the bounded retries with a retryable UNAVAILABLE", async () => {
    const { url, seen } = await httpHost([unavailable, unavailable, unavailable, unavailable]);
    const client = clientFor(url);
    await expect(client.invoke("kv.get", { binding: "CACHE", key: "k" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
      retryable: true,
    });
    expect(seen).toHaveLength(3);
  });

  it("never sends a write twice: a 503 or a network error fails it at once", async () => {
    const { url, seen, bindings } = await httpHost([unavailable, networkError]);
    const client = clientFor(url);
    await expect(client.invoke("kv.put", { binding: "CACHE", key: "k", value: "v" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    await expect(client.invoke("kv.put", { binding: "CACHE", key: "k", value: "v" })).rejects.toMatchObject({
      code: "TRANSPORT_CLOSED",
      retryable: true,
    });
    expect(seen.map((entry) => entry.command)).toEqual(["kv.put", "kv.put"]);
    expect(bindings.CACHE.entries.size).toBe(0);
  });

  it("drops an answer frame whose id is not the request's and fails the call instead", async () => {
    const { url } = await httpHost([
      (_request, response, body) => {
        const { id } = JSON.parse(body) as { id: number };
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ v: 1, id: id + 1, ok: true, payload: "someone else's" }));
        return true;
      },
    ]);
    const client = clientFor(url);
    await expect(client.invoke("host.ping")).rejects.toMatchObject({
      code: "INTERNAL",
      message: expect.stringContaining("without a valid answer frame"),
    });
  });
});
