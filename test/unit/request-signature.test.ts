/**
 * Signed HTTP requests (src/request-signature.ts): what a signature covers, the 300 s window, the
 * replay cache, the key imported once; the HTTP transport signing each attempt; commandHandler
 * with `requireSignature` refusing what is not signed, served over real HTTP on 127.0.0.1.
 */
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CommandClient, createCommandClient } from "../../src/command/index.ts";
import { createRequestVerifier, REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../src/request-signature.ts";
import { commandHandler } from "../../src/worker/commands.ts";
import { memoryBindings } from "../fixtures/bindings/index.ts";

const SECRET = "a dev secret of the tests";
const NOW = 1_800_000_000_000;
const body = new TextEncoder().encode(
  '{"v":1,"id":1,"command":"kv.put","payload":{"binding":"CACHE","key":"k","value":"v"}}',
);
const request = { method: "POST", path: "/v1/commands", body };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("signCommandRequest / createRequestVerifier", () => {
  it("accepts a signature of the same secret, method, path and body once", async () => {
    const header = await signCommandRequest(SECRET, { ...request, now: NOW });
    expect(header).toMatch(new RegExp(`^t=${NOW},v1=[0-9a-f]{64}$`));
    const verifier = createRequestVerifier({ secret: SECRET, now: () => NOW + 1_000 });
    expect(await verifier.verify({ ...request, method: "post", header })).toEqual({ ok: true });
    expect(await verifier.verify({ ...request, header })).toEqual({ ok: false, reason: "replayed" });
  });

  it("refuses a tampered method, path, body, timestamp or MAC, and another secret", async () => {
    const header = await signCommandRequest(SECRET, { ...request, now: NOW });
    const verifier = createRequestVerifier({ secret: SECRET, now: () => NOW });
    const otherBody = new TextEncoder().encode(new TextDecoder().decode(body).replace('"v"}', '"w"}'));
    const flipped = header.slice(0, -1) + (header.endsWith("0") ? "1" : "0");
    const cases = [
      { ...request, method: "PUT", header },
      { ...request, path: "/v1/commands?x=1", header },
      { ...request, body: otherBody, header },
      { ...request, header: header.replace(`t=${NOW}`, `t=${NOW + 1}`) },
      { ...request, header: flipped },
      { ...request, header: await signCommandRequest("another secret", { ...request, now: NOW }) },
    ];
    for (const tampered of cases)
      expect(await verifier.verify(tampered)).toEqual({ ok: false, reason: "bad-signature" });
    // None of the refused ones took the original's place in the replay cache.
    expect(await verifier.verify({ ...request, header })).toEqual({ ok: true });
  });

  it("refuses signatures older or newer than 300 s, missing or malformed headers", async () => {
    const verifier = createRequestVerifier({ secret: SECRET, now: () => NOW });
    for (const offset of [-300_001, 300_001, -3_600_000]) {
      const header = await signCommandRequest(SECRET, { ...request, now: NOW + offset });
      expect(await verifier.verify({ ...request, header }), `offset ${offset}`).toEqual({
        ok: false,
        reason: "expired",
      });
    }
    expect(
      await verifier.verify({
        ...request,
        header: await signCommandRequest(SECRET, { ...request, now: NOW - 299_000 }),
      }),
    ).toEqual({ ok: true });
    for (const header of [null, undefined, ""])
      expect(await verifier.verify({ ...request, header })).toEqual({ ok: false, reason: "unsigned" });
    for (const header of [
      "t=1",
      "v1=00",
      `t=abc,v1=${"0".repeat(64)}`,
      `t=${NOW},v1=${"0".repeat(63)}`,
      `t=${NOW},v1=${"0".repeat(64)}${" ".repeat(200)}`,
    ]) {
      expect(await verifier.verify({ ...request, header }), header.trim()).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("says replay-cache-full when its bound is reached within one second", async () => {
    const verifier = createRequestVerifier({ secret: SECRET, now: () => NOW, maxReplayEntries: 2 });
    const verdicts = [];
    for (let index = 0; index < 3; index++) {
      const header = await signCommandRequest(SECRET, { ...request, path: `/v1/commands?n=${index}`, now: NOW });
      verdicts.push(await verifier.verify({ ...request, path: `/v1/commands?n=${index}`, header }));
    }
    expect(verdicts).toEqual([{ ok: true }, { ok: true }, { ok: false, reason: "replay-cache-full" }]);
  });

  it("imports the HMAC key once per secret, not per request", async () => {
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const secret = `fresh secret ${Math.random()}`;
    const verifier = createRequestVerifier({ secret });
    for (let index = 0; index < 20; index++) {
      const header = await signCommandRequest(secret, { ...request, path: `/v1/commands?n=${index}` });
      expect(await verifier.verify({ ...request, path: `/v1/commands?n=${index}`, header })).toEqual({ ok: true });
    }
    expect(importKey).toHaveBeenCalledTimes(2); // one signing key, one verifying key
  });
});

interface Received {
  signature: string | undefined;
  body: Uint8Array;
}

/** An HTTP server on 127.0.0.1 whose requests go to `handle`; records each request's signature and body. */
async function listen(handle: (request: Request) => Promise<Response>) {
  const received: Received[] = [];
  const server = createServer(async (incoming: IncomingMessage, outgoing) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const bytes = new Uint8Array(Buffer.concat(chunks));
    received.push({ signature: incoming.headers[REQUEST_SIGNATURE_HEADER] as string | undefined, body: bytes });
    const answer = await handle(
      new Request(`http://127.0.0.1${incoming.url}`, {
        method: incoming.method!,
        headers: incoming.headers as Record<string, string>,
        body: bytes,
      }),
    );
    outgoing.writeHead(answer.status, Object.fromEntries(answer.headers));
    outgoing.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/commands`, received };
}

/** A POST with exactly these headers (Node's fetch would replace `Sec-Fetch-Mode` with its own). */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(body.byteLength) } },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () =>
          resolve({ status: incoming.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

function client(url: string, secret?: string): CommandClient {
  const created = createCommandClient({
    endpoint: { kind: "http", url },
    timeoutMs: 5_000,
    ...(secret ? { secret } : {}),
  });
  cleanups.push(() => created.close());
  return created;
}

describe("the HTTP transport with a secret", () => {
  it("signs every attempt anew, so that a retried read is not refused as a replay", async () => {
    const verifier = createRequestVerifier({ secret: SECRET });
    let calls = 0;
    const { url, received } = await listen(async (incoming) => {
      const bytes = new Uint8Array(await incoming.arrayBuffer());
      const verdict = await verifier.verify({
        method: incoming.method,
        path: new URL(incoming.url).pathname,
        body: bytes,
        header: incoming.headers.get(REQUEST_SIGNATURE_HEADER),
      });
      if (!verdict.ok) return new Response(verdict.reason, { status: 401 });
      // The first attempt fails as a container that is still starting would.
      if (calls++ === 0) return new Response("starting", { status: 503 });
      const { id } = JSON.parse(new TextDecoder().decode(bytes)) as { id: number };
      return Response.json({ v: 1, id, ok: true, payload: { value: "signed" } });
    });
    expect(await client(url, SECRET).invoke("kv.get", { binding: "CACHE", key: "k" })).toEqual({ value: "signed" });
    expect(received).toHaveLength(2);
    expect(received[0]!.signature).not.toBe(received[1]!.signature);
  });

  it("sends no signature without a secret", async () => {
    const { url, received } = await listen(async (incoming) => {
      const { id } = (await incoming.json()) as { id: number };
      return Response.json({ v: 1, id, ok: true, payload: null });
    });
    await client(url).invoke("host.ping");
    expect(received[0]!.signature).toBeUndefined();
  });
});

describe("commandHandler({ requireSignature })", () => {
  async function signedHost(requireSignature: boolean | { secret: string }) {
    const bindings = { ...memoryBindings(), CONTAINERFLARE_SECRET: SECRET };
    const handler = commandHandler({ allow: ["CACHE"], requireSignature });
    const host = await listen((incoming) => handler(incoming, bindings));
    return { ...host, kv: bindings.CACHE as { get(key: string): Promise<string | null> } };
  }

  it.each([[{ secret: SECRET }], [true]] as const)(
    "with %j: the signing client works, an unsigned one is FORBIDDEN and changes nothing",
    async (requireSignature) => {
      const { url, kv } = await signedHost(requireSignature);
      await client(url, SECRET).invoke("kv.put", { binding: "CACHE", key: "k", value: "by the app" });
      expect(await kv.get("k")).toBe("by the app");
      await expect(
        client(url).invoke("kv.put", { binding: "CACHE", key: "k", value: "by anyone" }),
      ).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: expect.stringContaining("unsigned"),
      });
      await expect(
        client(url, "a guessed secret").invoke("kv.delete", { binding: "CACHE", key: "k" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(await kv.get("k")).toBe("by the app");
    },
  );

  it("refuses everything when `true` finds no CONTAINERFLARE_SECRET in env", async () => {
    const bindings = memoryBindings();
    const handler = commandHandler({ allow: ["CACHE"], requireSignature: true });
    const { url } = await listen((incoming) => handler(incoming, bindings));
    await expect(client(url, SECRET).invoke("host.ping")).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("no CONTAINERFLARE_SECRET"),
    });
  });

  it("answers 403 to a browser's request even with a valid signature, 413 above the frame limit", async () => {
    const { url, kv } = await signedHost({ secret: SECRET });
    const frame = new TextEncoder().encode(
      JSON.stringify({ v: 1, id: 9, command: "kv.put", payload: { binding: "CACHE", key: "k", value: "evil" } }),
    );
    const browsers: Record<string, string>[] = [
      { origin: "http://evil.example" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-mode": "no-cors" },
    ];
    for (const browser of browsers) {
      const signature = await signCommandRequest(SECRET, { method: "POST", path: "/v1/commands", body: frame });
      const response = await rawPost(
        url,
        { "content-type": "text/plain", [REQUEST_SIGNATURE_HEADER]: signature, ...browser },
        frame,
      );
      expect(response.status, JSON.stringify(browser)).toBe(403);
      expect(response.json).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    }
    expect(await kv.get("k")).toBeNull();
    // What Node's own fetch adds to every request is no browser's mark.
    const signature = await signCommandRequest(SECRET, { method: "POST", path: "/v1/commands", body: frame });
    expect(
      (await rawPost(url, { [REQUEST_SIGNATURE_HEADER]: signature, "sec-fetch-mode": "cors" }, frame)).status,
    ).toBe(200);
    expect(await kv.get("k")).toBe("evil");
    const big = new Uint8Array(16 * 1024 * 1024 + 1).fill(32);
    const tooLarge = await fetch(url, { method: "POST", body: big });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ ok: false, error: { code: "TOO_LARGE" } });
  });
});
