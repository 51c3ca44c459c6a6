/**
 * The container's answer to a Pub/Sub push or a Cloud Scheduler request on Cloud Run (serve()'s
 * Cloud Run events part, src/serve/cloud-run-events.ts, loads it on the first one): the method
 * checked, the OIDC token verified when an audience is configured (oidc.ts, loaded then), the
 * body read within its bound and mapped (cloud-run.ts), the app's handler run with the Workers
 * objects (batch.ts) through the server's {@link EventRunner}, and the outcome turned into the
 * status Pub/Sub or Scheduler acts on.
 *
 * Every answer of ours is 2xx or 4xx, a one-line error in the JSON error shape; 5xx only says
 * "deliver again" (503 for Pub/Sub, 500 for Scheduler) after the handler asked for it or threw.
 * What went wrong stays in the log, with the request id.
 *
 * @module
 */
import type { CloudRunEventsConfig } from "../config.ts";
import type { RequestContext } from "../context.ts";
import { errorResponse } from "../errors.ts";
import { readBodyLimited } from "../protocol/bytes.ts";
import { type EventRunner, runEventHandler } from "../serve/events.ts";
import { recordBatch, recordController } from "./batch.ts";
import {
  MAX_PUBSUB_BODY_BYTES,
  MAX_SCHEDULER_BODY_BYTES,
  parsePubSubPush,
  parseSchedulerRequest,
  pubsubVerdict,
  schedulerStatus,
} from "./cloud-run.ts";
import type { OidcVerifier } from "./oidc.ts";
import type { EventHandlers } from "./types.ts";

/** Which of the two routes a request arrived on. */
export type CloudRunEventKind = "pubsub" | "scheduler";

/** Options of {@link createCloudRunReceiver}. */
export interface CloudRunReceiverOptions {
  handlers: EventHandlers;
  settings: CloudRunEventsConfig;
  /** serve()'s body limit (`0`: none): a route reads at most the lower of it and its own bound. */
  maxBodyBytes: number;
  /** Wraps each handler's run; default: runs it. */
  runner?: EventRunner | undefined;
}

/** The answer to one request on a Cloud Run event route. */
export type CloudRunReceiver = (kind: CloudRunEventKind, request: Request, ctx: RequestContext) => Promise<Response>;

/** Creates the receiver of one server (with its one key set cache when OIDC is on). */
export function createCloudRunReceiver(options: CloudRunReceiverOptions): CloudRunReceiver {
  const { handlers, settings } = options;
  const runner = options.runner;
  const audience = settings.oidcAudience;
  let verifier: Promise<OidcVerifier> | undefined;
  const verify = (authorization: string | null) =>
    (verifier ??= import("./oidc.ts").then(({ createOidcVerifier }) =>
      createOidcVerifier({ audience: audience as string, emails: settings.oidcEmails, jwksUrl: settings.oidcJwksUrl }),
    )).then((check) => check(authorization));

  return async (kind, request, ctx) => {
    if (request.method !== "POST") {
      return refuse(405, "INVALID_PAYLOAD", `a ${routeName(kind)} request must be a POST`, ctx, { allow: "POST" });
    }
    if (audience !== undefined) {
      const verdict = await verify(request.headers.get("authorization"));
      if (!verdict.ok) {
        ctx.log.warn(`refused a ${routeName(kind)} request: ${verdict.reason}`);
        return refuse(401, "FORBIDDEN", "a valid OIDC token is required", ctx, {
          "www-authenticate": 'Bearer error="invalid_token"',
        });
      }
      ctx.log.debug(`${routeName(kind)} request from ${verdict.email ?? "a token without email"}`);
    }
    const bound = kind === "pubsub" ? MAX_PUBSUB_BODY_BYTES : MAX_SCHEDULER_BODY_BYTES;
    const limit = options.maxBodyBytes > 0 ? Math.min(bound, options.maxBodyBytes) : bound;
    let bytes: Uint8Array;
    try {
      const read = await readBodyLimited(request, limit);
      if (read.tooLarge) return refuse(413, "TOO_LARGE", `a ${routeName(kind)} body is at most ${limit} bytes`, ctx);
      bytes = read.bytes;
    } catch {
      return refuse(400, "INVALID_PAYLOAD", `the ${routeName(kind)} body could not be read`, ctx);
    }
    return kind === "pubsub" ? pubsub(bytes, ctx) : scheduler(request.headers, bytes, ctx);
  };

  async function pubsub(bytes: Uint8Array, ctx: RequestContext): Promise<Response> {
    const event = parsePubSubPush(bytes);
    if (typeof event === "string") return refuse(400, "INVALID_PAYLOAD", event, ctx);
    const handler = handlers.queue;
    if (!handler) return noHandler("queue", ctx);
    const recorded = recordBatch(event);
    const failed = await runEventHandler(runner, ctx, () => handler(recorded.batch, ctx.env, ctx));
    const verdict = pubsubVerdict(recorded.calls(), failed);
    if (verdict.delaySeconds !== undefined)
      ctx.log.debug(
        `retry delaySeconds=${verdict.delaySeconds} is not honoured on Pub/Sub: the subscription's retry policy decides`,
      );
    if (!verdict.retry) return new Response(null, { status: 204 });
    return errorResponse(503, {
      code: "UNAVAILABLE",
      message: "the message will be delivered again",
      retryable: true,
      requestId: ctx.request.id,
    });
  }

  async function scheduler(headers: Headers, bytes: Uint8Array, ctx: RequestContext): Promise<Response> {
    const event = parseSchedulerRequest(headers, bytes, Date.now());
    if (typeof event === "string") return refuse(400, "INVALID_PAYLOAD", event, ctx);
    const handler = handlers.scheduled;
    if (!handler) return noHandler("scheduled", ctx);
    const recorded = recordController(event);
    const failed = await runEventHandler(runner, ctx, () => handler(recorded.controller, ctx.env, ctx));
    const status = schedulerStatus(failed, recorded.noRetry());
    if (status === 200 && failed)
      ctx.log.warn("the scheduled handler failed after noRetry(): Cloud Scheduler is told it ran");
    if (status === 200) return new Response(null, { status });
    return errorResponse(status, {
      code: "INTERNAL",
      message: "Internal Server Error",
      retryable: true,
      requestId: ctx.request.id,
    });
  }
}

function routeName(kind: CloudRunEventKind): string {
  return kind === "pubsub" ? "Pub/Sub push" : "Cloud Scheduler";
}

function noHandler(name: "queue" | "scheduled", ctx: RequestContext): Response {
  ctx.log.warn(`a ${name} event arrived, but the app has no ${name} handler`);
  return refuse(404, "NOT_FOUND", `the app has no ${name} handler`, ctx);
}

/** A 4xx in the JSON error shape (errors.ts), with the one line the client may read. */
function refuse(
  status: number,
  code: string,
  message: string,
  ctx: RequestContext,
  headers?: Record<string, string>,
): Response {
  if (status !== 401 && status !== 404) ctx.log.warn(`refused an event request: ${message}`);
  return errorResponse(status, { code, message, retryable: false, requestId: ctx.request.id }, headers);
}
