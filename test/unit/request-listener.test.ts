// serve()'s request listener on Node (src/node/listener.ts) on a real srvx server: it answers
// HTTP/1 requests with an origin-form target itself, never sends an answer twice, fails as srvx
// does, hands every other request target to srvx's own listener, and gives srvx's back.

import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { type Server, type ServerRequest, serve as srvxServe } from "srvx";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { leanRequestListener, useRequestListener } from "../../src/node/listener.ts";
import { type RawResponse, rawConnection } from "../integration/raw-http.ts";

/** A text answer with its length (the raw parser reads Content-Length bodies, not chunked ones). */
const text = (body: string) => new Response(body, { headers: { "content-length": String(Buffer.byteLength(body)) } });

/** What the fetch below does for a path. */
async function answer(request: ServerRequest): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/sent") {
    // Sent by the fetch itself, as serve()'s one-write sender does; the Response is not sent again.
    const res = request.runtime?.node?.res as ServerResponse;
    res.writeHead(200, { "content-length": "4" });
    res.end("sent");
    return new Response("must not be written");
  }
  if (path === "/throw") throw new Error("thrown");
  if (path === "/reject") return Promise.reject(new Error("rejected"));
  if (path === "/async") return text(`async ${request.url}`);
  return text(`sync ${request.url} ${request.method}`);
}

let server: Server;
let delegated: string[] = [];
let ends = 0;
let release: () => void;
let srvxListener: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = srvxServe({
    fetch: (request) => {
      const path = new URL(request.url).pathname;
      return path === "/async" || path === "/reject"
        ? Promise.resolve().then(() => answer(request))
        : (answer(request) as never);
    },
    port: 0,
    hostname: "127.0.0.1",
    manual: true,
    silent: true,
    gracefulShutdown: false,
  });
  const node = server.node as { handler: typeof srvxListener; server: HttpServer };
  srvxListener = node.handler;
  // Which requests srvx's own listener got: the lean one calls it through server.node.handler.
  node.handler = (req, res) => {
    delegated.push(req.url ?? "");
    return srvxListener(req, res);
  };
  const listener = leanRequestListener(server);
  if (!listener) throw new Error("no listener for a node:http server");
  // The listener srvx registered is the one to take out (and to put back).
  node.handler = srvxListener;
  release = useRequestListener(server, listener);
  // Counts end() calls of every response (before any other listener runs).
  node.server.prependListener("request", (_req, res: ServerResponse) => {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      ends++;
      return end(...args);
    }) as ServerResponse["end"];
  });
  await server.serve();
});

afterAll(async () => {
  await server.close(true);
});

beforeEach(() => {
  delegated = [];
  ends = 0;
});

/** Sends raw request bytes on a fresh connection and waits for `count` responses. */
async function exchange(bytes: string, count = 1): Promise<RawResponse[]> {
  const connection = rawConnection({ url: server.url as string } as never);
  connection.socket.write(bytes);
  try {
    return await connection.responsesBy(count);
  } finally {
    connection.socket.destroy();
  }
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

describe("serve()'s request listener on Node (src/node/listener.ts)", () => {
  it("answers origin-form requests itself with srvx's request, synchronous and asynchronous answers alike", async () => {
    const [sync] = await exchange(get("/a?b=1"));
    expect(sync).toMatchObject({
      status: 200,
      body: "sync http://127.0.0.1/a?b=1 GET",
    });
    const [later] = await exchange(get("/async"));
    expect(later?.body).toBe("async http://127.0.0.1/async");
    expect(delegated).toEqual([]);
  });

  it("does not send an answer the fetch already sent: one end(), the body that went out first", async () => {
    const responses = await exchange(get("/sent"));
    expect(responses).toMatchObject([{ status: 200, body: "sent" }]);
    // Let a second pass (srvx's listener would make one) show itself.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ends).toBe(1);
    expect(delegated).toEqual([]);
  });

  it("fails as srvx does: a thrown or rejected fetch is a bare 500", async () => {
    for (const path of ["/throw", "/reject"]) {
      const [failed] = await exchange(get(path));
      expect(failed).toMatchObject({ status: 500, body: "" });
    }
  });

  it("hands absolute-form, asterisk-form and invalid targets to srvx's own listener", async () => {
    const [absolute] = await exchange(get("http://other.example/x?y"));
    expect(absolute).toMatchObject({ status: 200, body: "sync http://other.example/x?y GET" });
    const [asterisk] = await exchange("OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(asterisk?.status).toBe(200);
    // Refused with 400 by srvx (or by Node's parser before any listener runs).
    const [invalid] = await exchange(get("mailto:someone"));
    expect(invalid?.status).toBe(400);
    expect(delegated.slice(0, 2)).toEqual(["http://other.example/x?y", "*"]);
  });

  it("answers pipelined requests on one connection in order", async () => {
    const responses = await exchange(get("/1") + get("/async") + get("/3"), 3);
    expect(responses.map((r) => r.body.split(" ")[0])).toEqual(["sync", "async", "sync"]);
  });

  it("gives srvx's listener back on release, and only where its own is still in place", () => {
    const node = server.node as { server: HttpServer };
    const before = node.server.listeners("request");
    expect(before).not.toContain(srvxListener);
    release();
    expect(node.server.listeners("request")).toContain(srvxListener);
    release();
    expect(node.server.listeners("request").filter((l) => l === srvxListener)).toHaveLength(1);
  });
});
