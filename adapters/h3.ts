/**
 * H3 on containerflare: `serve(handle(app))`. Handlers find the request context at
 * `event.context.containerflare` (H3 v2 shares srvx's `request.context`) or through
 * `getContext(event)`, and reach the bindings as `getContext(event).env.CACHE.get(key)`.
 *
 * ```ts
 * import { H3 } from "h3";
 * import { serve } from "containerflare";
 * import { getContext, handle } from "containerflare/h3";
 *
 * const app = new H3().get("/", (event) => getContext(event).request);
 * serve(handle(app));
 * ```
 *
 * WebSockets: H3's own `defineWebSocketHandler(hooks)` on a route, with
 * `serve(handle(app), { websocket: true })`; each hook also gets the context as its last argument,
 * and `getContext(peer)` finds it from a peer.
 *
 * @module
 */
import type { Peer } from "crossws";
import type { H3Event, HTTPError, HTTPEvent } from "h3";
import { isContainerflareError } from "../src/errors.ts";
import type { Bindings, ContainerContext, Handler, ServerRequest } from "../src/index.ts";

declare module "h3" {
  interface H3EventContext {
    /** The containerflare request context, set by `handle(app)` from `containerflare/h3`. */
    containerflare: ContainerContext;
  }
}

/** Anything with H3's `fetch(request)`: an `H3` app or a sub-app. */
export interface H3App {
  fetch(request: ServerRequest): Response | Promise<Response>;
}

/** Turns an H3 app into a containerflare handler: `serve(handle(app))`. */
export function handle<B = Bindings>(app: H3App): Handler<B> {
  return (request, ctx) => {
    (request.context ??= {}).containerflare = ctx;
    return app.fetch(request);
  };
}

/**
 * The containerflare context of an H3 event, or of a WebSocket peer in a hook of
 * `defineWebSocketHandler` (the upgrade request's context), typed with the app's bindings `B`.
 */
export function getContext<B = Bindings>(event: HTTPEvent | Peer): ContainerContext<B> {
  const context = "req" in event ? ((event as Partial<H3Event>).context ?? event.req.context) : event.context;
  const ctx = context?.containerflare as ContainerContext<B> | undefined;
  if (!ctx)
    throw new Error(
      "getContext(event) found no containerflare context: serve the app with serve(handle(app)) from containerflare/h3",
    );
  return ctx;
}

/**
 * An H3 `onError` hook that answers containerflare errors (a binding used where no command host
 * exists answers `UNAVAILABLE`, 503) with their status and JSON body, where H3 would hide the
 * message of any error that is not an `HTTPError`: `new H3({ onError })`.
 */
export function onError(error: HTTPError, event: H3Event): Response | undefined {
  const cause = error.cause;
  // INTERNAL texts stay in the logs, as serve() keeps them: H3's own 500 answers those.
  if (!isContainerflareError(cause) || cause.code === "INTERNAL") return undefined;
  return cause.toResponse({ requestId: event.context.containerflare?.request.id });
}
