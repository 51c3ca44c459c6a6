/**
 * The access-log part: one line per request through the request's logger, so it carries the
 * request's id and trace; the line's format lives in log.ts ({@link accessLogEntry}). On Node
 * the line is written once the response is closed and records what was sent: the status on the
 * wire (srvx's own 500 included) and whether the response was complete. Elsewhere the runtime
 * sends what the checked answer says.
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import type { ServerRequest } from "srvx";
import type { ContainerContext } from "../context.ts";
import { accessLogEntry } from "../log.ts";
import type { Part } from "./parts.ts";

function logSent(request: ServerRequest, ctx: ContainerContext, started: number, status: number, complete: boolean) {
  ctx.log.info(
    accessLogEntry({
      method: request.method,
      path: ctx.request.path,
      url: ctx.request.url,
      status,
      latencyMs: performance.now() - started,
      complete,
      userAgent: request.headers.get("user-agent") ?? undefined,
      remoteIp: ctx.request.clientIp,
    }),
  );
}

/** Writes one access line: the request, what was sent (status, complete) and how long it took since `started`. */
export type AccessLogWriter = typeof logSent;

/**
 * The writer of access lines when the access log is on (`CONTAINERFLARE_ACCESS_LOG`, or pretty
 * logs); undefined when off. `enabled` may still be a promise (Bun's terminal check is
 * asynchronous, and the server does not wait for it to listen): a line written before it settles
 * is written once it has, if the log is on.
 */
export function accessLogWriter(enabled: boolean | Promise<boolean>): AccessLogWriter | undefined {
  if (enabled === false) return undefined;
  if (enabled === true) return logSent;
  return (...args) => {
    void enabled.then((on) => on && logSent(...args));
  };
}

/**
 * The part when the access log is on; undefined when off. serve() composes the parts again once
 * a pending `enabled` has settled, without this part when the log is off.
 */
export function accessLogPart(enabled: boolean | Promise<boolean>): Part | undefined {
  const log = accessLogWriter(enabled);
  if (!log) return undefined;
  return async (request, ctx, next) => {
    const started = performance.now();
    const response = await next(request, ctx);
    const nodeResponse = request.runtime?.node?.res as ServerResponse | undefined;
    if (!nodeResponse) log(request, ctx, started, response.status, true);
    else if (nodeResponse.closed) log(request, ctx, started, nodeResponse.statusCode, nodeResponse.writableFinished);
    else
      nodeResponse.once("close", () =>
        log(request, ctx, started, nodeResponse.statusCode, nodeResponse.writableFinished),
      );
    return response;
  };
}
