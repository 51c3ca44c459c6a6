/**
 * The events part: a Cron Trigger or a queue batch the Worker forwards (src/worker/events.ts)
 * reaches the app's `scheduled` or `queue` handler (src/events/receive.ts, loaded on the first
 * event).
 *
 * Only `POST /__containerflare/v1/events` that carries the event signature header is an event;
 * any other request (that path without the header included) goes on to the app, so the route
 * shadows nothing. The part is there only when the app has a handler, so an app without one pays
 * nothing per request, and one with a handler pays a method compare per request.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import { type RequestContext, requestPath } from "../context.ts";
import { EVENT_SIGNATURE_HEADER, EVENTS_PATH } from "../events/route.ts";
import type { EventHandlers } from "../events/types.ts";
import type { Part } from "./parts.ts";

/** Runs an event handler: serve() tracks it for the keep-alive (the console context is the request's already). */
export type EventRunner = (ctx: RequestContext, run: () => Promise<unknown>) => Promise<unknown>;

/**
 * Runs an app's event handler through `runner`: resolves with whether it threw. What it threw is
 * logged with the request id and stays in the container: the answer says only that it failed.
 */
export async function runEventHandler(
  runner: EventRunner | undefined,
  ctx: RequestContext,
  run: () => unknown,
): Promise<boolean> {
  try {
    await (runner ? runner(ctx, async () => run()) : run());
    return false;
  } catch (error) {
    ctx.log.error(error);
    return true;
  }
}

/** Options of {@link eventsPart}. */
export interface EventsPartOptions {
  handlers: EventHandlers;
  /** `CONTAINERFLARE_SECRET`: an event is accepted only when signed with it. */
  secret: string | undefined;
  logger: ConsolaInstance;
  /** Wraps each handler's run; default: runs it. */
  runner?: EventRunner | undefined;
}

/** The handlers an app object carries beside `fetch`, bound to it (as a Worker's are called). */
export function eventHandlersOf(app: unknown): EventHandlers {
  if (typeof app !== "object" || app === null) return {};
  const { scheduled, queue } = app as Record<string, unknown>;
  const handlers: EventHandlers = {};
  if (typeof scheduled === "function") handlers.scheduled = scheduled.bind(app) as EventHandlers["scheduled"];
  else if (scheduled !== undefined && scheduled !== null)
    throw new TypeError(`the app's scheduled must be a function, got ${typeof scheduled}`);
  if (typeof queue === "function") handlers.queue = queue.bind(app) as EventHandlers["queue"];
  else if (queue !== undefined && queue !== null)
    throw new TypeError(`the app's queue must be a function, got ${typeof queue}`);
  return handlers;
}

/** Whether a request is the Worker's event: the cheap checks first. */
export function isEventRequest(request: Request): boolean {
  return (
    request.method === "POST" &&
    requestPath(request as never) === EVENTS_PATH &&
    request.headers.has(EVENT_SIGNATURE_HEADER)
  );
}

/** The part, or `undefined` when the app has no event handler. */
export function eventsPart(options: EventsPartOptions): Part | undefined {
  if (!options.handlers.scheduled && !options.handlers.queue) return undefined;
  let receiver: Promise<(request: Request, ctx: RequestContext) => Promise<Response>> | undefined;
  const receive = (request: Request, ctx: RequestContext) =>
    (receiver ??= import("../events/receive.ts").then(({ createEventReceiver }) => createEventReceiver(options))).then(
      (answer) => answer(request, ctx),
    );
  return (request, ctx, next) => (isEventRequest(request) ? receive(request, ctx) : next(request, ctx));
}
