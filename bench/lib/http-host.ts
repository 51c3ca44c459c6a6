/**
 * HTTP servers on loopback for the command-bus benchmark:
 *
 * - {@link serveCommandHost}: a command host (`createCommandHost`) behind node:http, passed
 *   through faithfully: every request header, the method, the body as a stream, and the
 *   response's status, headers and body streamed back chunk by chunk (flushed as the host
 *   produces them), so that HTTP v2's negotiation, batches answered in completion order and
 *   solo exchanges work as they do behind the Worker.
 * - {@link serveTrivial}: the bare-`fetch()` baseline's server: answers every POST with a fixed
 *   JSON body of the size of a `kv.get` answer, doing nothing else.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { CommandHost } from "containerflare/host";

/** A listening loopback server. */
export interface LoopbackServer {
  url: string;
  /** Requests answered so far. */
  served(): number;
  close(): Promise<void>;
}

async function listen(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  path: string,
  served: () => number,
): Promise<LoopbackServer> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Whole-body content types: read before the host sees them (bounded by the client's frame limit). */
const BUFFERED_TYPES = /^application\/(json|x-ndjson)\b/;

function headersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    headers.append(request.rawHeaders[i]!, request.rawHeaders[i + 1]!);
  }
  return headers;
}

/** Serves `host.handle` on `http://127.0.0.1:<port>/v1/commands`. */
export function serveCommandHost(host: CommandHost): Promise<LoopbackServer> {
  let served = 0;
  const answer = async (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const aborted = new AbortController();
    outgoing.once("close", () => {
      if (!outgoing.writableFinished) aborted.abort();
    });
    const headers = headersOf(incoming);
    let body: Uint8Array | ReadableStream<Uint8Array> | null = null;
    if (incoming.method !== "GET" && incoming.method !== "HEAD") {
      if (BUFFERED_TYPES.test(headers.get("content-type") ?? "")) {
        const chunks: Buffer[] = [];
        for await (const chunk of incoming) chunks.push(chunk as Buffer);
        body = Buffer.concat(chunks);
      } else {
        body = Readable.toWeb(incoming) as ReadableStream<Uint8Array>;
      }
    }
    const request = new Request(`http://127.0.0.1${incoming.url ?? "/"}`, {
      method: incoming.method ?? "POST",
      headers,
      body,
      signal: aborted.signal,
      // Node's fetch needs `duplex` for a stream body.
      duplex: "half",
    } as RequestInit);
    const response = await host.handle(request);
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    outgoing.writeHead(response.status, responseHeaders);
    served++;
    if (!response.body) {
      outgoing.end();
      return;
    }
    const reader = response.body.getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!outgoing.write(value)) await once(outgoing, "drain", { signal: aborted.signal });
      }
      outgoing.end();
    } catch {
      await reader.cancel().catch(() => {});
      outgoing.destroy();
    }
  };
  return listen(
    (incoming, outgoing) =>
      void answer(incoming, outgoing).catch((error: unknown) => {
        if (!outgoing.headersSent) outgoing.writeHead(500, { "content-type": "text/plain" });
        outgoing.end(String(error));
      }),
    "/v1/commands",
    () => served,
  );
}

/** Serves `answer` (JSON) to every request on `http://127.0.0.1:<port>/`, after reading its body. */
export function serveTrivial(answer: string): Promise<LoopbackServer> {
  let served = 0;
  const bytes = Buffer.from(answer);
  const headers = { "content-type": "application/json", "content-length": String(bytes.byteLength) };
  return listen(
    (incoming, outgoing) => {
      incoming.on("data", () => {});
      incoming.on("end", () => {
        served++;
        outgoing.writeHead(200, headers);
        outgoing.end(bytes);
      });
    },
    "/",
    () => served,
  );
}
