/**
 * The HTTP transport's requests on Node, through node:http rather than Node's fetch (undici):
 * - a streamed upload: fetch reads a ReadableStream request body ahead of the socket and holds it
 *   (measured: a 256 MiB body grows the process by ~270 MiB on Node 20 and 24), while `pipeline`
 *   into a node:http request waits for the socket;
 * - every other request: node:http does a small POST and its answer in 2.2-2.6x fewer cycles than
 *   fetch on this machine (a loop against a trivial loopback server, Node 24 and 20).
 * Bun and Deno keep their own fetch, which has neither problem. Loaded on first use.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** The part of a fetch Response the transport reads; a node:http answer provides it without one. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

/**
 * Kept-alive connections, a few more than the transport's POSTs in flight (8 by default): a
 * request beyond them waits for a free one rather than opening another.
 */
const MAX_SOCKETS = 16;
let agents: { http: HttpAgent; https: HttpsAgent } | undefined;

/** A node:http answer as a {@link HttpAnswer}: its body a Web stream only when asked for. */
class NodeAnswer implements HttpAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly #incoming: IncomingMessage;
  #body: ReadableStream<Uint8Array> | undefined;

  constructor(incoming: IncomingMessage) {
    this.#incoming = incoming;
    this.status = incoming.statusCode ?? 502;
    const fields = incoming.headers;
    this.headers = {
      get: (name) => {
        const value = fields[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    };
  }

  get body(): ReadableStream<Uint8Array> {
    this.#body ??= Readable.toWeb(this.#incoming) as ReadableStream<Uint8Array>;
    return this.#body;
  }

  text(): Promise<string> {
    const incoming = this.#incoming;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      incoming.once("error", reject);
    });
  }
}

/** POSTs `body` to `url`; a stream is sent with backpressure from the socket. */
export function nodePost(
  url: string,
  headers: Record<string, string>,
  body: string | Uint8Array | ReadableStream<Uint8Array>,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  agents ??= {
    http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
  };
  const streamed = body instanceof ReadableStream;
  const outgoingHeaders: Record<string, string | number> = { ...headers };
  if (!streamed)
    outgoingHeaders["content-length"] = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const outgoing = (secure ? httpsRequest : httpRequest)(
      target,
      { method: "POST", headers: outgoingHeaders, agent: secure ? agents!.https : agents!.http, signal },
      (incoming) => resolve(new NodeAnswer(incoming)),
    );
    outgoing.once("error", reject);
    if (streamed)
      pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>), outgoing).catch(reject);
    else outgoing.end(body);
  });
}
