/**
 * The Worker's public command route: the command host of {@link commandHandler} on
 * `POST /__containerflare/v1/commands` of the Worker's own URL, so that an app that is not the
 * Worker's container (on Cloud Run, on any host) reaches the same bindings. Opt-in, and signed
 * only: every request must carry `x-containerflare-signature` made with `CONTAINERFLARE_SECRET`
 * (docs/protocol.md, "Signed HTTP requests"). The checks are commandHandler's own
 * (`requireSignature`), not a second copy: this module only mounts it at the route.
 *
 * @module
 */
import { type ErrorBody, encodeFailure } from "../protocol/frames.ts";
import type { CommandHandlerOptions, CommandOutboundHandler } from "./commands.ts";
import { commandHandler } from "./commands.ts";
import type { ContainerflareWorkerEnv } from "./types.ts";

/** Path of the public command route on the Worker: `https://<worker>/__containerflare/v1/commands`. */
export const REMOTE_COMMAND_PATH = "/__containerflare/v1/commands";

/** Options of {@link remoteCommandRoute}: commandHandler's, except that signatures are always required. */
export interface RemoteCommandRouteOptions extends Omit<CommandHandlerOptions, "requireSignature" | "path"> {
  /**
   * Bindings of the Worker's `env` that remote apps may use (`["CACHE", "DB", "JOBS"]`, or
   * `{ CACHE: "kv" }`); every other binding answers FORBIDDEN. The same rule as the container's
   * allowlist, and no default: list what a holder of the secret may touch.
   */
  allow: CommandHandlerOptions["allow"];
  /**
   * The secret requests must be signed with. Default: `env.CONTAINERFLARE_SECRET` (a Worker
   * secret: `wrangler secret put CONTAINERFLARE_SECRET`), the one the container shares. A
   * function reads another one from `env`, so that remote apps hold a key of their own, which
   * lends them the bindings but cannot sign metadata headers for the container:
   * `secret: (env) => env.REMOTE_COMMANDS_SECRET` (the remote app still calls it
   * `CONTAINERFLARE_SECRET`). Without a secret every request answers 401: the route never runs
   * unsigned.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the Worker's env as each Worker types it; checked to be a string.
  secret?: string | ((env: Record<string, any>) => string | undefined);
  /**
   * Answer plain `http://` requests from hosts other than loopback. Default false: a request
   * seen in clear could be replayed to another isolate within the signature's 300 s (replays are
   * refused per isolate), so off loopback the route answers `https://` only (403 otherwise).
   * `containerflare dev` turns it on: it serves plain HTTP by nature.
   */
  allowPlainHttp?: boolean;
}

/**
 * The route as a function: the command host's answer for a request to
 * {@link REMOTE_COMMAND_PATH}, `undefined` for any other path (so a Worker's own routing goes on).
 * `fetch` is the same as a whole Worker's fetch handler: 404 for other paths.
 */
export interface RemoteCommandRoute {
  (request: Request, env: object): Promise<Response | undefined>;
  /** A fetch handler for a Worker that only serves the route: `export default { fetch: route.fetch }`. */
  fetch(request: Request, env: object): Promise<Response>;
  /** The path it answers. */
  readonly path: string;
}

/** Host names of loopback (URL `hostname`s: IPv6 in brackets). */
const LOOPBACK_HOST = /^(?:localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/;

/** An error frame answer, as commandHandler's refusals are (`id` 0: the body was not read). */
function refusal(status: number, error: ErrorBody): Response {
  return new Response(encodeFailure(0, error), { status, headers: { "content-type": "application/json" } });
}

function notHere(path: string): Response {
  return Response.json(
    { error: { code: "NOT_FOUND", message: `this Worker answers POST ${path} only`, retryable: false } },
    { status: 404 },
  );
}

/**
 * The public command route, for a Worker whose bindings an app outside Cloudflare uses (Cloud
 * Run, any host): that app sets `CF_CMD_ENDPOINT=https://<worker>/__containerflare/v1/commands`
 * and `CONTAINERFLARE_SECRET`, and its `ctx.env.CACHE.get(…)` reads the Worker's KV.
 *
 * Each request is answered by the command host with signatures required: unsigned, tampered
 * (method, path or body), stale (more than 300 s from the Worker's clock), replayed or wrongly
 * keyed requests get 401, requests a browser sent (`Origin`, `Sec-Fetch-*`) 403, before any
 * binding is touched; the allowlist applies as for the container. Replays are refused per isolate
 * (a bounded cache of the signatures seen within the window).
 *
 * In a hand-written Worker, ask the route first:
 *
 * ```ts
 * import { forward, remoteCommandRoute } from "containerflare/worker";
 * import { getContainer } from "@cloudflare/containers";
 *
 * const remote = remoteCommandRoute({ allow: ["CACHE", "DB", "JOBS", "FILES"] });
 * export default {
 *   async fetch(request, env) {
 *     return (await remote(request, env)) ?? forward(request, getContainer(env.APP), env);
 *   },
 * };
 * ```
 *
 * `forwardTo("APP", { remoteCommands: { allow: [...] } })` does the same; a Worker that only
 * lends its bindings (no container) is `export default { fetch: remoteCommandRoute({ allow }).fetch }`.
 */
export function remoteCommandRoute(options: RemoteCommandRouteOptions): RemoteCommandRoute {
  if (!options || options.allow === undefined) {
    throw new TypeError(
      'remoteCommandRoute(): options.allow must list the bindings remote apps may use, e.g. { allow: ["CACHE"] }',
    );
  }
  const { secret, allowPlainHttp = false, ...hostOptions } = options;
  if (secret === "") throw new TypeError("remoteCommandRoute(): options.secret must not be empty");
  // commandHandler mounted at the route: signatures cover the path as the client sent it.
  const mount = (requireSignature: CommandHandlerOptions["requireSignature"]) =>
    commandHandler<ContainerflareWorkerEnv>({ ...hostOptions, requireSignature, path: REMOTE_COMMAND_PATH });
  const handlerFor = routeHandlers(secret, mount);
  const route = async (request: Request, env: object): Promise<Response | undefined> => {
    // The substring test first: the Worker's other requests pay no URL parse for the route.
    if (!request.url.includes(REMOTE_COMMAND_PATH)) return undefined;
    const url = new URL(request.url);
    if (url.pathname !== REMOTE_COMMAND_PATH) return undefined;
    if (url.protocol === "http:" && !allowPlainHttp && !LOOPBACK_HOST.test(url.hostname)) {
      return refusal(403, {
        code: "FORBIDDEN",
        message: `the command route answers https:// only: set CF_CMD_ENDPOINT=https://${url.host}${REMOTE_COMMAND_PATH}`,
        retryable: false,
      });
    }
    const handler = handlerFor(env as Record<string, unknown>);
    if (!handler) {
      return refusal(401, {
        code: "FORBIDDEN",
        message: "request signature refused: the command route has no secret to verify it with",
        retryable: false,
      });
    }
    return handler(request, env as ContainerflareWorkerEnv);
  };
  return Object.assign(route, {
    path: REMOTE_COMMAND_PATH,
    fetch: async (request: Request, env: object) => (await route(request, env)) ?? notHere(REMOTE_COMMAND_PATH),
  });
}

/**
 * The mounted command host for an `env`: one for the static secret (or `env.CONTAINERFLARE_SECRET`,
 * which commandHandler reads itself), or one per secret a `secret` function reads from an env
 * object; undefined when that function finds none.
 */
function routeHandlers(
  secret: RemoteCommandRouteOptions["secret"],
  mount: (
    requireSignature: CommandHandlerOptions["requireSignature"],
  ) => CommandOutboundHandler<ContainerflareWorkerEnv>,
): (env: Record<string, unknown>) => CommandOutboundHandler<ContainerflareWorkerEnv> | undefined {
  if (typeof secret !== "function") {
    const handler = mount(secret === undefined ? true : { secret });
    return () => handler;
  }
  // The Worker's env is the same object for every request of an isolate: one host per env and secret.
  const handlers = new WeakMap<object, { secret: string; handler: CommandOutboundHandler<ContainerflareWorkerEnv> }>();
  return (env) => {
    const value = secret(env);
    if (typeof value !== "string" || value === "") return undefined;
    let entry = handlers.get(env);
    if (entry?.secret !== value) {
      entry = { secret: value, handler: mount({ secret: value }) };
      handlers.set(env, entry);
    }
    return entry.handler;
  };
}
