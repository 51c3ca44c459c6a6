// The Node fast path: serve() swaps the global Response for srvx's FastResponse on Node, so the
// responses an app builds skip the Web-stream round trip. These tests pin that nothing breaks.
import { FastResponse } from "srvx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type ContainerServer } from "../../src/index.ts";

let server: ContainerServer;
let base: string;
const NativeResponse = globalThis.Response;

beforeAll(async () => {
  server = serve(
    async (request) => {
      const url = new URL(request.url);
      switch (url.pathname) {
        case "/text":
          return new Response("hello", { status: 201, statusText: "Made", headers: { "x-test": "1" } });
        case "/json":
          return Response.json({ ok: true, list: [1, 2] }, { headers: { "x-extra": "y" } });
        case "/json-typed":
          return Response.json({ ok: 1 }, { headers: { "content-type": "application/vnd.api+json" } });
        case "/stream": {
          const encoder = new TextEncoder();
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
          return new Response(new Uint8Array([1, 2, 3, 4]), { headers: { "content-type": "application/octet-stream" } });
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
        case "/instanceof":
          return new Response(String(new Response("x") instanceof NativeResponse && (await fetch(`${base}/text`)) instanceof Response));
        default:
          return new Response("missing", { status: 404 });
      }
    },
    { port: 0, hostname: "127.0.0.1", manageProcess: false, config: { logLevel: -999 } },
  );
  await server.ready();
  base = server.url!.replace(/\/$/, "");
});

afterAll(async () => {
  await server.close();
});

describe("Node fast path", () => {
  it("uses FastResponse as the global Response while serving", () => {
    expect(globalThis.Response).toBe(FastResponse);
  });

  it("keeps status, statusText and headers", async () => {
    const response = await fetch(`${base}/text`);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made");
    expect(response.headers.get("x-test")).toBe("1");
    expect(response.headers.get("content-type")).toBe("text/plain;charset=UTF-8".replace(";charset=UTF-8", "; charset=UTF-8"));
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

  it("keeps clone()", async () => {
    expect(await (await fetch(`${base}/clone`)).text()).toBe("twice|twice|clone");
  });

  it("keeps redirects", async () => {
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

  it("passes through responses made by fetch() and keeps instanceof working", async () => {
    const response = await fetch(`${base}/fetched`);
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("hello");
    expect(await (await fetch(`${base}/instanceof`)).text()).toBe("true");
  });

  it("answers HEAD without a body", async () => {
    const response = await fetch(`${base}/text`, { method: "HEAD" });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("");
  });

  it("restores the native Response once the last server closes", async () => {
    const other = serve(() => new Response("x"), { port: 0, hostname: "127.0.0.1", manageProcess: false, config: { logLevel: -999 } });
    await other.ready();
    await other.close();
    expect(globalThis.Response).toBe(FastResponse);
    await server.close();
    expect(globalThis.Response).toBe(NativeResponse);
  });
});
