/**
 * serve(): a fetch-style app on srvx with the platform glue, assembled from the parts in
 * src/serve/ (each one concept):
 *
 * - setup.ts: configuration, platform, command endpoint, log format and logger, access log, trust.
 * - metadata.ts: the metadata stage (verification and removal of the metadata headers), which
 *   gives the request and what it trusts to the context (context.ts).
 * - parts.ts: how the request parts are composed; the parts themselves are access-log.ts,
 *   errors.ts (with response.ts's check) and body-limit.ts.
 * - command-bus.ts and state.ts: `ctx.commands`, `ctx.env`, `waitUntil`.
 * - runtime.ts: what one runtime adds (node.ts on Node: fast Response, one-write sending),
 *   loaded before listening on that runtime only.
 * - shutdown.ts: the shutdown sequence, signals and deadline.
 *
 * srvx's own extension points carry what needs no request context: the connection drain's
 * response marking is a srvx middleware (drain.ts). The request parts have their own shape (see
 * parts.ts for why).
 *
 * @module
 */
import { type Server, type ServerRequest, serve as serveHttp } from "srvx";
import { createBunRequests } from "./bun/requests.ts";
import type { Bindings } from "./command/index.ts";
import { RequestContext } from "./context.ts";
import { createConnectionDrain, type NodeRequestListener } from "./drain.ts";
import { errorResponse } from "./errors.ts";
import { exitProcess } from "./exit.ts";
import { accessLogPart } from "./serve/access-log.ts";
import { bodyLimiting } from "./serve/body-limit.ts";
import { cloudRunEventsPart } from "./serve/cloud-run-events.ts";
import { createCommandBus } from "./serve/command-bus.ts";
import { errorPart } from "./serve/errors.ts";
import { eventHandlersOf, eventsPart } from "./serve/events.ts";
import { healthPart } from "./serve/health.ts";
import { createKeepAlive, keepAliveWanted } from "./serve/keep-alive.ts";
import { createMetadataStage, type MetadataNext } from "./serve/metadata.ts";
import type { App, ContainerServer, ServeOptions } from "./serve/options.ts";
import { composeParts, type Step } from "./serve/parts.ts";
import { createResponseCheck } from "./serve/response.ts";
import { loadRuntimePart, RUNTIME } from "./serve/runtime.ts";
import { setUpServer } from "./serve/setup.ts";
import { createShutdown, exitOnSignals, shutdownTimeoutMs } from "./serve/shutdown.ts";
import { createServerState } from "./serve/state.ts";
import type { WebSocketServer } from "./serve/websocket.ts";
import { isWebSocketUpgrade, type WebSocketHooks } from "./websocket.ts";

export type { App, ContainerServer, Handler, ServeOptions, ShutdownHook } from "./serve/options.ts";

/** Runs `fn` in a request's console context (serve/console.ts's runInContext, bound). */
type ContextRunner = <R>(ctx: RequestContext, fn: () => R) => R;

/** `options` without its undefined values (so that they do not hide the environment's). */
function definedOnly<T extends object>(options: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * The handler of an app: the app itself when it is a function, else its `fetch` method bound to
 * it (Hono, H3 and itty apps). Throws a TypeError for anything else.
 */
function appHandler(app: unknown): Step {
  if (typeof app === "function") return app as Step;
  const { fetch, scheduled, queue } = (app ?? {}) as { fetch?: unknown; scheduled?: unknown; queue?: unknown };
  if (typeof fetch === "function") return fetch.bind(app) as Step;
  // An app of events only (a queue consumer, a cron job) answers other requests 404, as a Worker without fetch does.
  if (fetch === undefined && (typeof scheduled === "function" || typeof queue === "function")) return notFound;
  throw new TypeError("serve() expects a handler function or an object with a fetch, scheduled or queue method");
}

function notFound(): Response {
  return errorResponse(404, { code: "NOT_FOUND", message: "this app answers no HTTP requests", retryable: false });
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
export function serve<Env = Bindings>(app: App<Env>, options: ServeOptions<Env> = {}): ContainerServer {
  const manageProcess = options.manageProcess ?? true;
  const handler = appHandler(app);
  const eventHandlers = eventHandlersOf(app);
  const setup = setUpServer(options as ServeOptions, manageProcess);
  const { config, platform, logger } = setup;
  const bus = createCommandBus({
    config,
    endpoint: setup.endpoint,
    unavailableReason: setup.unavailableReason,
    logger,
  });
  // One timer for the process; the client loads with the first keep-alive it sends.
  const keepAlive = keepAliveWanted(config, platform, setup.endpoint)
    ? createKeepAlive({
        intervalMs: config.keepAliveIntervalMs,
        send: () => bus.commands.invoke("host.keepalive", null),
        logger,
      })
    : undefined;
  const state = createServerState(config, platform, logger, bus, keepAlive);
  // With the structured console (serve/console.ts), the app's code runs in its request's
  // context: the handler and the event handlers. Not WebSocket hooks: a context switch per
  // message made the Node echo's server CPU per message grow over a run (the bench: 0.82x bare
  // crossws, 0.90x without), so their lines carry the request id through the hook's ctx.log.
  let contextRunner: ContextRunner | undefined;
  // An event's handler (the Worker's or Cloud Run's) runs in its context and keeps the instance
  // awake while it runs (the keep-alive).
  const eventRunner = (ctx: RequestContext, run: () => Promise<unknown>) =>
    state.track(contextRunner ? contextRunner(ctx, run) : run());
  // Bun: srvx's request properties and the deferred metadata removal from one prototype per
  // server (src/bun/requests.ts), given to requests once srvx's server exists (below).
  const bunRequests = RUNTIME === "bun" ? createBunRequests(setup.metadataTrust === "none") : undefined;
  const metadata = createMetadataStage({
    trust: setup.metadataTrust,
    secret: config.secret,
    logger,
    bunPresence: bunRequests?.presence,
  });
  const bodyLimit = config.maxRequestBodyBytes;
  // Bun enforces the limit itself (srvx passes it on); Node a part; Deno the runtime's body getter,
  // which the part wraps on the first request (serve/body-limit.ts).
  const limiting = bodyLimiting(bodyLimit, options.srvx?.maxRequestBodySize);
  // Pub/Sub push and Cloud Scheduler paths (undefined unless configured); made once: it warns at start-up.
  const cloudRunEvents = cloudRunEventsPart({
    handlers: eventHandlers,
    settings: config.cloudRunEvents,
    logger,
    maxBodyBytes: bodyLimit,
    runner: eventRunner,
  });

  // The parts are composed once the runtime part is in (the answer check depends on it); no
  // request arrives before: the server listens after that.
  let respond: Step | undefined;
  const enter: MetadataNext = (request, fields) =>
    (respond as Step)(request, new RequestContext(request, state, fields));
  // Only the app's own code runs in the console context: serve()'s parts log through ctx.log.
  // One context per request is the console's whole cost (README, Logs); on Deno not its
  // AsyncLocalStorage, whose WeakMap cost 4-6 µs a request (serve/async-context.ts). On Node 24 a
  // request from node:http enters its context instead of running in it (one context frame, not
  // two: 8% of a Hono server's throughput down to 3%): it arrives in a request listener, which
  // Node ends by putting the previous frame back, and what runs there after the app is this
  // request's sending. Anything else (a WebSocket upgrade, which has no response object; Bun and
  // Deno, and Node without context frames: async-context.ts) runs in the context.
  let contextEntry: ((ctx: RequestContext) => void) | undefined;
  const runApp: Step = (request, ctx) => {
    if (contextEntry !== undefined && request.runtime?.node?.res !== undefined) {
      contextEntry(ctx);
      return handler(request, ctx);
    }
    return contextRunner ? contextRunner(ctx, () => handler(request, ctx)) : handler(request, ctx);
  };

  const drain = createConnectionDrain();
  const fetch = drain.wrap((request: ServerRequest) => metadata.run(request, enter));
  // WebSockets (only with the option): crossws's adapter loads with the runtime part, before the
  // server listens. On Bun and Deno upgrades arrive through fetch; on Node through the server's
  // `upgrade` event (serve/websocket.ts). Bun reads its `websocket` handlers when it listens.
  const websocketOption = options.websocket;
  let sockets: WebSocketServer | undefined;
  const bunHandlers: Record<string, unknown> | undefined =
    websocketOption && RUNTIME === "bun" ? { message() {} } : undefined;
  const server: Server = serveHttp({
    ...options.srvx,
    ...(bunHandlers ? { bun: { ...options.srvx?.bun, websocket: bunHandlers as never } } : {}),
    fetch:
      websocketOption && RUNTIME !== "node"
        ? (request: ServerRequest) =>
            // Bun's upgrade answers undefined: Bun then sends the 101 itself.
            isWebSocketUpgrade(request)
              ? ((sockets as WebSocketServer).handle(request) as Promise<Response>)
              : fetch(request)
        : fetch,
    port: config.port,
    hostname: config.hostname,
    silent: true,
    gracefulShutdown: false,
    // It listens once the runtime part and the log format are settled (below).
    manual: true,
    ...limiting.srvx,
  });
  bunRequests?.decorate(server);
  // On Node the runtime part may put serve()'s own request listener in place of srvx's (below).
  let requestListener: NodeRequestListener | undefined;
  drain.attach(server, () => requestListener ?? (server.node?.handler as NodeRequestListener));

  let closing: Promise<void> | undefined;
  const health = healthPart(config.healthPath, () => closing !== undefined);
  let releaseRuntime = () => {};
  const runtimePart = loadRuntimePart({ fastResponse: options.fastResponse !== false });
  const websocketPart = websocketOption ? import("./serve/websocket.ts") : undefined;
  // The structured console and the uncaught-error lines: JSON log formats only.
  const structured = config.console === "structured";
  const consolePart =
    setup.jsonLogs !== false && (structured || manageProcess) ? import("./serve/console.ts") : undefined;
  let releaseConsole = () => {};
  const started = runtimePart.then(async (runtime) => {
    releaseRuntime = runtime.release;
    requestListener = runtime.listen?.(server);
    if (consolePart) {
      const { installConsole, runInContext, enterContext } = await consolePart;
      const installation = installConsole({ logger, structured, uncaught: manageProcess });
      releaseConsole = installation.release;
      if (structured) {
        contextRunner = runInContext;
        if (RUNTIME === "node") contextEntry = enterContext;
      }
      // Bun settles the format after listening: a terminal after all gives the console back.
      void Promise.resolve(setup.jsonLogs).then((json) => {
        if (json) return;
        contextRunner = contextEntry = undefined;
        installation.release();
      });
    }
    const compose = (accessLog: boolean | Promise<boolean>) =>
      composeParts(
        [
          accessLogPart(accessLog),
          errorPart(createResponseCheck(runtime.sending)),
          eventsPart({ handlers: eventHandlers, secret: config.secret, logger, runner: eventRunner }),
          cloudRunEvents,
          health,
          limiting.part,
        ],
        runApp,
      );
    respond = compose(setup.accessLog);
    // Bun's terminal check (which decides the access log's default) settles after the server
    // listens: not worth the milliseconds of a cold start. Then the parts are composed again.
    if (typeof setup.accessLog !== "boolean") void setup.accessLog.then((on) => (respond = compose(on)));
    if (websocketPart) {
      const { createWebSocketServer } = await websocketPart;
      sockets = await createWebSocketServer({
        server,
        hooks: websocketOption === true ? undefined : (websocketOption as WebSocketHooks),
        options: { ...config.webSocket, ...definedOnly(options.webSocketOptions) },
        accessLog: setup.accessLog,
        metadata,
        state,
        respond: () => respond as Step,
        logger,
        ...(bunHandlers ? { bunHandlers } : {}),
      });
    }
    if (closing) return;
    await server.serve();
  });

  const shutdown = createShutdown({
    server,
    drain,
    state,
    hooks: options.onShutdown === undefined ? [] : [options.onShutdown].flat(),
    bus,
    sockets: () => sockets,
    release: () => {
      releaseRuntime();
      releaseConsole();
      metadata.release();
      limiting.release();
    },
    logger,
  });
  const containerServer: ContainerServer = {
    get url() {
      return server.url;
    },
    platform,
    config,
    logger,
    async ready() {
      await started;
      return this;
    },
    close(force = false) {
      if (force && closing) {
        // A graceful close under way: drop what it waits for (connections and WebSockets).
        void server.close(true).catch(() => {});
        void sockets?.close(true);
      }
      return (closing ??= started.catch(() => {}).then(() => shutdown(force)));
    },
  };

  started.then(
    () => {
      if (closing) return;
      logger.info(`listening on ${server.url} (${server.runtime}, platform ${platform.kind})`);
      metadata.preload();
      void bus.preload();
    },
    (error: { code?: string; message?: string }) => {
      const line = `cannot listen on ${config.hostname}:${config.port}: ${error?.code ?? error?.message ?? error}`;
      if (manageProcess) exitProcess(1, line);
      logger.error(line);
    },
  );

  if (manageProcess) exitOnSignals(containerServer, shutdownTimeoutMs(config, platform), logger);
  return containerServer;
}
