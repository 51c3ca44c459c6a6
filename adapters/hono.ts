/**
 * Hono on containerflare: `serve(handle(app))`. Handlers read the bindings from `c.env` exactly
 * as in a Cloudflare Worker (`c.env.CACHE.get(key)`), the request context from
 * `c.env.containerflare` (or `getContext(c)`), and `c.executionCtx.waitUntil` keeps work alive.
 *
 * ```ts
 * import { Hono } from "hono";
 * import { serve } from "containerflare";
 * import { handle, type ContainerflareEnv } from "containerflare/hono";
 *
 * const app = new Hono<ContainerflareEnv<{ CACHE: KVNamespace }>>();
 * app.get("/kv/:key", async (c) => c.text((await c.env.CACHE.get(c.req.param("key"))) ?? "missing"));
 * serve(handle(app));
 * ```
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ExecutionContext } from "hono";
import type { BunHttpServer, DenoServeHandlerInfo } from "srvx";
import { isContainerflareError } from "../src/errors.ts";
import type { Bindings, ContainerContext, Handler, ServerRequest } from "../src/index.ts";

/**
 * What `c.env` holds: the app's bindings, the containerflare context, and what Hono's own
 * runtime helpers read from `c.env` on the runtime the app runs on, so that `getConnInfo` from
 * `@hono/node-server/conninfo`, `hono/bun` or `hono/deno` keeps working.
 */
export type ContainerflareBindings<B = Bindings> = B & {
  /** The containerflare request context (platform, request metadata, logger, bindings, waitUntil). */
  containerflare: ContainerContext<B>;
  /** Node: the incoming request (read by `@hono/node-server`'s helpers). */
  incoming?: IncomingMessage;
  /** Node: the outgoing response (read by `@hono/node-server`'s helpers). */
  outgoing?: ServerResponse;
  /** Bun: the server (read by `hono/bun`'s `getConnInfo` and WebSocket helpers). */
  server?: BunHttpServer;
  /** Deno: the peer address (read by `hono/deno`'s `getConnInfo`). */
  remoteAddr?: DenoServeHandlerInfo["remoteAddr"];
};

/**
 * The Hono `Env` of an app served by containerflare: `new Hono<ContainerflareEnv<MyBindings>>()`.
 * `V` types the app's own `c.get`/`c.set` variables.
 */
export type ContainerflareEnv<B = Bindings, V extends object = object> = {
  Bindings: ContainerflareBindings<B>;
  Variables: V;
};

/** Anything with Hono's `fetch(request, env, executionCtx)`: a `Hono` app or a sub-app. */
export interface HonoApp {
  fetch(request: Request, env: object, executionCtx: ExecutionContext): Response | Promise<Response>;
}

const NO_PROPS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Hono's `c.executionCtx`, backed by the containerflare context. */
class ContainerExecutionContext implements ExecutionContext {
  readonly #ctx: ContainerContext<unknown>;

  constructor(ctx: ContainerContext<unknown>) {
    this.#ctx = ctx;
  }

  /** Workers entrypoint props: a container has none. */
  get props(): Readonly<Record<string, unknown>> {
    return NO_PROPS;
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#ctx.waitUntil(promise);
  }

  /** Does nothing: no origin stands behind the container to fall through to. Kept for Worker code. */
  passThroughOnException(): void {}
}

/** The class of `c.env` objects for one bindings object: `new HonoEnv(request, ctx)`. */
type HonoEnvClass = new (request: ServerRequest, ctx: ContainerContext<object>) => ContainerflareBindings<object>;

/**
 * Builds the class of `c.env` for `bindings`, which sit in its prototype chain, so nothing is
 * copied per request. Class fields are defined, not assigned, so they become own properties
 * although the bindings refuse writes; and they are always all present (undefined where they
 * do not apply) because the bindings answer an unknown name with NO_BINDING and Hono's helpers
 * probe these names.
 */
function honoEnvClass(bindings: object): HonoEnvClass {
  class HonoEnv {
    containerflare: ContainerContext<object>;
    incoming: IncomingMessage | undefined;
    outgoing: ServerResponse | undefined;
    server: BunHttpServer | undefined;
    remoteAddr: DenoServeHandlerInfo["remoteAddr"] | undefined;

    constructor(request: ServerRequest, ctx: ContainerContext<object>) {
      const runtime = request.runtime;
      this.containerflare = ctx;
      this.incoming = runtime?.node?.req as IncomingMessage | undefined;
      this.outgoing = runtime?.node?.res as ServerResponse | undefined;
      this.server = runtime?.bun?.server;
      this.remoteAddr = runtime?.deno?.info.remoteAddr;
    }
  }
  Object.setPrototypeOf(HonoEnv.prototype, bindings);
  return HonoEnv as HonoEnvClass;
}

/**
 * Turns a Hono app into a containerflare handler: `serve(handle(app))`.
 * Hono's responses stay fast on Node because `serve()` installs containerflare's fast `Response` (docs/fast-path.md).
 */
export function handle<B = Bindings>(app: HonoApp): Handler<B> {
  let bindings: object | undefined;
  let HonoEnv: HonoEnvClass | undefined;
  return (request, ctx) => {
    const env = ctx.env as object;
    if (env !== bindings || !HonoEnv) {
      bindings = env;
      HonoEnv = honoEnvClass(env);
    }
    return app.fetch(
      request,
      new HonoEnv(request, ctx as ContainerContext<object>),
      new ContainerExecutionContext(ctx),
    );
  };
}

/**
 * A Hono error handler that lets containerflare answer: `app.onError(onError)`. Hono's
 * `HTTPException` (anything with `getResponse()`) keeps its response; every other error goes to
 * `serve()`, which answers a containerflare error (e.g. a binding used where no command host
 * exists: UNAVAILABLE, 503) with its status and JSON body, and logs anything else with the
 * request id before answering 500. Without it Hono answers every error with a plain-text 500.
 */
export function onError(error: Error): Response {
  if (!isContainerflareError(error) && "getResponse" in error && typeof error.getResponse === "function") {
    return error.getResponse() as Response;
  }
  throw error;
}

/**
 * The containerflare context of a Hono request, typed with the app's bindings:
 * `getContext(c).request.clientIp`. Accepts any variables, path and input; only `c.env` is read.
 */
// biome-ignore lint/suspicious/noExplicitAny: Hono's own "any route" generics: variables, path and input are never read.
export function getContext<B = Bindings>(c: Context<ContainerflareEnv<B, any>, any, any>): ContainerContext<B> {
  const ctx = (c.env as Partial<ContainerflareBindings<B>> | undefined)?.containerflare;
  if (!ctx)
    throw new Error(
      "getContext(c) found no containerflare context in c.env: serve the app with serve(handle(app)) from containerflare/hono",
    );
  return ctx;
}
