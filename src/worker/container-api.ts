/**
 * The Durable Object side of the Durable Object Container API (`this.ctx.container`), the API
 * Cloudflare recommends over the deprecated `@cloudflare/containers`: one object per Durable
 * Object that starts its container wired to the command bus, forwards requests to it with the
 * signed metadata header, and stops it gracefully. No base class: a plain `DurableObject` keeps
 * it in a field.
 *
 * @module
 */
import { ContainerflareError, errorResponse, isContainerflareError } from "../errors.ts";
import { errorMessage } from "../internal/error-message.ts";
import { isRoutePath } from "../internal/http.ts";
import { within } from "../internal/sleep.ts";
import { readBodyLimited } from "../protocol/bytes.ts";
import { createRequestVerifier, REQUEST_SIGNATURE_HEADER, type RequestVerifier } from "../request-signature.ts";
import type { CommandHandlerOptions } from "./commands.ts";
import { COMMAND_HOSTNAME } from "./commands.ts";
import { type ContainerExit, describeExit, oneLine } from "./container-exit.ts";
import { containerRequest, type ForwardOptions } from "./forward.ts";
import { KEEPALIVE_PATH } from "./keep-alive.ts";
import { probePort, waitForPort } from "./port-readiness.ts";
import type {
  ContainerflareWorkerEnv,
  ContainerLike,
  ContainerStartOptionsLike,
  DurableObjectStateLike,
  FetcherLike,
  WorkerRequest,
} from "./types.ts";
import { relayWebSocket } from "./websocket-relay.ts";

/** The port the app listens on by default: serve()'s own default (`CF_CONTAINER_PORT`, else 8787). */
export const DEFAULT_CONTAINER_PORT = 8787;

/** How long {@link ContainerflareContainer.start} waits for the app's port by default: 30 s. */
export const DEFAULT_START_TIMEOUT_MS = 30_000;

/**
 * How long a container outlives its idle Durable Object by default: 5 minutes. Without an
 * inactivity timeout the container stops as soon as the Durable Object is evicted; a cold start
 * (the VM, the runtime, the app) costs seconds, so a few idle minutes cost less than a visitor
 * who waits for one, and 5 minutes is what containerflare's examples gave `sleepAfter` under
 * `@cloudflare/containers`.
 */
export const DEFAULT_INACTIVITY_TIMEOUT_MS = 5 * 60_000;

/**
 * How much longer than the app's own drain deadline {@link ContainerflareContainer.stop} waits
 * before `destroy()`: the app drains within `CONTAINERFLARE_SHUTDOWN_TIMEOUT` (30 s on
 * Cloudflare), then runs its `onShutdown` hooks and exits; 5 s covers those.
 */
const DRAIN_MARGIN_MS = 5_000;

/** serve()'s drain deadline on Cloudflare when `CONTAINERFLARE_SHUTDOWN_TIMEOUT` is not set. */
const DEFAULT_SHUTDOWN_SECONDS = 30;

const SIGTERM = 15;

/** Options of {@link containerflareContainer}. */
export interface ContainerflareContainerOptions {
  /**
   * The command host the container's requests to `containerflare.internal` go to: a Fetcher of
   * the Worker's `ContainerflareHost` export, `ctx.exports.ContainerflareHost({ props: {
   * allow, vars } })` (or of a subclass). Give it or `allow`; `undefined` without `allow` (what
   * `ctx.exports` gives when the export is missing or the compatibility date is before
   * 2025-11-17) makes every start fail with one line saying what to fix. Add
   * `object: ctx.id.toString()` to its props for `host.keepalive` to renew this object's timeout.
   */
  host?: FetcherLike | undefined;
  /**
   * Instead of `host`: the bindings the container may use; the host is then
   * `ctx.exports.ContainerflareHost({ props: { allow, vars, object: ctx.id.toString() } })`,
   * which also answers `host.keepalive` for this object.
   */
  allow?: CommandHandlerOptions["allow"];
  /** With `allow`: the vars the container may read (`env.get`). */
  vars?: CommandHandlerOptions["vars"];
  /** The port the app listens on; default {@link DEFAULT_CONTAINER_PORT} (8787). */
  port?: number;
  /** Environment of the container, beside `CONTAINERFLARE_SECRET`, which is added from the Worker's env. */
  env?: Readonly<Record<string, string>>;
  /** The container's command, instead of the image's entrypoint. */
  entrypoint?: readonly string[];
  /** Let the container reach the internet (the platform's default when unset). */
  enableInternet?: boolean;
  /** How long a start waits for the app's port, in ms; default {@link DEFAULT_START_TIMEOUT_MS} (30 s). */
  startTimeoutMs?: number;
  /**
   * The app's health route, e.g. `/healthz` (default: `env.CONTAINERFLARE_HEALTH_PATH` of these
   * options, else none). The container gets it as `CONTAINERFLARE_HEALTH_PATH`, so that serve()
   * answers there, and a start is ready once that path answers 200 (a 503: the app drains)
   * instead of once anything answers on the port.
   */
  healthPath?: string;
  /**
   * How long the container keeps running once its Durable Object is idle and evicted, in ms
   * (`ctx.container.setInactivityTimeout`; what `sleepAfter` was under `@cloudflare/containers`).
   * Default {@link DEFAULT_INACTIVITY_TIMEOUT_MS} (5 min); `0` leaves the platform's behaviour
   * (the container stops with the Durable Object).
   */
  inactivityTimeoutMs?: number;
  /**
   * How long {@link ContainerflareContainer.stop} waits after SIGTERM for the app to exit before
   * it destroys the container, in ms. Default: the app's `CONTAINERFLARE_SHUTDOWN_TIMEOUT` (from
   * `env`, else 30 s, serve()'s default on Cloudflare) plus 5 s for its shutdown hooks: 35 s.
   */
  drainTimeoutMs?: number;
  /**
   * Whether a WebSocket the app accepts is relayed by this Durable Object (default true): each
   * message in either direction renews the container's inactivity timeout, and the open socket
   * keeps the object in memory. `false` returns the 101 as it is: cheaper, but the socket's
   * traffic is then no activity this object sees (see src/worker/websocket-relay.ts).
   */
  relayWebSockets?: boolean;
  /** HMAC key of the metadata header and the container's `CONTAINERFLARE_SECRET`; default `env.CONTAINERFLARE_SECRET`. */
  secret?: string;
  /** `worker_name` of the metadata header; default `env.CONTAINERFLARE_WORKER`. */
  workerName?: string;
}

/** What {@link containerflareContainer} returns: the container of one Durable Object. */
export interface ContainerflareContainer {
  /** Whether the container runs (`ctx.container.running`); its app may not listen yet. */
  readonly running: boolean;
  /**
   * Starts the container if it is not running and resolves once its app answers on its port.
   * Concurrent calls share one start. A running container is adopted; if it exits before it
   * answers (it was stopping), a new one is started in its place, once. Rejects with a
   * `ContainerflareError`: `INVALID_CONFIG` when the Worker is not set up for it (no
   * `ctx.container`, no host), `UNAVAILABLE` (retryable) when the container exited before
   * listening or did not listen within `startTimeoutMs`.
   */
  start(): Promise<void>;
  /**
   * Forwards a request to the app (starting it first if needed) with the signed
   * `x-containerflare-metadata` header, and returns its response (a WebSocket upgrade's 101
   * relayed, unless `relayWebSockets` is false). A failed start answers 503 with a JSON error
   * body and a one-line reason; a request that fails once sent answers 502 and is not retried,
   * except when the container was stopping under it (its app no longer answers on its port: the
   * platform's inactivity timeout, a stop, a crash) and the request is idempotent without a
   * body (RFC 9110, 9.2.2): then it waits for that run to exit (up to `drainTimeoutMs`) and goes
   * once to a new container.
   */
  fetch(request: Request): Promise<Response>;
  /**
   * Stops the container gracefully: SIGTERM, then up to `drainTimeoutMs` for the app to drain
   * and exit, then `destroy()` if it still runs. Requests that arrive meanwhile wait for the
   * stop and start a new container.
   */
  stop(): Promise<void>;
}

/**
 * The container of a Durable Object on the Durable Object Container API, wired to
 * containerflare: on start, the container's requests to `containerflare.internal` go to
 * `options.host` (`ctx.container.interceptOutboundHttp`), and it gets `CONTAINERFLARE_SECRET`
 * from the Worker's env (a warning is logged once when there is none), so it trusts only the
 * metadata header this object signs. Each run is watched (`monitor()`): its end is logged in one
 * line and the next request starts a new one.
 *
 * ```ts
 * // worker.ts (compatibility_date "2025-11-17" or later, for ctx.exports)
 * import { DurableObject } from "cloudflare:workers";
 * import { containerflareContainer } from "containerflare/worker";
 * export { ContainerflareHost } from "containerflare/worker";
 *
 * export class Room extends DurableObject<Env> {
 *   container = containerflareContainer(this.ctx, this.env, {
 *     // `?.`: a missing export fails with containerflare's one-line hint instead of a TypeError.
 *     host: this.ctx.exports.ContainerflareHost?.({ props: { allow: ["CACHE"], vars: ["GREETING"] } }),
 *   });
 *   fetch(request: Request): Promise<Response> {
 *     return this.container.fetch(request);
 *   }
 * }
 *
 * export default {
 *   fetch: (request: Request, env: Env) => env.ROOMS.getByName("lobby").fetch(request),
 * };
 * ```
 */
export function containerflareContainer(
  ctx: DurableObjectStateLike,
  env: ContainerflareWorkerEnv,
  options: ContainerflareContainerOptions,
): ContainerflareContainer {
  return new DurableObjectContainer(ctx, env ?? {}, options);
}

/** One watched run of the container. */
interface Run {
  exited: Promise<ContainerExit>;
  /** This object sent it SIGTERM: its end is expected, not an error. */
  signalled: boolean;
}

class DurableObjectContainer implements ContainerflareContainer {
  readonly #ctx: DurableObjectStateLike;
  readonly #env: ContainerflareWorkerEnv;
  readonly #options: ContainerflareContainerOptions;
  readonly #port: number;
  readonly #forward: ForwardOptions;
  #run: Run | undefined;
  /** The app answered on its port during the current run. */
  #ready = false;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #warnedNoSecret = false;
  #warnedInactivity = false;
  /** When the inactivity timeout was last set (at the start, or renewed by a relayed message). */
  #renewedAt = 0;
  /** The renewal that covers messages since the last one, when one is due. */
  #renewal: ReturnType<typeof setTimeout> | undefined;
  /** Checks the keep-alive requests' signatures (made on the first one). */
  #keepAliveVerifier: RequestVerifier | undefined;

  constructor(ctx: DurableObjectStateLike, env: ContainerflareWorkerEnv, options: ContainerflareContainerOptions) {
    this.#ctx = ctx;
    this.#env = env;
    this.#options = options ?? ({} as ContainerflareContainerOptions);
    this.#port = this.#options.port ?? DEFAULT_CONTAINER_PORT;
    const secret = this.#options.secret ?? env.CONTAINERFLARE_SECRET;
    const workerName = this.#options.workerName ?? env.CONTAINERFLARE_WORKER;
    this.#forward = { ...(secret ? { secret } : {}), ...(workerName ? { workerName } : {}) };
  }

  get running(): boolean {
    return this.#ctx.container?.running ?? false;
  }

  start(): Promise<void> {
    if (this.#starting) return this.#starting;
    if (this.#ready && this.running) return Promise.resolve();
    const attempt = this.#start().catch((error: unknown) => {
      console.error(`containerflare: the container did not start: ${errorLine(error)}`);
      throw error;
    });
    this.#starting = attempt;
    const clear = () => {
      if (this.#starting === attempt) this.#starting = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async fetch(request: Request): Promise<Response> {
    // Cheap checks first: every request of the object passes here.
    if (request.method === "POST" && request.url.endsWith(KEEPALIVE_PATH) && isKeepAlive(request))
      return this.#keepAlive(request);
    try {
      await this.start();
    } catch (error) {
      return unavailable(error);
    }
    const run = this.#run;
    try {
      return await this.#send(request);
    } catch (error) {
      if (!run || !isReplayable(request) || !(await this.#runEnded(run, error))) return sendFailed(error);
    }
    // The run ended under the request (the platform's inactivity timeout, a stop, a crash): a new one answers it.
    try {
      await this.start();
    } catch (error) {
      return unavailable(error);
    }
    try {
      return await this.#send(request);
    } catch (error) {
      return sendFailed(error);
    }
  }

  /** Sends one request to the app with the signed metadata header; a WebSocket's 101 is relayed. */
  async #send(request: Request): Promise<Response> {
    const outgoing = await containerRequest(request as WorkerRequest, this.#env, this.#forward);
    const response = await this.#ctx.container!.getTcpPort(this.#port).fetch(outgoing);
    if (this.#options.relayWebSockets === false) return response;
    return relayWebSocket(response, () => this.#renewInactivity());
  }

  /**
   * After a failed send of a replayable request: whether the run it went to has ended, so that
   * a new run may answer it. Only when the app no longer answers on its port (a drain closes
   * the listener first): then its exit is awaited for up to the drain window, as a request
   * during {@link stop} waits. An app that still answers failed this request alone: false.
   */
  async #runEnded(run: Run, error: unknown): Promise<boolean> {
    const probed = await within(
      probePort(this.#ctx.container!.getTcpPort(this.#port), this.#healthPath()),
      LISTEN_CHECK_TIMEOUT_MS,
      // A probe that hangs says nothing: the app may be busy, so the request is not sent again.
      { listening: true as const },
    );
    if ("listening" in probed) return false;
    const drainMs = this.#drainMs();
    const exited = await within(
      run.exited.then(() => true),
      drainMs,
      false,
    );
    if (exited)
      console.info(
        `containerflare: the container stopped under a request, which goes to a new one: ${errorLine(error)}`,
      );
    else
      console.error(
        `containerflare: the container stopped answering on port ${this.#port} and did not exit within ${drainMs} ms`,
      );
    return exited;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async #start(): Promise<void> {
    // A start during a stop waits for it, then starts a new container.
    if (this.#stopping) await this.#stopping;
    const container = this.#ctx.container;
    if (!container) {
      throw new ContainerflareError(
        "INVALID_CONFIG",
        'this Durable Object has no container (ctx.container is undefined): list its class in "containers" of wrangler.jsonc',
      );
    }
    const healthPath = this.#healthPath();
    if (healthPath !== undefined && !isRoutePath(healthPath)) {
      throw new ContainerflareError(
        "INVALID_CONFIG",
        `containerflareContainer(): healthPath ${JSON.stringify(healthPath)} is not a path such as /healthz (a leading /, no query or spaces)`,
      );
    }
    const host = this.#host();
    if (!host) {
      throw new ContainerflareError(
        "INVALID_CONFIG",
        'containerflareContainer(): no command host (options.host is undefined, or options.allow found no ctx.exports.ContainerflareHost): export { ContainerflareHost } from "containerflare/worker" in the Worker\'s main module, set compatibility_date to "2025-11-17" or later (for ctx.exports), and pass allow: [...] (or host: ctx.exports.ContainerflareHost({ props: { allow: [...] } }))',
      );
    }
    // Before the start: the app's first command may go out as soon as it runs.
    await container.interceptOutboundHttp(COMMAND_HOSTNAME, host);
    // A container still running (it outlived an earlier instance of this object) is adopted.
    const adopted = container.running;
    try {
      await this.#runUntilListening(container, adopted);
    } catch (error) {
      // An adopted container that exits before it answers was stopping (its inactivity timeout
      // ran out after this object was evicted, a rollout): a new one answers instead.
      if (!adopted || container.running) throw error;
      await this.#runUntilListening(container, false);
    }
  }

  /** Starts the container (unless `adopt`), watches the run, sets the inactivity timeout, and waits for the port. */
  async #runUntilListening(container: ContainerLike, adopt: boolean): Promise<void> {
    if (!adopt) {
      // Whatever ran before is over, even if its monitor() has not settled yet.
      this.#run = undefined;
      this.#ready = false;
      container.start(this.#startOptions());
    }
    const run = this.#watch(container);
    const inactivityTimeoutMs = this.#inactivityTimeoutMs();
    if (inactivityTimeoutMs > 0) {
      this.#renewedAt = Date.now();
      await this.#setInactivityTimeout(inactivityTimeoutMs);
    }
    await waitForPort(container.getTcpPort(this.#port), {
      port: this.#port,
      timeoutMs: this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      exited: run.exited,
      healthPath: this.#healthPath(),
    });
    if (this.#run === run) this.#ready = true;
  }

  /** `options.host`, else the `ContainerflareHost` of `options.allow` for this object. */
  #host(): FetcherLike | undefined {
    const { host, allow, vars } = this.#options;
    if (host || allow === undefined) return host;
    const make = this.#ctx.exports?.ContainerflareHost as ((options: unknown) => FetcherLike) | undefined;
    const object = this.#ctx.id?.toString();
    return make?.({ props: { allow, ...(vars !== undefined ? { vars } : {}), ...(object ? { object } : {}) } });
  }

  /**
   * The host's keep-alive request (src/worker/keep-alive.ts): the container still works, so the
   * inactivity timeout is renewed (204); never the app's. Signed with the secret when this
   * object has one; a request without a valid signature (a client of the Worker) gets 401.
   */
  async #keepAlive(request: Request): Promise<Response> {
    const secret = this.#forward.secret;
    if (secret) {
      this.#keepAliveVerifier ??= createRequestVerifier({ secret });
      const url = new URL(request.url);
      // The signed body is empty: what a client sends to this path is never read past the bound.
      const read = await readBodyLimited(request, MAX_KEEPALIVE_BODY_BYTES);
      if (read.tooLarge)
        return errorResponse(413, { code: "TOO_LARGE", message: "a keep-alive has no body", retryable: false });
      const verdict = await this.#keepAliveVerifier.verify({
        method: request.method,
        path: url.pathname + url.search,
        body: read.bytes,
        header: request.headers.get(REQUEST_SIGNATURE_HEADER),
      });
      if (!verdict.ok) {
        return errorResponse(401, {
          code: "FORBIDDEN",
          message: `keep-alive signature refused (${verdict.reason})`,
          retryable: false,
        });
      }
    }
    if (this.running) this.#renewInactivity();
    return new Response(null, { status: 204 });
  }

  /**
   * A relayed socket carried a message (or the container sent a keep-alive): the inactivity timeout is set again, at most once per
   * {@link renewEveryMs}; a message inside that window is covered by one renewal at its end, so
   * the container is never idle for less than the timeout after the last message.
   */
  #renewInactivity(): void {
    const timeoutMs = this.#inactivityTimeoutMs();
    if (timeoutMs <= 0 || this.#renewal) return;
    const waitMs = this.#renewedAt + renewEveryMs(timeoutMs) - Date.now();
    const renew = () => {
      this.#renewal = undefined;
      this.#renewedAt = Date.now();
      void this.#setInactivityTimeout(timeoutMs);
    };
    if (waitMs <= 0) renew();
    else this.#renewal = setTimeout(renew, waitMs);
  }

  /** The health route of the options, the same for the readiness wait and the container's env. */
  #healthPath(): string | undefined {
    // An empty variable leaves the route off, as serve() reads it.
    return this.#options.healthPath ?? (this.#options.env?.CONTAINERFLARE_HEALTH_PATH || undefined);
  }

  /** How long the app has to drain and exit after SIGTERM (see `drainTimeoutMs`). */
  #drainMs(): number {
    return this.#options.drainTimeoutMs ?? defaultDrainMs(this.#options.env);
  }

  #inactivityTimeoutMs(): number {
    return this.#options.inactivityTimeoutMs ?? DEFAULT_INACTIVITY_TIMEOUT_MS;
  }

  /** Not worth failing anything for: without it the container stops with this object. */
  async #setInactivityTimeout(timeoutMs: number): Promise<void> {
    try {
      await this.#ctx.container?.setInactivityTimeout(timeoutMs);
    } catch (error) {
      if (this.#warnedInactivity) return;
      this.#warnedInactivity = true;
      console.warn(`containerflare: setInactivityTimeout(${timeoutMs}) failed: ${errorLine(error)}`);
    }
  }

  #startOptions(): ContainerStartOptionsLike {
    const secret = this.#forward.secret;
    if (!secret && !this.#warnedNoSecret) {
      this.#warnedNoSecret = true;
      // Without a secret the container trusts the unsigned header on Cloudflare (the contract):
      // fine behind this object, spoofable by anything that reaches the container another way.
      console.warn(
        "containerflare: CONTAINERFLARE_SECRET is not set, so the container cannot tell the Worker's metadata header from a forged one; set it with `wrangler secret put CONTAINERFLARE_SECRET`",
      );
    }
    const { entrypoint, enableInternet } = this.#options;
    const healthPath = this.#healthPath();
    return {
      env: {
        ...this.#options.env,
        ...(secret ? { CONTAINERFLARE_SECRET: secret } : {}),
        ...(healthPath !== undefined ? { CONTAINERFLARE_HEALTH_PATH: healthPath } : {}),
      },
      ...(entrypoint ? { entrypoint: [...entrypoint] } : {}),
      ...(enableInternet !== undefined ? { enableInternet } : {}),
    };
  }

  /** The current run, watched once: its end is logged and forgets it, so the next request starts anew. */
  #watch(container: ContainerLike): Run {
    if (this.#run) return this.#run;
    let monitored: Promise<void>;
    try {
      monitored = container.monitor();
    } catch (error) {
      monitored = Promise.reject(error);
    }
    const exited = monitored.then(
      () => describeExit(),
      (error: unknown) => describeExit(error ?? new Error("monitor() rejected")),
    );
    const run: Run = { exited, signalled: false };
    this.#run = run;
    void exited.then((exit) => {
      if (this.#run === run) {
        this.#run = undefined;
        this.#ready = false;
      }
      const line = `containerflare: the container ${exit.reason}`;
      if (exit.ok || run.signalled) console.info(line);
      else console.error(line);
    });
    return run;
  }

  async #stop(): Promise<void> {
    const container = this.#ctx.container;
    if (!container?.running) return;
    const run = this.#watch(container);
    this.#ready = false;
    run.signalled = true;
    container.signal(SIGTERM);
    const drainMs = this.#drainMs();
    const drained = await within(
      run.exited.then(() => true),
      drainMs,
      false,
    );
    if (!drained && container.running) {
      console.warn(`containerflare: the container did not exit within ${drainMs} ms of SIGTERM; destroying it`);
      await container.destroy();
    }
  }
}

/**
 * How often a busy socket renews the inactivity timeout: a quarter of it, so that a socket that
 * carries a message at least that often never lets it run out, between 1 s and 30 s (one call a
 * socket's burst of messages costs nothing; a default 5 min timeout is renewed twice a minute).
 */
function renewEveryMs(timeoutMs: number): number {
  return Math.min(30_000, Math.max(1_000, timeoutMs / 4));
}

/** The app's drain deadline (`CONTAINERFLARE_SHUTDOWN_TIMEOUT`, seconds) plus the margin for its hooks. */
function defaultDrainMs(env: Readonly<Record<string, string>> | undefined): number {
  const seconds = Number(env?.CONTAINERFLARE_SHUTDOWN_TIMEOUT);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_SHUTDOWN_SECONDS) * 1000 + DRAIN_MARGIN_MS;
}

/** How long the one probe after a failed send may take before the app counts as still there: 2 s. */
const LISTEN_CHECK_TIMEOUT_MS = 2_000;

/**
 * Methods a request may be sent again with after a failure that may have reached the app:
 * the idempotent ones (RFC 9110, 9.2.2).
 */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Whether a request can be sent again: idempotent, and without a body (a stream is read once). */
function isReplayable(request: Request): boolean {
  return request.body === null && IDEMPOTENT_METHODS.has(request.method);
}

/** The 502 of a request that failed once sent; the platform's words stay in the Worker's log. */
function sendFailed(error: unknown): Response {
  console.error(`containerflare: a request to the container failed: ${errorLine(error)}`);
  return errorResponse(502, { code: "UNAVAILABLE", message: "the container did not answer", retryable: false });
}

/** Largest body a keep-alive request may carry: 1 KiB (the host's is empty). */
const MAX_KEEPALIVE_BODY_BYTES = 1_024;

/** Whether a request is the host's keep-alive: exactly its path (the host sends no query). */
function isKeepAlive(request: Request): boolean {
  return new URL(request.url).pathname === KEEPALIVE_PATH;
}

function errorLine(error: unknown): string {
  return oneLine(errorMessage(error));
}

/**
 * The 503 of a failed start: a one-line reason a client may read. Only an error marked `expose`
 * (the start's own words for a container that exited first) is shown; the platform's text (a
 * timeout's last refusal) and the Worker's configuration stay in the Worker's log.
 */
function unavailable(error: unknown): Response {
  const misconfigured = isContainerflareError(error) && error.code === "INVALID_CONFIG";
  const reason = misconfigured
    ? "the Worker is not set up for its container (see the Worker's log)"
    : isContainerflareError(error) && error.expose
      ? error.message
      : "it did not start (see the Worker's log)";
  return errorResponse(503, {
    code: "UNAVAILABLE",
    message: `the container is not available: ${reason}`,
    retryable: !misconfigured,
  });
}
