import type { ServerResponse } from "node:http";
import type { ConsolaInstance } from "consola";
import { type Server, type ServerOptions, type ServerRequest, serve as serveHttp } from "srvx";
import { limitBodyStream } from "srvx/body-limit";
import {
  type Bindings,
  type CommandClient,
  createBindings,
  createCommandClient,
  loadBindings,
} from "./command/index.ts";
import {
  type CommandEndpoint,
  ConfigError,
  type EnvSource,
  processEnv,
  type RuntimeConfig,
  resolveConfig,
} from "./config.ts";
import { type ContainerContext, type ContextState, RequestContext } from "./context.ts";
import { createConnectionDrain } from "./drain.ts";
import { ContainerflareError, isContainerflareError } from "./errors.ts";
import { createLogger, resolveLogFormat } from "./log.ts";
import {
  type ContainerflareMetadata,
  createMetadataVerifier,
  METADATA_HEADER,
  type MetadataVerifier,
  SIGNATURE_HEADER,
} from "./metadata.ts";
import { FastResponse } from "./node/response.ts";
import { reportStreamFailure, sendUnstreamed, unsendableReason } from "./node/send.ts";
import { detectPlatform, enrichCloudRunInfo, type PlatformInfo, resolveCommandEndpoint } from "./platform.ts";

/** A fetch handler that also receives the {@link ContainerContext}. */
export type Handler<Env = Bindings> = (
  request: ServerRequest,
  ctx: ContainerContext<Env>,
) => Response | Promise<Response>;

/** What `serve()` accepts: a handler, or an object with a `fetch` handler (Hono, H3, itty apps). */
export type App<Env = Bindings> = Handler<Env> | { fetch: Handler<Env> };

/** Work to run once on shutdown, after in-flight requests and `waitUntil` work have finished. */
export type ShutdownHook = () => unknown | Promise<unknown>;

/** Options of {@link serve}. Anything not given comes from the environment contract. */
export interface ServeOptions {
  /** Bind port; wins over `PORT` and `CF_CONTAINER_PORT`. */
  port?: number;
  /** Bind address; wins over `CF_CONTAINER_ADDR`. */
  hostname?: string;
  /** Environment to read instead of `process.env`. */
  env?: EnvSource;
  /** Configuration values that win over the environment. */
  config?: Partial<RuntimeConfig>;
  /** Hooks run on shutdown, in order, before the command client closes. */
  onShutdown?: ShutdownHook | ShutdownHook[];
  /**
   * Whether serve() owns the process (default true): it handles SIGTERM/SIGINT, exits 0 after a
   * graceful shutdown, and exits 1 with one line on a bad environment or a port it cannot bind.
   * With false it throws instead and leaves signals alone (for embedding and tests).
   */
  manageProcess?: boolean;
  /** Logger to use instead of the one built from the environment. */
  logger?: ConsolaInstance;
  /**
   * On Node, install containerflare's fast `Response` as the global `Response` while the server
   * runs, so that responses built by the app (or by Hono) skip the Web-stream round trip; it keeps
   * the native Response's behaviour (see docs/fast-path.md). Default true; no effect on Bun and Deno.
   */
  fastResponse?: boolean;
  /**
   * Largest request body in bytes; wins over `CONTAINERFLARE_MAX_BODY_SIZE` (default 32 MiB, `0`:
   * no limit). A declared `Content-Length` above it is answered 413 before the handler runs; a
   * chunked body fails with `TOO_LARGE` (413) when it is read past the limit.
   */
  maxRequestBodySize?: number;
  /** Extra srvx options (e.g. `node`, `bun`, `deno`). */
  srvx?: Omit<Partial<ServerOptions>, "fetch" | "port" | "hostname">;
}

/** The running server. */
export interface ContainerServer {
  /** Listening URL once bound. */
  readonly url?: string;
  /** The platform detected at start-up. */
  readonly platform: PlatformInfo;
  /** The validated configuration. */
  readonly config: RuntimeConfig;
  /** The process logger. */
  readonly logger: ConsolaInstance;
  /** Resolves once the server listens. */
  ready(): Promise<this>;
  /**
   * Stops accepting connections, waits for in-flight requests and `waitUntil` work, runs the
   * shutdown hooks and closes the command client. `force` drops open connections at once.
   */
  close(force?: boolean): Promise<void>;
}

const isNode = !("Bun" in globalThis) && !("Deno" in globalThis);
let fastResponseUsers = 0;
let nativeResponse: typeof Response | undefined;

function useFastResponse(): () => void {
  if (!isNode) return () => {};
  if (fastResponseUsers++ === 0) {
    nativeResponse = globalThis.Response;
    globalThis.Response = FastResponse;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--fastResponseUsers === 0 && nativeResponse) {
      if (globalThis.Response === FastResponse) globalThis.Response = nativeResponse;
      nativeResponse = undefined;
    }
  };
}

/** Wraps `report` so that it runs at most once a minute: a warning under load must not flood the log. */
function onceAMinute<T>(report: (value: T) => void): (value: T) => void {
  let last = -Infinity;
  return (value) => {
    const now = Date.now();
    if (now - last < 60_000) return;
    last = now;
    report(value);
  };
}

function exitWith(code: number, line?: string): never {
  if (line) process.stderr.write(`containerflare: ${line}\n`);
  process.exit(code);
}

function internalError(ctx: ContainerContext): Response {
  return new ContainerflareError("INTERNAL", "Internal Server Error").toResponse({ requestId: ctx.request.id });
}

/** srvx's error for a body read past `maxRequestBodySize` (matched by code: bundles may hold a second copy). */
function isBodyTooLarge(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === "ERR_BODY_TOO_LARGE";
}

/**
 * The answer to an error the handler threw. Clients read the code's generic text and the request id
 * (see ContainerflareError.publicMessage); the log keeps the detail: at warn for 5xx, debug for 4xx,
 * and with the stack for INTERNAL and anything that is not a containerflare error.
 */
function errorResponse(error: unknown, ctx: ContainerContext): Response {
  const known = isBodyTooLarge(error) ? new ContainerflareError("TOO_LARGE", error.message) : error;
  if (isContainerflareError(known) && known.code !== "INTERNAL") {
    ctx.log[known.status >= 500 ? "warn" : "debug"](`${known.code}: ${known.message}`);
    return known.toResponse({ requestId: ctx.request.id });
  }
  ctx.log.error(error);
  return internalError(ctx);
}

/**
 * Applies the body limit (`limit` > 0) to a request that may carry a body (not GET or HEAD): a
 * TOO_LARGE error for a declared length above it, else the request, its body stream limited here
 * where serve() limits bodies itself.
 */
function limitBody(request: ServerRequest, limit: number): ServerRequest | ContainerflareError {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    return new ContainerflareError("TOO_LARGE", `request body of ${declared} bytes exceeds the ${limit}-byte limit`);
  }
  return limitsBodiesItself && request.body ? withLimitedBody(request, limit) : request;
}

/**
 * The handler's response if it can be sent; else the error is logged with the request id and the
 * client gets the JSON 500 (see node/send.ts for what cannot be sent, and why on every runtime).
 * On Node a fast response with a string or bytes body is sent right here (one write, see
 * sendUnstreamed), and a streamed body that fails after its head went out is logged.
 */
function checkResponse(response: unknown, ctx: ContainerContext, request: ServerRequest): Response {
  if (!(response instanceof Response)) {
    ctx.log.error(
      new TypeError(`the handler returned ${response === null ? "null" : typeof response}, expected a Response`),
    );
    return internalError(ctx);
  }
  const nodeResponse = request.runtime?.node?.res as ServerResponse | undefined;
  const problem = unsendableReason(response, nodeResponse !== undefined);
  if (problem !== undefined) {
    ctx.log.error(new TypeError(`the handler returned a response that cannot be sent: ${problem}`));
    return internalError(ctx);
  }
  if (nodeResponse) {
    try {
      if (sendUnstreamed(response, nodeResponse)) return response;
    } catch (error) {
      ctx.log.error("the response could not be sent:", error);
      return internalError(ctx);
    }
    reportStreamFailure(response, nodeResponse, (error) =>
      ctx.log.error("the response body failed after its head was sent:", error),
    );
  }
  return response;
}

/**
 * Whether Node's raw header list (name, value, name, value, …) names a metadata header. Cheaper
 * than asking the request's Headers for both names on every request (srvx then builds Node's
 * header object and tests each name against a pattern); requests from the Worker, which carry the
 * headers, still read them the ordinary way.
 */
function namesMetadataHeader(rawHeaders: readonly string[]): boolean {
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (name.length !== METADATA_HEADER.length && name.length !== SIGNATURE_HEADER.length) continue;
    const lower = name.toLowerCase();
    if (lower === METADATA_HEADER || lower === SIGNATURE_HEADER) return true;
  }
  return false;
}

/** Removes the metadata headers; an incoming request whose headers are immutable is copied. */
function stripMetadataHeaders(request: ServerRequest): ServerRequest {
  try {
    request.headers.delete(METADATA_HEADER);
    request.headers.delete(SIGNATURE_HEADER);
    return request;
  } catch {
    const headers = new Headers(request.headers);
    headers.delete(METADATA_HEADER);
    headers.delete(SIGNATURE_HEADER);
    return copyRequest(request, { headers });
  }
}

/** A new request from `request` and `init`, keeping what srvx adds (ip, runtime, context, waitUntil). */
function copyRequest(request: ServerRequest, init: RequestInit): ServerRequest {
  const copy: ServerRequest = new Request(request, init);
  copy.ip = request.ip;
  copy.runtime = request.runtime;
  copy.context = request.context;
  copy.waitUntil = request.waitUntil;
  return copy;
}

/**
 * Where serve() limits bodies itself rather than through srvx: srvx enforces `maxRequestBodySize`
 * inside its Node adapter and Bun natively, but on Deno it wraps each request in a Proxy whose
 * `waitUntil` then throws on every read (srvx 1.0.8), so there the stream is limited here.
 */
const limitsBodiesItself = "Deno" in globalThis;

/** `request` whose body stream fails with TOO_LARGE past `limit` bytes (for bodies of unknown length). */
function withLimitedBody(request: ServerRequest, limit: number): ServerRequest {
  const tooLarge = () => new ContainerflareError("TOO_LARGE", `request body exceeds the ${limit}-byte limit`);
  const body = limitBodyStream(request.body!, limit, { createError: tooLarge });
  return copyRequest(request, { body, duplex: "half" } as RequestInit);
}

function createState(
  config: RuntimeConfig,
  endpoint: CommandEndpoint,
  unavailableReason: string | undefined,
  logger: ConsolaInstance,
  platform: PlatformInfo,
) {
  const pending = new Set<Promise<unknown>>();
  let commands: CommandClient | undefined;
  let env: Bindings | undefined;
  const state: ContextState & {
    settle(): Promise<void>;
    closeCommands(): Promise<void>;
    preloadBindings(): Promise<void>;
  } = {
    platform,
    logger,
    clientAddress: { cloudflareHeader: !config.secret, forwardedHops: config.forwardedHops },
    get commands() {
      return (commands ??= createCommandClient({
        endpoint,
        timeoutMs: config.commandTimeoutMs,
        logger: logger.withTag("commands"),
        ...(unavailableReason ? { unavailableReason } : {}),
        ...(config.secret ? { secret: config.secret } : {}),
      }));
    },
    get env() {
      return (env ??= createBindings(state.commands, config.bindings ? { bindings: config.bindings } : {}));
    },
    waitUntil(promise) {
      const tracked = Promise.resolve(promise).then(
        () => undefined,
        (error: unknown) => logger.error("waitUntil task failed:", error),
      );
      pending.add(tracked);
      void tracked.finally(() => pending.delete(tracked));
    },
    async settle() {
      while (pending.size > 0) await Promise.all(pending);
    },
    async closeCommands() {
      await commands?.close();
    },
    /**
     * Asks the host once, in the background, which bindings and vars it offers, so that vars read
     * as plain values (`ctx.env.GREETING`) as in a Worker. A host that is not up yet is asked again
     * a few times; binding calls never wait for this.
     */
    async preloadBindings() {
      if (endpoint.kind === "disabled") return;
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          await loadBindings(state.env as object);
          return;
        } catch (error) {
          logger.debug(`host.describe failed (attempt ${attempt + 1}):`, error);
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt).unref?.());
        }
      }
    },
  };
  return state;
}

/**
 * Serves a fetch-style app on srvx (Node, Bun or Deno) with the platform glue: port and address
 * from the environment contract, platform detection, a lazy per-request {@link ContainerContext},
 * structured logs, and graceful shutdown on SIGTERM within the platform's deadline.
 *
 * ```ts
 * import { serve } from "containerflare";
 * serve((request, ctx) => Response.json({ platform: ctx.platform.kind, id: ctx.request.id }));
 * ```
 */
export function serve<Env = Bindings>(app: App<Env>, options: ServeOptions = {}): ContainerServer {
  const manageProcess = options.manageProcess ?? true;
  const candidate =
    typeof app === "function" ? app : typeof app?.fetch === "function" ? app.fetch.bind(app) : undefined;
  if (!candidate) throw new TypeError("serve() expects a handler function or an object with a fetch method");
  const handler = candidate as unknown as Handler;

  const env = options.env ?? processEnv();
  let config: RuntimeConfig;
  try {
    config = resolveConfig(env, {
      ...options.config,
      port: options.port,
      hostname: options.hostname,
      maxRequestBodyBytes: options.maxRequestBodySize,
    });
  } catch (error) {
    if (manageProcess && error instanceof ConfigError) exitWith(1, error.message);
    throw error;
  }

  const platform = detectPlatform(env, config.platform);
  if (platform.kind === "cloud-run") enrichCloudRunInfo(platform).catch(() => {});
  const { endpoint, unavailableReason } = resolveCommandEndpoint(config, platform);
  const commandsOnStdio = endpoint.kind === "stdio";
  const sink = commandsOnStdio ? process.stderr : process.stdout;
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat, platform, sink });
  const accessLog = config.accessLog ?? resolveLogFormat(config.logFormat, Boolean(sink.isTTY)) === "pretty";
  const trustUnsigned = config.trustMetadata || (!config.secret && platform.kind === "cloudflare");
  const verifier: MetadataVerifier = createMetadataVerifier({
    secret: config.secret,
    trustUnsigned,
    onReplayWindowNarrowed: onceAMinute((floor) =>
      logger.warn(
        `the replay cache is full: signed headers older than ${new Date(floor).toISOString()} are now refused`,
      ),
    ),
  });
  // Where the header can never be trusted there is nothing to verify; it is still removed.
  const metadataTrustable = Boolean(config.secret) || trustUnsigned;
  const state = createState(config, endpoint, unavailableReason, logger, platform);

  const bodyLimit = config.maxRequestBodyBytes;
  function respond(request: ServerRequest, ctx: RequestContext): Response | Promise<Response> {
    // One method read on the hot path: GET and HEAD carry no body.
    if (bodyLimit > 0 && request.method !== "GET" && request.method !== "HEAD") {
      const limited = limitBody(request, bodyLimit);
      if (limited instanceof ContainerflareError) return errorResponse(limited, ctx);
      request = limited;
    }
    let result: Response | Promise<Response>;
    try {
      result = handler(request, ctx);
    } catch (error) {
      return errorResponse(error, ctx);
    }
    if (result instanceof Response) return checkResponse(result, ctx, request);
    return Promise.resolve(result).then(
      (response) => checkResponse(response, ctx, request),
      (error: unknown) => errorResponse(error, ctx),
    );
  }

  /**
   * The access log line goes through the request's logger, so it carries the request's trace. On
   * Node it is written once the response is closed and records what was sent: the status on the
   * wire (srvx's own 500 included) and whether the response was complete. Elsewhere the runtime
   * sends what the checked response says.
   */
  async function respondWithAccessLog(request: ServerRequest, ctx: RequestContext) {
    const started = performance.now();
    const response = await respond(request, ctx);
    const logSent = (status: number, complete: boolean) => {
      const latency = (performance.now() - started) / 1000;
      const incomplete = complete ? "" : " (incomplete: the connection closed first)";
      ctx.log.info({
        message: `${request.method} ${ctx.request.path} ${status} ${(latency * 1000).toFixed(1)}ms${incomplete}`,
        httpRequest: {
          requestMethod: request.method,
          requestUrl: ctx.request.url,
          status,
          userAgent: request.headers.get("user-agent") ?? undefined,
          remoteIp: ctx.request.clientIp,
          latency: `${latency.toFixed(6)}s`,
        },
      });
    };
    const nodeResponse = request.runtime?.node?.res as ServerResponse | undefined;
    if (!nodeResponse) logSent(response.status, true);
    else if (nodeResponse.closed) logSent(nodeResponse.statusCode, nodeResponse.writableFinished);
    else nodeResponse.once("close", () => logSent(nodeResponse.statusCode, nodeResponse.writableFinished));
    return response;
  }

  function run(request: ServerRequest, metadata: ContainerflareMetadata | undefined): Response | Promise<Response> {
    const ctx = new RequestContext(request, state, metadata);
    return accessLog ? respondWithAccessLog(request, ctx) : respond(request, ctx);
  }

  async function runWithMetadata(request: ServerRequest, value: string | null, signature: string | null) {
    let metadata: ContainerflareMetadata | undefined;
    if (value !== null && metadataTrustable) {
      const verdict = await verifier.verify(value, signature);
      if (verdict.ok) metadata = verdict.metadata;
      else logger.debug(`ignored ${METADATA_HEADER} header: ${verdict.reason}`);
    }
    return run(stripMetadataHeaders(request), metadata);
  }

  function fetch(request: ServerRequest): Response | Promise<Response> {
    const rawHeaders = request.runtime?.node?.req?.rawHeaders;
    if (rawHeaders && !namesMetadataHeader(rawHeaders)) return run(request, undefined);
    const value = request.headers.get(METADATA_HEADER);
    const signature = request.headers.get(SIGNATURE_HEADER);
    return value === null && signature === null ? run(request, undefined) : runWithMetadata(request, value, signature);
  }

  const releaseFastResponse = options.fastResponse === false ? () => {} : useFastResponse();
  const drain = createConnectionDrain();
  const server: Server = serveHttp({
    ...options.srvx,
    fetch: drain.wrapFetch(fetch),
    port: config.port,
    hostname: config.hostname,
    silent: true,
    gracefulShutdown: false,
    ...(bodyLimit > 0 && !limitsBodiesItself && options.srvx?.maxRequestBodySize === undefined
      ? { maxRequestBodySize: bodyLimit }
      : {}),
  });
  drain.attach(server);

  const hooks = options.onShutdown === undefined ? [] : [options.onShutdown].flat();
  let closing: Promise<void> | undefined;
  async function shutdown(force: boolean) {
    // From here on every response closes its connection and none starts behind it, so close()
    // settles with the last response even while keep-alive clients keep sending.
    drain.begin();
    try {
      await server.close(force);
    } finally {
      drain.end();
    }
    await state.settle();
    for (const hook of hooks) {
      try {
        await hook();
      } catch (error) {
        logger.error("onShutdown hook failed:", error);
      }
    }
    await state.closeCommands();
    releaseFastResponse();
  }

  const containerServer: ContainerServer = {
    get url() {
      return server.url;
    },
    platform,
    config,
    logger,
    async ready() {
      await server.ready();
      return this;
    },
    close(force = false) {
      if (force && closing) void server.close(true).catch(() => {});
      return (closing ??= shutdown(force));
    },
  };

  const listening = server.ready().then(
    () => {
      logger.info(`listening on ${server.url} (${server.runtime}, platform ${platform.kind})`);
      void state.preloadBindings();
    },
    (error: { code?: string; message?: string }) => {
      const line = `cannot listen on ${config.hostname}:${config.port}: ${error?.code ?? error?.message ?? error}`;
      if (manageProcess) exitWith(1, line);
      logger.error(line);
    },
  );
  void listening;

  if (manageProcess) handleSignals(containerServer, config, platform, logger);
  return containerServer;
}

function handleSignals(
  server: ContainerServer,
  config: RuntimeConfig,
  platform: PlatformInfo,
  logger: ConsolaInstance,
) {
  const timeoutMs = config.shutdownTimeoutMs ?? (platform.kind === "cloud-run" ? 9_000 : 30_000);
  let received: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn(`received ${signal} again during shutdown, exiting now`);
      exitWith(1);
    }
    received = signal;
    logger.info(`received ${signal}, draining for up to ${timeoutMs / 1000}s`);
    const deadline = setTimeout(() => {
      logger.warn(`shutdown did not finish within ${timeoutMs / 1000}s, closing open connections`);
      void server.close(true);
      exitWith(1);
    }, timeoutMs);
    server.close().then(
      () => {
        clearTimeout(deadline);
        logger.info("shutdown complete");
        exitWith(0);
      },
      (error: unknown) => {
        logger.error("shutdown failed:", error);
        exitWith(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
