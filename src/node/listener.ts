/**
 * serve()'s request listener on Node: srvx's own listener (`server.node.handler`) without its
 * second pass over an answer serve() already sent.
 *
 * srvx's listener builds its request, calls the server's fetch, then hands the answer to its Node
 * sender, which, for an answer serve() sent itself in one write (node/send.ts), reads the
 * response's parts once more, finds nothing to write and ends the response a second time:
 * 0.3 µs a request, timed inside a running server. This listener takes the HTTP/1 requests with
 * an origin-form target (what clients and proxies send to an origin server), builds srvx's own
 * request for them from srvx's own options, calls srvx's composed fetch (`server.fetch`, with
 * its middleware), and hands an answer nothing has sent yet to srvx's exported sender, as srvx's
 * listener does. Everything else (HTTP/2, an absolute-form or `*` target, which srvx validates)
 * goes to srvx's listener. Measured: containerflare + Hono 1.033x of srvx's listener (paired,
 * 21 rounds on fresh processes).
 *
 * Only srvx's public API is used (`server.node`, `server.options`, `server.fetch`,
 * `server.waitUntil`, `NodeRequest`, `sendNodeResponse`). What srvx's listener does on a failure
 * is kept as it is: an error thrown or rejected by the fetch, or by sending, ends the response
 * with a bare 500 (or destroys it once its head went out), without a line, as srvx does with
 * `silent: true`; serve()'s own parts have logged and answered every error of the app before.
 *
 * @module
 */
import type { Server as HttpServer, ServerResponse } from "node:http";
import type { Server, ServerRequest } from "srvx";
import { NodeRequest, sendNodeResponse } from "srvx/node";
import type { NodeRequestListener } from "../drain.ts";

/** srvx's answer to a failure: a bare 500, or the connection cut once the head is on the wire. */
function fail(res: ServerResponse): void {
  if (res.writableEnded) return;
  if (res.headersSent) res.destroy();
  else {
    res.statusCode = 500;
    res.statusMessage = "";
    res.end();
  }
}

/** Hands `response` to srvx's sender unless serve() already sent it. */
function sendUnlessSent(res: ServerResponse, response: Response): void {
  if (res.writableEnded) return;
  sendNodeResponse(res, response).catch(() => fail(res));
}

/**
 * The listener for `server` (see the module comment), or undefined where srvx made no node:http
 * server (HTTP/2 over TLS: srvx's listener stays).
 */
export function leanRequestListener(server: Server): NodeRequestListener | undefined {
  const node = server.node;
  if (!node?.server || !("closeIdleConnections" in node.server)) return undefined;
  const srvxListener = node.handler as NodeRequestListener;
  const { maxRequestBodySize, trustProxy } = server.options;
  return (req, res) => {
    if (req.httpVersionMajor !== 1 || req.url?.charCodeAt(0) !== 47) return srvxListener(req, res);
    const request = new NodeRequest({ req, res, maxRequestBodySize, trustProxy }) as ServerRequest;
    request.waitUntil = server.waitUntil;
    let answer: Response | Promise<Response>;
    try {
      answer = server.fetch(request) as Response | Promise<Response>;
    } catch {
      return fail(res);
    }
    if (typeof (answer as Partial<Promise<Response>> | undefined)?.then === "function") {
      (answer as Promise<Response>).then(
        (response) => sendUnlessSent(res, response),
        () => fail(res),
      );
    } else sendUnlessSent(res, answer as Response);
  };
}

/**
 * Puts `listener` in place of srvx's on srvx's node:http server; the returned function puts
 * srvx's back where ours still is.
 */
export function useRequestListener(server: Server, listener: NodeRequestListener): () => void {
  const nodeServer = server.node?.server as HttpServer;
  const srvxListener = server.node?.handler as NodeRequestListener;
  nodeServer.removeListener("request", srvxListener);
  nodeServer.on("request", listener);
  return () => {
    if (!nodeServer.listeners("request").includes(listener)) return;
    nodeServer.removeListener("request", listener);
    nodeServer.on("request", srvxListener);
  };
}
