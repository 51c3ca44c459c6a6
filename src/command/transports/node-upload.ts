/**
 * A streamed upload over node:http, for Node only: Node's fetch (undici) reads a ReadableStream
 * request body ahead of the socket and holds it (measured: a 256 MiB body grows the process by
 * ~270 MiB on Node 20 and 24, ~32 MiB on Bun, ~74 MiB on Deno), while `pipeline` into a
 * node:http request waits for the socket. Loaded on first use: only an app that sends a streamed
 * body on Node imports node:http for it.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Kept-alive connections for uploads, a few at a time (the transport bounds its POSTs anyway). */
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 8 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 8 }),
};

/** POSTs `body` to `url` with backpressure from the socket; resolves with the answer as a fetch Response. */
export function postStream(
  url: string,
  headers: Record<string, string>,
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): Promise<Response> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  return new Promise<Response>((resolve, reject) => {
    const outgoing = (secure ? httpsRequest : httpRequest)(
      target,
      { method: "POST", headers, agent: secure ? agents.https : agents.http, signal },
      (incoming: IncomingMessage) => {
        const answerHeaders = new Headers();
        for (let index = 0; index < incoming.rawHeaders.length; index += 2)
          answerHeaders.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!);
        resolve(
          new Response(Readable.toWeb(incoming) as ReadableStream<Uint8Array>, {
            status: incoming.statusCode ?? 502,
            headers: answerHeaders,
          }),
        );
      },
    );
    outgoing.once("error", reject);
    pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>), outgoing).catch(reject);
  });
}
