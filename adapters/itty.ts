/**
 * itty-router on containerflare: `serve(handle(router))`. Handlers receive `(request, env, ctx)`
 * exactly as in a Cloudflare Worker: `env` holds the bindings (`env.CACHE.get(key)`) and `ctx` is
 * the containerflare context, with `waitUntil`. Works with `AutoRouter`, `Router` and `IttyRouter`:
 * a route that returns nothing answers 404 and a plain value is sent as JSON.
 *
 * ```ts
 * import { AutoRouter } from "itty-router";
 * import { serve } from "containerflare";
 * import { handle, type ContainerflareArgs } from "containerflare/itty";
 *
 * const router = AutoRouter<IRequest, ContainerflareArgs<{ CACHE: KVNamespace }>>();
 * router.get("/kv/:key", ({ params }, env) => env.CACHE.get(params.key));
 * serve(handle(router));
 * ```
 *
 * @module
 */
import { error, json, StatusError } from "itty-router";
import type { Bindings, ContainerContext, Handler, ServerRequest } from "../src/index.ts";

/** The extra arguments every handler receives: `(request, env, ctx)`, as in a Worker. */
export type ContainerflareArgs<B = Bindings> = [env: B, ctx: ContainerContext<B>];

/** Anything with itty's `fetch(request, ...args)`: `AutoRouter`, `Router` or `IttyRouter`. */
export interface IttyApp<B = Bindings> {
  fetch(request: ServerRequest, env: B, ctx: ContainerContext<B>): Promise<unknown>;
}

/** A route's result as a Response: nothing matched → 404, a plain value → JSON (AutoRouter's rules). */
function toResponse(result: unknown): Response {
  if (result instanceof Response) return result;
  if (result === undefined || result === null) return error(404);
  return json(result);
}

/** Turns an itty-router router into a containerflare handler: `serve(handle(router))`. */
export function handle<B = Bindings>(router: IttyApp<B>): Handler<B> {
  return (request, ctx) => {
    (request.context ??= {}).containerflare = ctx;
    return router.fetch(request, ctx.env, ctx).then(toResponse);
  };
}

/**
 * An AutoRouter `catch` handler that lets containerflare answer errors, as in a Worker with
 * `serve()` behind it: `AutoRouter({ catch: onError })`. itty's own `StatusError` keeps itty's
 * answer; every other error goes to `serve()`, which answers a containerflare error (a binding used
 * where no command host exists: UNAVAILABLE, 503) with its status, generic JSON body and the
 * request id, and logs anything else before answering 500. Without it itty answers every error
 * with the error's own message, which for a command error names hosts, bindings and allowlists.
 */
export function onError(cause: unknown): Response {
  if (cause instanceof StatusError) return error(cause);
  throw cause;
}

/**
 * The containerflare context of a request, for code that only has the request (helpers called
 * from a route); route handlers get the same context as their third argument.
 */
export function getContext<B = Bindings>(request: Request): ContainerContext<B> {
  const ctx = (request as ServerRequest).context?.containerflare as ContainerContext<B> | undefined;
  if (!ctx)
    throw new Error(
      "getContext(request) found no containerflare context: serve the router with serve(handle(router)) from containerflare/itty",
    );
  return ctx;
}
