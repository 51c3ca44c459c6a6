/**
 * The few workerd shapes the Worker companion needs, written structurally: the library is
 * type-checked with Node's types, and users' Workers bring `@cloudflare/workers-types`, whose
 * `Request`, `DurableObjectNamespace` and `Fetcher` satisfy these.
 */

/** The fields of `request.cf` that the metadata header carries. */
export interface RequestCf {
  colo?: unknown;
  region?: unknown;
  country?: unknown;
  city?: unknown;
}

/** An incoming Worker request: a `Request` that may carry `cf`. */
export type WorkerRequest = Request & { cf?: RequestCf };

/** Anything with `fetch(request)`: a Durable Object stub, a service binding, a Container stub. */
export interface FetchTarget {
  fetch(request: Request): Promise<Response>;
}

/** A Durable Object namespace, as far as {@link forwardTo} uses it. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): FetchTarget;
}

/** The Worker variables containerflare reads from `env`. */
export interface ContainerflareWorkerEnv {
  /** HMAC key shared with the container (a Worker secret: `wrangler secret put CONTAINERFLARE_SECRET`). */
  CONTAINERFLARE_SECRET?: string;
  /** Name reported as `worker_name` in the metadata header (the Rust crate's variable). */
  CONTAINERFLARE_WORKER?: string;
}

/** The third argument of an outbound handler of `@cloudflare/containers`. */
export interface OutboundContext {
  containerId: string;
  className: string;
  params?: unknown;
}

/**
 * Anything with a Fetcher's `fetch`: what `ctx.container.getTcpPort(port)` and
 * `ctx.exports.ContainerflareHost({ props })` return.
 */
export interface FetcherLike {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}

/** What {@link ContainerLike.start} is given (the platform takes more; containerflare sets these). */
export interface ContainerStartOptionsLike {
  env?: Record<string, string>;
  entrypoint?: string[];
  enableInternet?: boolean;
}

/**
 * A Durable Object's container, `ctx.container` (the Durable Object Container API), as far as
 * `containerflareContainer` uses it. `start()` is synchronous: its failures, like the
 * container's exit, surface through `monitor()`.
 */
export interface ContainerLike {
  readonly running: boolean;
  start(options?: ContainerStartOptionsLike): void;
  /** Resolves when the container exits with code 0; rejects with an Error otherwise. */
  monitor(): Promise<void>;
  destroy(error?: unknown): Promise<void>;
  signal(signo: number): void;
  getTcpPort(port: number): FetcherLike;
  setInactivityTimeout(durationMs: number): Promise<void>;
  interceptOutboundHttp(address: string, binding: FetcherLike): Promise<void>;
}

/** A Durable Object's `ctx` (`DurableObjectState`), as far as `containerflareContainer` uses it. */
export interface DurableObjectStateLike {
  readonly container?: ContainerLike | undefined;
  /** The object's id: named in the host's props, so that `host.keepalive` finds this object. */
  readonly id?: { toString(): string } | undefined;
  /** The loopback bindings of the Worker's exports (compatibility date 2025-11-17 or later). */
  // biome-ignore lint/suspicious/noExplicitAny: generated per project by `wrangler types`.
  readonly exports?: Record<string, any> | undefined;
}
