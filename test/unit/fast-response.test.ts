// The Node fast path: serve() installs containerflare's fast Response as the global Response on
// Node, so that the responses an app builds skip the Web-stream round trip. These tests pin that it
// behaves like the native class where srvx's FastResponse did not (each "regression" test fails
// with srvx's class installed instead), and that a response that cannot be sent is never silent.
// The full Fetch-standard suite runs on every runtime in test/integration/conformance.test.ts.

import { inspect } from "node:util";
import { gunzipSync } from "node:zlib";
import { Hono } from "hono";
import { compress } from "hono/compress";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handle } from "../../adapters/hono.ts";
import { type ContainerServer, serve } from "../../src/index.ts";
import { createLogger } from "../../src/log.ts";
import { FastResponse, fastResponseState, NativeResponseClass } from "../../src/node/response.ts";

const NativeResponse = globalThis.Response;
const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  level: 3,
  format: "json",
  platform: { kind: "generic" },
  sink: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
});
const encoder = new TextEncoder();

let server: ContainerServer;
let base: string;
const honoApp = new Hono().use(compress()).get("/hono/text", (c) => c.text("compress me ".repeat(1024)));

/** A stream that sends one chunk, then fails: after the head went out, as a real failure would. */
function failingStream(): ReadableStream<Uint8Array> {
  let pulls = 0;
  return new ReadableStream({
    async pull(controller) {
      if (pulls++ === 0) return controller.enqueue(encoder.encode("first;"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.error(new Error("the upstream went away"));
    },
  });
}

beforeAll(async () => {
  const hono = handle(honoApp);
  server = serve(
    async (request, ctx) => {
      const url = new URL(request.url);
      if (url.pathname.startsWith("/hono/")) return hono(request, ctx);
      switch (url.pathname) {
        case "/text":
          return new Response("hello", { status: 201, statusText: "Made", headers: { "x-test": "1" } });
        case "/json":
          return Response.json({ ok: true, list: [1, 2] }, { headers: { "x-extra": "y" } });
        case "/json-typed":
          return Response.json({ ok: 1 }, { headers: { "content-type": "application/vnd.api+json" } });
        case "/stream": {
          let index = 0;
          const stream = new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (index === 3) return controller.close();
              await new Promise((resolve) => setTimeout(resolve, 20));
              controller.enqueue(encoder.encode(`chunk${index++};`));
            },
          });
          return new Response(stream, { headers: { "content-type": "text/plain" } });
        }
        case "/clone": {
          const original = new Response("twice", { headers: { "x-kind": "clone" } });
          const copy = original.clone();
          const first = await original.text();
          return new Response(`${first}|${await copy.text()}|${copy.headers.get("x-kind")}`);
        }
        case "/redirect":
          return Response.redirect("http://127.0.0.1/elsewhere", 307);
        case "/bytes":
          return new Response(new Uint8Array([1, 2, 3, 4]), {
            headers: { "content-type": "application/octet-stream" },
          });
        case "/blob":
          return new Response(new Blob(["blob-body"], { type: "text/x-blob" }));
        case "/cookies": {
          const headers = new Headers();
          headers.append("set-cookie", "a=1; Path=/");
          headers.append("set-cookie", "b=2; Path=/");
          return new Response(null, { status: 204, headers });
        }
        case "/mutate": {
          const response = new Response("mutated");
          response.headers.set("x-late", "yes");
          return response;
        }
        case "/fetched":
          // A Response made by fetch() (undici's class) must pass through too.
          return fetch(`${base}/text`);
        case "/status": // ?status=…: the status the app asks for, validated as natively
          return new Response("x", { status: Number(url.searchParams.get("status")) });
        case "/no-content-with-body":
          return new Response("body", { status: 204 });
        case "/bad-header-name":
          return new Response("x", { headers: { "bad name": "1" } });
        case "/copied-buffer": {
          const buffer = Buffer.from("original");
          const response = new Response(buffer);
          buffer.write("CHANGED!");
          return response;
        }
        case "/early-headers": {
          const response = new Response("body");
          const headers = response.headers;
          await response.clone().text();
          void response.body;
          headers.set("x-early", "kept");
          return response;
        }
        case "/error":
          return Response.error();
        case "/control-character":
          return new Response("x", { headers: { "x-bad": "a\u0001b" } });
        case "/used": {
          const response = new Response("read already");
          await response.text();
          return response;
        }
        case "/sees-metadata":
          return Response.json([
            request.headers.has("x-containerflare-metadata"),
            request.headers.has("x-containerflare-signature"),
          ]);
        case "/failing-stream":
          return new Response(failingStream());
        default:
          return new Response("missing", { status: 404 });
      }
    },
    { port: 0, hostname: "127.0.0.1", manageProcess: false, logger, config: { accessLog: true } },
  );
  await server.ready();
  base = server.url!.replace(/\/$/, "");
});

afterAll(async () => {
  await server.close();
});

/** The JSON lines logged for the request with this id. */
const linesOf = (requestId: string) => logLines.filter((line) => line.requestId === requestId);

describe("Node fast path: what it sends", () => {
  it("installs the fast Response as the global Response while serving", () => {
    expect(globalThis.Response).toBe(FastResponse);
    expect(NativeResponseClass).toBe(NativeResponse);
  });

  it("keeps status, statusText and headers, with the native implicit Content-Type", async () => {
    const response = await fetch(`${base}/text`);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made");
    expect(response.headers.get("x-test")).toBe("1");
    expect(response.headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    expect(response.headers.get("content-length")).toBe("5");
    expect(await response.text()).toBe("hello");
  });

  it("keeps Response.json with its content type and extra headers", async () => {
    const response = await fetch(`${base}/json`);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("x-extra")).toBe("y");
    expect(await response.json()).toEqual({ ok: true, list: [1, 2] });
    expect((await fetch(`${base}/json-typed`)).headers.get("content-type")).toBe("application/vnd.api+json");
  });

  it("streams a ReadableStream body chunk by chunk", async () => {
    const response = await fetch(`${base}/stream`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const chunks: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(decoder.decode(value));
    }
    expect(chunks.join("")).toBe("chunk0;chunk1;chunk2;");
    expect(chunks.length).toBeGreaterThan(1);
    expect(response.headers.get("transfer-encoding")).toBe("chunked");
  });

  it("keeps clone() and redirects", async () => {
    expect(await (await fetch(`${base}/clone`)).text()).toBe("twice|twice|clone");
    const response = await fetch(`${base}/redirect`, { redirect: "manual" });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://127.0.0.1/elsewhere");
  });

  it("sends bytes, blobs, repeated set-cookie headers and late header changes", async () => {
    const bytes = await fetch(`${base}/bytes`);
    expect(new Uint8Array(await bytes.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
    const blob = await fetch(`${base}/blob`);
    expect(blob.headers.get("content-type")).toBe("text/x-blob");
    expect(await blob.text()).toBe("blob-body");
    const cookies = await fetch(`${base}/cookies`);
    expect(cookies.status).toBe(204);
    expect(cookies.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect((await fetch(`${base}/mutate`)).headers.get("x-late")).toBe("yes");
  });

  it("passes through responses made by fetch()", async () => {
    const response = await fetch(`${base}/fetched`);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("hello");
  });

  it("answers HEAD without a body", async () => {
    const response = await fetch(`${base}/text`, { method: "HEAD" });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("");
  });

  it("regression: sends the bytes as they were at construction (the body is copied)", async () => {
    expect(await (await fetch(`${base}/copied-buffer`)).text()).toBe("original");
  });

  it("regression: a header set through a reference taken before the body was read reaches the wire", async () => {
    const response = await fetch(`${base}/early-headers`);
    expect(response.headers.get("x-early")).toBe("kept");
    expect(await response.text()).toBe("body");
  });

  it("regression: Hono's compress() sees the implicit Content-Type of c.text() and gzips it", async () => {
    const response = await fetch(`${base}/hono/text`, { headers: { "accept-encoding": "gzip" } });
    expect(response.headers.get("content-encoding")).toBe("gzip");
    const raw = new Uint8Array(await response.arrayBuffer());
    // fetch() inflates gzip itself; what arrives is either inflated text or gzip bytes.
    const text = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString() : new TextDecoder().decode(raw);
    expect(text).toBe("compress me ".repeat(1024));
  });
});

describe("Node fast path: invalid responses and send failures are never silent", () => {
  /** Fetches `path` with a request id and returns the answer and the log lines of that request. */
  async function call(path: string) {
    const requestId = `req-${path.replace(/\W/g, "")}-${Math.random().toString(36).slice(2, 8)}`;
    const response = await fetch(`${base}${path}`, { headers: { "x-request-id": requestId } });
    const body = await response.text().catch((error: unknown) => `body failed: ${String(error)}`);
    // The access log line is written when the response closes, just after the client has it.
    await expect.poll(() => linesOf(requestId).some((line) => line.httpRequest)).toBe(true);
    return { response, body, requestId, lines: linesOf(requestId) };
  }

  const internal = (requestId: string) => ({
    error: expect.objectContaining({ code: "INTERNAL", message: "Internal Server Error", requestId }),
  });

  it.each([
    ["/status?status=0", "RangeError"],
    ["/status?status=1000", "RangeError"],
    ["/status?status=199", "RangeError"],
    ["/no-content-with-body", "TypeError"],
    ["/bad-header-name", "TypeError"],
  ])("regression: %s throws the native %s in the handler: logged, JSON 500, access log 500", async (path, name) => {
    const { response, body, requestId, lines } = await call(path);
    expect(response.status).toBe(500);
    expect(JSON.parse(body)).toEqual(internal(requestId));
    expect(JSON.stringify(lines.filter((line) => line.level === "error"))).toContain(name);
    expect(lines.find((line) => line.httpRequest)).toMatchObject({ httpRequest: { status: 500 } });
  });

  it.each([
    ["/error", "status 0"],
    ["/control-character", "header x-bad has a control character"],
    ["/used", "already read or sent"],
  ])("regression: %s cannot be sent: logged with the request id, JSON 500, access log 500", async (path, reason) => {
    const { response, body, requestId, lines } = await call(path);
    expect(response.status).toBe(500);
    expect(JSON.parse(body)).toEqual(internal(requestId));
    const errors = lines.filter((line) => line.level === "error");
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.message)).toContain(reason);
    expect(lines.find((line) => line.httpRequest)).toMatchObject({ httpRequest: { status: 500 } });
  });

  it("regression: a streamed body that fails after the head is logged, and the access log says incomplete", async () => {
    const { response, body, requestId, lines } = await call("/failing-stream");
    expect(response.status).toBe(200);
    expect(body).toMatch(/^body failed|^first;$/);
    await expect.poll(() => linesOf(requestId).filter((line) => line.level === "error").length).toBe(1);
    expect(JSON.stringify(linesOf(requestId))).toContain("the upstream went away");
    expect(String(lines.find((line) => line.httpRequest)?.message)).toContain("incomplete");
  });

  it("logs nothing for a streamed body whose client goes away", async () => {
    const requestId = "req-client-gone";
    const controller = new AbortController();
    const response = await fetch(`${base}/stream`, {
      headers: { "x-request-id": requestId },
      signal: controller.signal,
    });
    await response.body!.getReader().read();
    controller.abort();
    await expect.poll(() => linesOf(requestId).some((line) => line.httpRequest)).toBe(true);
    expect(linesOf(requestId).filter((line) => line.level === "error")).toEqual([]);
  });
});

describe("Node: the metadata headers found without reading every request's headers", () => {
  it("still removes them in any letter case, alone or together", async () => {
    const seen = async (headers: Record<string, string>) => (await fetch(`${base}/sees-metadata`, { headers })).json();
    expect(await seen({})).toEqual([false, false]);
    expect(await seen({ "X-ContainerFlare-Metadata": "{}" })).toEqual([false, false]);
    expect(await seen({ "x-containerflare-signature": "t=1,v1=00" })).toEqual([false, false]);
    expect(
      await seen({ "x-containerflare-metadata": "{}", "X-CONTAINERFLARE-SIGNATURE": "t=1,v1=00", "x-other": "1" }),
    ).toEqual([false, false]);
  });
});

describe("Node fast path: the class", () => {
  it("regression: is named Response and accepts native responses in instanceof", async () => {
    expect(FastResponse.name).toBe("Response");
    expect(new FastResponse("x").constructor.name).toBe("Response");
    const fetched = await fetch("data:,hi");
    expect(fetched instanceof FastResponse).toBe(true);
    expect(new FastResponse("x") instanceof NativeResponse).toBe(true);
  });

  it("regression: its prototype methods work on native responses", async () => {
    expect(await FastResponse.prototype.text.call(await fetch("data:,from%20fetch"))).toBe("from fetch");
  });

  it("regression: validates like the native constructor, with the native errors", () => {
    const attempts: [unknown, unknown][] = [
      ["x", { status: 0 }],
      ["x", { status: 600 }],
      ["x", { statusText: "a\nb" }],
      ["x", { statusText: "€" }],
      ["x", { status: 204 }],
      ["x", { headers: { "bad name": "1" } }],
      ["x", 5],
    ];
    for (const [body, init] of attempts) {
      const native = (() => {
        try {
          new NativeResponse(body as string, init as ResponseInit);
        } catch (error) {
          return error as Error;
        }
      })();
      expect(native, JSON.stringify(init)).toBeInstanceOf(Error);
      expect(() => new FastResponse(body as string, init as ResponseInit)).toThrow(native!.constructor as typeof Error);
      expect(() => new FastResponse(body as string, init as ResponseInit)).toThrow(native!.message);
    }
  });

  it("regression: the implicit Content-Type is in the headers at once; status is coerced", () => {
    expect(new FastResponse("x").headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    expect(new FastResponse(new URLSearchParams("a=1")).headers.get("content-type")).toBe(
      "application/x-www-form-urlencoded;charset=UTF-8",
    );
    expect(new FastResponse("x", { status: "201" as unknown as number }).status).toBe(201);
  });

  it("overrides every member of the native prototype and inspects like it", () => {
    for (const name of Object.getOwnPropertyNames(NativeResponse.prototype)) {
      expect(Object.hasOwn(FastResponse.prototype, name), name).toBe(true);
    }
    const init = { status: 202, statusText: "Accepted", headers: { "x-a": "1" } };
    expect(inspect(new FastResponse("x", init))).toBe(inspect(new NativeResponse("x", init)));
  });

  it("keeps a string body without creating headers or a stream until asked", () => {
    const response = new FastResponse("lazy");
    expect(fastResponseState(response)).toEqual({
      status: 200,
      headers: undefined,
      bodyUnusable: false,
      streamed: false,
    });
    expect(fastResponseState(new NativeResponse("x"))).toBeUndefined();
  });

  it("restores the native Response once the last server closes", async () => {
    const other = serve(() => new Response("x"), {
      port: 0,
      hostname: "127.0.0.1",
      manageProcess: false,
      config: { logLevel: -999 },
    });
    await other.ready();
    await other.close();
    expect(globalThis.Response).toBe(FastResponse);
    await server.close();
    expect(globalThis.Response).toBe(NativeResponse);
  });
});
