import { type CommandHost, type CommandHostOptions, createCommandHost } from "../host/index.ts";
import { discardRest, FRAME_CONTENT_TYPE, splitFrameLine } from "../protocol/body.ts";
import { formatBytes, readBodyLimited } from "../protocol/bytes.ts";
import { DEFAULT_MAX_FRAME_BYTES, type ErrorBody, encodeFailure, leadingFrameId } from "../protocol/frames.ts";
import {
  createRequestVerifier,
  REQUEST_SIGNATURE_HEADER,
  type RequestRejection,
  type RequestVerifier,
} from "../request-signature.ts";
import { isBrowserRequest } from "./browser-request.ts";
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
  /**
   * Accept only requests signed with the shared secret (docs/protocol.md, "Signed HTTP
   * requests"): `true` verifies with `env.CONTAINERFLARE_SECRET`, `{ secret }` with that secret.
   * Unsigned, tampered, stale or replayed requests answer 401; requests a browser sent (an
   * `Origin` or `Sec-Fetch-*` header, which browsers always add and a page cannot remove) 403
   * even when signed; both with an error frame, before any binding is touched. Needed wherever
   * more than the container reaches the host (`containerflare dev`'s loopback port, a public
   * route). Default off: the Container class's interception is reachable from its container only.
   */
  requireSignature?: boolean | { secret: string };
  /**
   * The path it answers (default {@link COMMAND_PATH}, `/v1/commands`): a host mounted elsewhere,
   * like the public route `/__containerflare/v1/commands`. Signatures cover the path as sent.
   */
  path?: string;
  /**
   * What `host.keepalive` does for the container that sent it: renew its instance's activity and
   * resolve whether it did. `ctx` is the outbound handler's third argument (which container,
   * under `@cloudflare/containers`). Without it the host answers `{ renewed: false }`.
   */
  keepAlive?: (env: Record<string, unknown>, ctx: OutboundContext | undefined) => Promise<boolean>;
}

/**
 * Containers per env whose hosts a {@link commandHandler} with `keepAlive` keeps (least recently
 * used forgotten first: a forgotten one gets a new host, and only loses what `host.cancel` could
 * still find).
 */
const MAX_HOSTS_PER_ENV = 64;

/** An outbound handler of `@cloudflare/containers`: `(request, env, ctx)`. */
export type CommandOutboundHandler<Env = unknown> = (
  request: Request,
  env: Env,
  ctx?: OutboundContext,
) => Promise<Response>;

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
  // One host per env object (the Worker's env is the same object for every request of an
  // isolate) and, with `keepAlive`, per container: what it renews is that container's instance.
  const hosts = new WeakMap<object, Map<string, CommandHost>>();
  const { keepAlive } = options;
  const hostFor = (env: Record<string, unknown>, ctx?: OutboundContext): CommandHost => {
    const key = keepAlive ? (ctx?.containerId ?? "") : "";
    let perEnv = hosts.get(env);
    if (!perEnv) hosts.set(env, (perEnv = new Map()));
    let host = perEnv.get(key);
    if (host) {
      perEnv.delete(key);
    } else {
      host = createCommandHost({
        bindings: env,
        allow: options.allow,
        vars: pickVars(env, options.vars),
        ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
        ...(options.commands ? { commands: options.commands } : {}),
        ...(keepAlive ? { keepAlive: () => keepAlive(env, ctx) } : {}),
      });
      if (perEnv.size >= MAX_HOSTS_PER_ENV) perEnv.delete(perEnv.keys().next().value!);
    }
    perEnv.set(key, host);
    return host;
  };
  const verifierFor = signatureVerifiers(options.requireSignature);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const path = options.path ?? COMMAND_PATH;
  if (!path.startsWith("/"))
    throw new TypeError(`commandHandler(): path must start with "/", got ${JSON.stringify(path)}`);
  return async (request, env, ctx) => {
    const bindings = (env ?? {}) as Record<string, unknown>;
    if (verifierFor && isBrowserRequest(request.headers)) {
      return refusal(403, 0, {
        code: "FORBIDDEN",
        message: "the command host does not answer requests sent by a browser",
        retryable: false,
      });
    }
    const url = new URL(request.url);
    if (url.pathname !== path) {
      return Response.json(
        {
          error: {
            code: "UNKNOWN_COMMAND",
            message: `the command host answers POST ${path} only`,
            retryable: false,
          },
        },
        { status: 404 },
      );
    }
    if (!verifierFor) return hostFor(bindings, ctx).handle(request);
    if ((request.headers.get("content-type") ?? "").startsWith(FRAME_CONTENT_TYPE)) {
      // A solo exchange is signed over its frame line (which states the body's length), not its streamed bytes.
      const split = await splitFrameLine(request.body ?? new Blob([]).stream(), maxFrameBytes);
      if (!split.ok) return hostFor(bindings, ctx).handle(request, split);
      const id = leadingFrameId(split.line.slice(0, 256)) ?? 0;
      const verifier = verifierFor(bindings);
      const verdict = verifier
        ? await verifier.verify({
            method: request.method,
            path: url.pathname + url.search,
            body: split.lineBytes,
            header: request.headers.get(REQUEST_SIGNATURE_HEADER),
          })
        : ({ ok: false, reason: "unsigned" } as const);
      if (!verdict.ok) {
        discardRest(split);
        return signatureRefusal(id, verdict.reason, verifier !== undefined);
      }
      return hostFor(bindings, ctx).handle(request, split);
    }
    const read = await readBodyLimited(request, maxFrameBytes);
    if (read.tooLarge) {
      return refusal(413, 0, {
        code: "TOO_LARGE",
        message: `request frame exceeds the ${formatBytes(maxFrameBytes)} frame limit`,
        retryable: false,
      });
    }
    const body = read.bytes;
    const id = leadingFrameId(new TextDecoder().decode(body.subarray(0, 256))) ?? 0;
    const verifier = verifierFor(bindings);
    const verdict = verifier
      ? await verifier.verify({
          method: request.method,
          path: url.pathname + url.search,
          body,
          header: request.headers.get(REQUEST_SIGNATURE_HEADER),
        })
      : ({ ok: false, reason: "unsigned" } as const);
    if (!verdict.ok) return signatureRefusal(id, verdict.reason, verifier !== undefined);
    // The verified bytes are what the host reads: the body cannot change between check and use.
    const verified = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.method === "GET" || request.method === "HEAD" ? {} : { body }),
    });
    return hostFor(bindings, ctx).handle(verified);
  };
}

/**
 * The verifier to check a request against, per `env` (`true`: the secret is
 * `env.CONTAINERFLARE_SECRET`, one verifier and replay window per env object); undefined when
 * signatures are not required. A verifier of `undefined` means the env has no secret: every
 * request is refused.
 */
function signatureVerifiers(
  required: CommandHandlerOptions["requireSignature"],
): ((env: Record<string, unknown>) => RequestVerifier | undefined) | undefined {
  if (!required) return undefined;
  if (typeof required === "object") {
    const verifier = createRequestVerifier({ secret: required.secret });
    return () => verifier;
  }
  const verifiers = new WeakMap<object, RequestVerifier>();
  return (env) => {
    const secret = env.CONTAINERFLARE_SECRET;
    if (typeof secret !== "string" || secret === "") return undefined;
    let verifier = verifiers.get(env);
    if (!verifier) {
      verifier = createRequestVerifier({ secret });
      verifiers.set(env, verifier);
    }
    return verifier;
  };
}

/** A refused request: an error frame (for `id` when the body names one), never reaching a binding. */
function refusal(status: number, id: number, error: ErrorBody): Response {
  return new Response(encodeFailure(id, error), { status, headers: { "content-type": "application/json" } });
}

function signatureRefusal(id: number, reason: RequestRejection, configured: boolean): Response {
  if (reason === "replay-cache-full") {
    // Too many signed requests inside one second of the window: a later attempt is signed anew.
    return refusal(503, id, { code: "UNAVAILABLE", message: "the command host is busy; retry", retryable: true });
  }
  const message = configured
    ? `request signature refused (${reason}): sign each request with CONTAINERFLARE_SECRET, see docs/protocol.md`
    : "request signature refused: the command host has no CONTAINERFLARE_SECRET to verify it with";
  return refusal(401, id, { code: "FORBIDDEN", message, retryable: false });
}
