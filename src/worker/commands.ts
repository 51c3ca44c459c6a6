import { createCommandHost, type CommandHost, type CommandHostOptions } from "../host/index.ts";
import type { OutboundContext } from "./types.ts";

/** The made-up host name the container sends commands to; the Container class intercepts it. */
export const COMMAND_HOSTNAME = "containerflare.internal";

/** Path of the command endpoint: `http://containerflare.internal/v1/commands`. */
export const COMMAND_PATH = "/v1/commands";

/** Options of {@link commandHandler}. */
export interface CommandHandlerOptions {
  /**
   * Bindings of the Worker's `env` the container may use (`["CACHE", "DB", "JOBS"]`, or
   * `{ CACHE: "kv" }`); every other binding answers FORBIDDEN.
   */
  allow: CommandHostOptions["allow"];
  /**
   * Values the container may read with `env.get`: names of `env` members (read from `env`), or
   * a record of values.
   */
  vars?: readonly string[] | Readonly<Record<string, unknown>>;
  /** Frame size limit in bytes (default 16 MiB). */
  maxFrameBytes?: number;
  /** Extra commands (see `containerflare/host`). */
  commands?: CommandHostOptions["commands"];
}

/** An outbound handler of `@cloudflare/containers`: `(request, env, ctx)`. */
export type CommandOutboundHandler<Env = unknown> = (request: Request, env: Env, ctx?: OutboundContext) => Promise<Response>;

function pickVars(env: Record<string, unknown>, vars: CommandHandlerOptions["vars"]): Record<string, unknown> {
  if (vars === undefined) return {};
  if (!Array.isArray(vars)) return { ...(vars as Readonly<Record<string, unknown>>) };
  const picked: Record<string, unknown> = {};
  for (const name of vars as readonly string[]) if (env[name] !== undefined) picked[name] = env[name];
  return picked;
}

/**
 * The command host over HTTP, bound to the Worker's `env`: answers `POST /v1/commands` with the
 * response frame, and 404 for any other path. Usable as an outbound handler of the Container
 * class (`(request, env, ctx)`), or from any fetch handler.
 *
 * ```ts
 * MyContainer.outboundByHost = { "containerflare.internal": commandHandler({ allow: ["CACHE"] }) };
 * ```
 */
export function commandHandler<Env = unknown>(options: CommandHandlerOptions): CommandOutboundHandler<Env> {
  // One host per env object: the Worker's env is the same object for every request of an isolate.
  const hosts = new WeakMap<object, CommandHost>();
  const hostFor = (env: Record<string, unknown>): CommandHost => {
    let host = hosts.get(env);
    if (!host) {
      host = createCommandHost({
        bindings: env,
        allow: options.allow,
        vars: pickVars(env, options.vars),
        ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
        ...(options.commands ? { commands: options.commands } : {}),
      });
      hosts.set(env, host);
    }
    return host;
  };
  return async (request, env) => {
    if (new URL(request.url).pathname !== COMMAND_PATH) {
      return Response.json(
        { error: { code: "UNKNOWN_COMMAND", message: `the command host answers POST ${COMMAND_PATH} only`, retryable: false } },
        { status: 404 },
      );
    }
    return hostFor((env ?? {}) as Record<string, unknown>).handle(request);
  };
}
