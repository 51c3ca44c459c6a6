/**
 * The container's answer to an event (serve()'s events part, src/serve/events.ts, loads it on
 * the first one): the signature checked under `CONTAINERFLARE_SECRET`, the body read within
 * {@link MAX_EVENT_BODY_BYTES} and validated, the app's handler run with the Workers objects
 * (batch.ts), and the outcome sent back for the Worker to apply (protocol.ts).
 *
 * @module
 */
import * as v from "valibot";
import type { RequestContext } from "../context.ts";
import { errorResponse } from "../errors.ts";
import { firstIssue } from "../internal/issues.ts";
import { readBodyLimited } from "../protocol/bytes.ts";
import { createRequestVerifier } from "../request-signature.ts";
import { type EventsPartOptions, runEventHandler } from "../serve/events.ts";
import { recordBatch, recordController } from "./batch.ts";
import { type ContainerEvent, type EventOutcome, EventSchema } from "./protocol.ts";
import { EVENT_SIGNATURE_HEADER, MAX_EVENT_BODY_BYTES } from "./route.ts";

/** The answer to one event request. */
export type EventReceiver = (request: Request, ctx: RequestContext) => Promise<Response>;

/** Creates the receiver of one server. */
export function createEventReceiver(options: EventsPartOptions): EventReceiver {
  const { handlers, secret, logger, runner } = options;
  const verifier = secret ? createRequestVerifier({ secret }) : undefined;

  async function answer(request: Request, ctx: RequestContext): Promise<Response> {
    if (!verifier) {
      logger.warn(
        "an event arrived, but this container has no CONTAINERFLARE_SECRET to verify it: set the Worker's secret (wrangler secret put CONTAINERFLARE_SECRET)",
      );
      return errorResponse(403, {
        code: "FORBIDDEN",
        message: "events need CONTAINERFLARE_SECRET on the container",
        retryable: false,
        requestId: ctx.request.id,
      });
    }
    const read = await readBodyLimited(request, MAX_EVENT_BODY_BYTES);
    if (read.tooLarge) {
      return errorResponse(413, {
        code: "TOO_LARGE",
        message: `an event body is at most ${MAX_EVENT_BODY_BYTES} bytes`,
        retryable: false,
        requestId: ctx.request.id,
      });
    }
    const url = new URL(request.url);
    const verdict = await verifier.verify({
      method: request.method,
      path: url.pathname + url.search,
      body: read.bytes,
      header: request.headers.get(EVENT_SIGNATURE_HEADER),
    });
    if (!verdict.ok) {
      ctx.log.warn(`refused an event: its signature is ${verdict.reason}`);
      return errorResponse(401, {
        code: "FORBIDDEN",
        message: `event signature refused (${verdict.reason})`,
        retryable: false,
        requestId: ctx.request.id,
      });
    }
    const event = parseEvent(read.bytes);
    if (typeof event === "string") {
      ctx.log.warn(`refused an event: ${event}`);
      return errorResponse(400, {
        code: "INVALID_PAYLOAD",
        message: event,
        retryable: false,
        requestId: ctx.request.id,
      });
    }
    return Response.json(...(await dispatch(event, ctx)));
  }

  async function dispatch(event: ContainerEvent, ctx: RequestContext): Promise<[EventOutcome, ResponseInit]> {
    const handler = handlers[event.type];
    if (!handler) {
      ctx.log.warn(`a ${event.type} event arrived, but the app has no ${event.type} handler`);
      const error = { code: "INVALID_CONFIG", message: `the app has no ${event.type} handler` };
      return [{ v: 1, ok: false, error }, { status: 404 }];
    }
    if (event.type === "scheduled") {
      const recorded = recordController(event);
      const failure = await runHandler(ctx, () => handlers.scheduled!(recorded.controller, ctx.env, ctx));
      const outcome: EventOutcome = { v: 1, ok: !failure };
      if (recorded.noRetry()) outcome.noRetry = true;
      if (failure) outcome.error = failure;
      return [outcome, { status: failure ? 500 : 200 }];
    }
    const recorded = recordBatch(event);
    const failure = await runHandler(ctx, () => handlers.queue!(recorded.batch, ctx.env, ctx));
    const outcome: EventOutcome = { v: 1, ok: !failure, calls: recorded.calls() };
    if (failure) outcome.error = failure;
    return [outcome, { status: failure ? 500 : 200 }];
  }

  /** Runs a handler; only the kind of a failure goes back to the Worker. */
  async function runHandler(ctx: RequestContext, run: () => unknown) {
    const failed = await runEventHandler(runner, ctx, run);
    return failed ? { code: "INTERNAL", message: "the handler failed (see the container's log)" } : undefined;
  }

  return answer;
}

/** The event in a body, or a one-line reason it is not one. */
function parseEvent(bytes: Uint8Array): ContainerEvent | string {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return "an event body must be JSON";
  }
  const parsed = v.safeParse(EventSchema, json);
  if (parsed.success) return parsed.output;
  const { path, message } = firstIssue(parsed.issues);
  return `invalid event${path ? ` at ${path}` : ""}: ${message}`;
}
