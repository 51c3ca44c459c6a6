import type { ConsolaInstance } from "consola";
import type { ServerRequest } from "srvx";
import type { Bindings, CommandClient } from "./command/index.ts";
import { createRequestLogger } from "./log.ts";
import type { MetadataHeaderFields } from "./metadata-header.ts";
import type { PlatformInfo } from "./platform.ts";
import { type TraceContext, traceFromHeaders } from "./trace.ts";

/** Where the request info came from. */
export type RequestInfoSource = "worker" | "platform" | "http";

/** @deprecated The first name of {@link RequestInfoSource}. */
export type MetadataSource = RequestInfoSource;

/** What is known about the current request (`ctx.request`), from the Worker's signed header or the platform. */
export interface RequestInfo {
  /** Request id: the Worker's, else `x-request-id`, else generated. */
  id: string;
  /** Client address; never taken from a header a client can forge (see the README's rules). */
  clientIp?: string;
  /** Two-letter country code, from the Worker. */
  country?: string;
  /** Cloudflare data center that received the request, from the Worker. */
  colo?: string;
  /** Region of the client, from the Worker. */
  region?: string;
  /** City of the client, from the Worker. */
  city?: string;
  /** Name of the Worker that forwarded the request. */
  workerName?: string;
  /** HTTP method as the client sent it. */
  method: string;
  /** Path without the query string, as the client sent it. */
  path: string;
  /** Full URL as the client sent it (the Worker's view on Cloudflare). */
  url: string;
  /** Trace context from `traceparent` or `X-Cloud-Trace-Context`. */
  trace?: TraceContext;
  /** `worker`: a trusted metadata header; `platform`: platform headers; `http`: the connection only. */
  source: RequestInfoSource;
}

/** @deprecated The first name of {@link RequestInfo}. */
export type RequestMetadata = RequestInfo;

/** The second argument of every handler. Built lazily: what a handler never reads costs nothing. */
export interface ContainerContext<Env = Bindings> {
  /** The platform the container runs on. */
  readonly platform: PlatformInfo;
  /** What is known about this request. */
  readonly request: RequestInfo;
  /** Logger whose lines carry this request's id and trace. */
  readonly log: ConsolaInstance;
  /** Low-level command bus client. */
  readonly commands: CommandClient;
  /** Workers-compatible bindings reached through the command bus: `ctx.env.CACHE.get(key)`. */
  readonly env: Env;
  /** Keeps the process alive (and shutdown waiting) until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Which platform headers may name the client, decided once from the configuration (see the
 * README's "client IP" rules). A header is read only where the platform's own proxy sets it and a
 * client cannot reach the container past that proxy.
 */
export interface ClientAddressRules {
  /**
   * Read `cf-connecting-ip` on Cloudflare. Only without `CONTAINERFLARE_SECRET`: then the Worker in
   * front is trusted unsigned anyway; with a secret only the signed metadata names the client, since
   * anything that reaches the container directly can send the header.
   */
  cloudflareHeader: boolean;
  /** On Cloud Run: how many trusted proxies append to `X-Forwarded-For` (`CONTAINERFLARE_FORWARDED_HOPS`). */
  forwardedHops: number;
}

/** The rules of a container with default settings and no secret. */
export const DEFAULT_CLIENT_ADDRESS_RULES: ClientAddressRules = { cloudflareHeader: true, forwardedHops: 1 };

/** Process-wide state every request context reads from. */
export interface ContextState {
  platform: PlatformInfo;
  /** Which platform headers may name the client. */
  clientAddress?: ClientAddressRules;
  logger: ConsolaInstance;
  readonly commands: CommandClient;
  readonly env: Bindings;
  waitUntil(promise: Promise<unknown>): void;
}

const REQUEST_ID_RE = /^[\w.:@/+=-]{1,200}$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Whether `value` is an IPv4 or IPv6 address. Not `node:net`'s isIP: importing node:net costs
 * Bun about 20 ms of cold start, and the WHATWG URL parser knows IPv6 on every runtime.
 */
export function isIpAddress(value: string): boolean {
  if (!value.includes(":")) return IPV4_RE.test(value);
  if (!/^[\da-fA-F:.]+$/.test(value)) return false;
  try {
    return new URL(`http://[${value}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * The address `hops` places from the right of `X-Forwarded-For` (default 1: the rightmost), the one
 * the first trusted proxy appended; undefined when the list is shorter or that entry is no address.
 * Entries further left were sent by the client and are never read.
 */
export function lastForwardedFor(value: string | null, hops = 1): string | undefined {
  if (!value) return undefined;
  const entries = value.split(",");
  const entry = entries[entries.length - hops]?.trim();
  return entry && isIpAddress(entry) ? entry : undefined;
}

/**
 * The path of a request without its query, as the client sent it, cheaply: Node's raw request
 * target, else cut from `request.url` without parsing it. Not srvx's `_url`: on Node that getter
 * builds a URL object on first read (what the joined `url` of src/node/request-url.ts saves), and
 * its path is normalized (`/a/../b` reads `/b`), where the target is what was sent.
 */
export function requestPath(request: ServerRequest): string {
  const target = request.runtime?.node?.req?.url;
  if (target?.startsWith("/")) {
    const query = target.indexOf("?");
    return query === -1 ? target : target.slice(0, query);
  }
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const end = url.search(/[?#]/);
  return url.slice(start, end === -1 || end < start ? undefined : end);
}

/**
 * The socket peer's address. Deno's getter throws once the request has closed, which is when a
 * `waitUntil` task (or a console line in one, see serve/console.ts) may first read `ctx.request`.
 */
function peerAddress(request: ServerRequest): string | undefined {
  try {
    return request.ip;
  } catch {
    return undefined;
  }
}

/**
 * Builds the request info (`ctx.request`). Client IP rules: a trusted Worker header first; on Cloud Run the
 * `X-Forwarded-For` entry appended by the platform's first proxy (the rightmost by default: Google's
 * front end appends the real client there, so a client-sent prefix is ignored); on Cloudflare
 * without a secret `cf-connecting-ip`; otherwise the socket peer. See {@link ClientAddressRules}.
 */
export function buildRequestInfo(
  request: ServerRequest,
  platform: PlatformInfo,
  metadata: MetadataHeaderFields | undefined,
  rules: ClientAddressRules = DEFAULT_CLIENT_ADDRESS_RULES,
): RequestInfo {
  const headers = request.headers;
  const forwardedId = headers.get("x-request-id");
  const id =
    metadata?.request_id ||
    (forwardedId && REQUEST_ID_RE.test(forwardedId) ? forwardedId : undefined) ||
    crypto.randomUUID();
  let clientIp = metadata?.client_ip ?? undefined;
  let source: RequestInfoSource = metadata ? "worker" : "http";
  if (!clientIp && platform.kind === "cloud-run") {
    clientIp = lastForwardedFor(headers.get("x-forwarded-for"), rules.forwardedHops);
    if (clientIp) source = "platform";
  } else if (!clientIp && platform.kind === "cloudflare" && rules.cloudflareHeader) {
    const connecting = headers.get("cf-connecting-ip")?.trim();
    if (connecting && isIpAddress(connecting)) {
      clientIp = connecting;
      source = "platform";
    }
  }
  clientIp ??= peerAddress(request);
  const trace = traceFromHeaders(headers);
  const result: RequestInfo = {
    id,
    method: metadata?.method || request.method,
    // The Worker's path may carry the query string (the Rust shim's meaning); ours never does.
    path: metadata?.path?.split("?", 1)[0] || requestPath(request),
    url: metadata?.raw_url || request.url,
    source,
  };
  if (clientIp) result.clientIp = clientIp;
  if (metadata?.country) result.country = metadata.country;
  if (metadata?.colo) result.colo = metadata.colo;
  if (metadata?.region) result.region = metadata.region;
  if (metadata?.city) result.city = metadata.city;
  if (metadata?.worker_name) result.workerName = metadata.worker_name;
  if (trace) result.trace = trace;
  return result;
}

/** @deprecated The first name of {@link buildRequestInfo}. */
export const buildRequestMetadata: typeof buildRequestInfo = buildRequestInfo;

/** The {@link ContainerContext} of one request; every field is computed on first read. */
export class RequestContext implements ContainerContext {
  readonly #request: ServerRequest;
  readonly #state: ContextState;
  readonly #metadata: MetadataHeaderFields | undefined;
  #info: RequestInfo | undefined;
  #log: ConsolaInstance | undefined;

  /** `metadata`: the fields of a trusted metadata header, when the request carried one. */
  constructor(request: ServerRequest, state: ContextState, metadata?: MetadataHeaderFields) {
    this.#request = request;
    this.#state = state;
    this.#metadata = metadata;
  }

  get platform(): PlatformInfo {
    return this.#state.platform;
  }

  get request(): RequestInfo {
    return (this.#info ??= buildRequestInfo(
      this.#request,
      this.#state.platform,
      this.#metadata,
      this.#state.clientAddress,
    ));
  }

  get log(): ConsolaInstance {
    return (this.#log ??= this.#requestLogger());
  }

  #requestLogger(): ConsolaInstance {
    const info = this.request;
    return createRequestLogger(this.#state.logger, {
      requestId: info.id,
      trace: info.trace,
      method: info.method,
      url: info.url,
    });
  }

  get commands(): CommandClient {
    return this.#state.commands;
  }

  get env(): Bindings {
    return this.#state.env;
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#state.waitUntil(promise);
  }

  /** What `JSON.stringify(ctx)` shows: the platform and the request info. */
  toJSON(): { platform: PlatformInfo; request: RequestInfo } {
    return { platform: this.platform, request: this.request };
  }
}
