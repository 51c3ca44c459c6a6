/**
 * The URL of srvx's Node requests (`request.url`, `request._url`), built without srvx's costliest
 * steps where the request is plain, and exactly as srvx builds it.
 *
 * srvx builds a Node request's URL on first read, from the request target, the `Host` header and
 * the trusted-proxy rules: measured in a running Hono server on Node 24, that first read cost
 * 1.5 µs of a 30 µs request, half of it in srvx's host check (one regular expression that took
 * 0.5 µs per call there, 0.15 µs in a loop). Every router reads it (Hono, H3 and itty route on
 * `request.url`). Where the request is plain this module gives srvx the URL srvx would build, as
 * srvx's own `FastURL` of the same parts, through srvx's own setter; anything else is left to
 * srvx's getter. Plain means:
 *
 * - the server trusts no proxy (srvx's `trustProxy` unset or false): no `X-Forwarded-*` header
 *   counts, the protocol is the socket's (`https:` over TLS) and the host is the `Host` header;
 * - the request target is in origin form (starts with `/`): srvx then splits it at the first `?`;
 * - the `Host` header is a host name or IPv4 address with an optional port, in the strict shape
 *   {@link isPlainHost} checks, which srvx's host check accepts too (anything else, an IPv6
 *   literal among it, goes to srvx, which also decides what an invalid host becomes).
 *
 * A difference no one can observe through the Request: `request._url` is then an instance of
 * srvx's exported `FastURL` rather than of srvx's private subclass of it (same prototype
 * members, same fields). test/unit/request-url.test.ts compares both builds on the installed srvx;
 * and since an app may run a newer srvx than the tests did, the accessor is installed only after
 * srvx built the same URLs for a few probe requests at start-up ({@link agreesWithSrvx}).
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { FastURL, NodeRequest } from "srvx/node";

/** What srvx's Node request keeps of node:http: its `runtime.node`. */
interface NodeRequestContext {
  req?: IncomingMessage;
  trustProxy?: unknown;
}

/** The parts of a URL srvx's `FastURL` takes. */
export interface RequestURLParts {
  protocol: string;
  host: string;
  pathname: string;
  search: string;
}

const DOT = 46;
const COLON = 58;

/** Whether `code` may be in a label of srvx's host check: a letter, a digit, `_` or `-`. */
function isLabelCode(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 95 ||
    code === 45
  );
}

/**
 * Whether `host` is one or more labels of letters, digits, `_` and `-` joined by single dots,
 * then optionally `:` and 1-5 digits: one of the shapes srvx's host check accepts (its other
 * alternatives are IPv4 addresses, which this shape includes, and bracketed IPv6 literals).
 * A loop over the characters, not a regular expression: that is what it saves (module comment).
 */
export function isPlainHost(host: string): boolean {
  const length = host.length;
  let labelLength = 0;
  let index = 0;
  for (; index < length; index++) {
    const code = host.charCodeAt(index);
    if (isLabelCode(code)) labelLength++;
    else if (code === DOT && labelLength > 0) labelLength = 0;
    else break;
  }
  if (labelLength === 0) return false;
  if (index === length) return true;
  const digits = length - index - 1;
  if (host.charCodeAt(index) !== COLON || digits < 1 || digits > 5) return false;
  for (index++; index < length; index++) {
    const code = host.charCodeAt(index);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/**
 * The parts of srvx's URL of a request when the request is plain (module comment), computed as
 * srvx computes them for a server that trusts no proxy; undefined for anything else.
 */
export function plainRequestURLParts(context: NodeRequestContext | undefined): RequestURLParts | undefined {
  const req = context?.req;
  if (!req || (context.trustProxy !== undefined && context.trustProxy !== false)) return undefined;
  const target = req.url;
  if (target?.charCodeAt(0) !== 47) return undefined;
  const host = req.headers.host;
  if (!host || !isPlainHost(host)) return undefined;
  const query = target.indexOf("?");
  return {
    protocol: (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? "https:" : "http:",
    host,
    pathname: query === -1 ? target : target.slice(0, query) || "/",
    search: query === -1 ? "" : target.slice(query),
  };
}

/** Probe requests of {@link agreesWithSrvx}: plain ones of every shape this module builds. */
const PROBES: readonly { url: string; host: string; encrypted: boolean }[] = [
  { url: "/", host: "localhost", encrypted: false },
  { url: "/a/b?c=d&e", host: "Example.COM:8080", encrypted: false },
  { url: "/x?", host: "127.0.0.1:1", encrypted: true },
  { url: "/p%20q/", host: "a_b-c.d", encrypted: false },
];

type URLReader = (request: object) => URL;

/**
 * Whether srvx's own getter builds, for each probe request, the URL this module builds (the same
 * href, protocol, host, pathname and search); false where the probes cannot even be built.
 */
export function agreesWithSrvx(srvxGet: URLReader): boolean {
  try {
    return PROBES.every(({ url, host, encrypted }) => {
      const req = { url, method: "GET", headers: { host }, rawHeaders: ["Host", host], socket: { encrypted } };
      const context = { req: req as unknown as IncomingMessage };
      const parts = plainRequestURLParts(context);
      if (!parts) return false;
      const ours = new FastURL(parts);
      const theirs = srvxGet(new NodeRequest(context));
      return (["href", "protocol", "host", "pathname", "search"] as const).every((key) => ours[key] === theirs[key]);
    });
  } catch {
    return false;
  }
}

/** Set on a request once its URL was decided (by this getter or a write to `_url`). */
const DECIDED = Symbol("containerflare.requestURLDecided");

type NodeRequestInstance = { runtime?: { node?: NodeRequestContext }; [DECIDED]?: true };

/**
 * Gives srvx's Node request class the `_url` accessor of this module (process-wide: srvx has
 * one class); the returned function puts srvx's own back unless something replaced it since.
 * Does nothing where srvx's class has no `_url` accessor, or builds other URLs than this module
 * for the probes (another srvx version): srvx's getter then stays.
 */
export function installFastRequestURL(): () => void {
  const prototype = (NodeRequest as unknown as { prototype: object }).prototype;
  const srvx = Object.getOwnPropertyDescriptor(prototype, "_url");
  const srvxGet = srvx?.get;
  const srvxSet = srvx?.set;
  if (!srvx || !srvxGet || !srvxSet || !agreesWithSrvx((request) => srvxGet.call(request) as URL)) return () => {};
  const accessor: PropertyDescriptor = {
    configurable: true,
    enumerable: srvx.enumerable ?? false,
    get(this: NodeRequestInstance) {
      // srvx's getter keeps the URL once there is one; this decides it only on the first read.
      if (this[DECIDED] !== true) {
        this[DECIDED] = true;
        const parts = plainRequestURLParts(this.runtime?.node);
        if (parts) srvxSet.call(this, new FastURL(parts));
      }
      return srvxGet.call(this);
    },
    set(this: NodeRequestInstance, url: unknown) {
      this[DECIDED] = true;
      srvxSet.call(this, url);
    },
  };
  Object.defineProperty(prototype, "_url", accessor);
  return () => {
    if (Object.getOwnPropertyDescriptor(prototype, "_url")?.get === accessor.get)
      Object.defineProperty(prototype, "_url", srvx);
  };
}
