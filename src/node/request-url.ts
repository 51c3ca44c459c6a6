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
 * Routers read only `request.url`, the href. For a plain request whose target is also simple
 * ({@link isSimpleTarget}: what srvx's URL keeps as it is) `url` is the joined string itself, and
 * the URL object is built only when something reads `_url`: in a running Hono server on Node 24
 * the URL object and the getters in front of it were 2% of a hello-world request's CPU, and the
 * joined string made that server 1.016x as fast (paired rounds, docs/bench.md's method).
 *
 * A difference no one can observe through the Request: `request._url` is then an instance of
 * srvx's exported `FastURL` rather than of srvx's private subclass of it (same prototype
 * members, same fields). test/unit/request-url.test.ts compares both builds on the installed srvx;
 * and since an app may run a newer srvx than the tests did, the accessors are installed only after
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

/** The `Host` header of a plain request (module comment: no trusted proxy, a strict host shape), else undefined. */
function plainHost(context: NodeRequestContext | undefined): string | undefined {
  const req = context?.req;
  if (!req || (context.trustProxy !== undefined && context.trustProxy !== false)) return undefined;
  const host = req.headers.host;
  return host && isPlainHost(host) ? host : undefined;
}

/** The protocol srvx gives a request that trusts no proxy: the socket's. */
function socketProtocol(req: IncomingMessage): string {
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? "https:" : "http:";
}

/**
 * The parts of srvx's URL of a request when the request is plain (module comment), computed as
 * srvx computes them for a server that trusts no proxy; undefined for anything else.
 */
export function plainRequestURLParts(context: NodeRequestContext | undefined): RequestURLParts | undefined {
  const host = plainHost(context);
  const req = context?.req as IncomingMessage;
  const target = req?.url;
  if (host === undefined || target?.charCodeAt(0) !== 47) return undefined;
  const query = target.indexOf("?");
  return {
    protocol: socketProtocol(req),
    host,
    pathname: query === -1 ? target : target.slice(0, query) || "/",
    search: query === -1 ? "" : target.slice(query),
  };
}

const SLASH = 47;
const PERCENT = 37;
const QUESTION = 63;

/**
 * Whether `code` may be in the path of a simple target: a letter, a digit or one of
 * `-._~!$&'()*+,;=:@/%` (RFC 3986's pchar and `/`, none of which srvx's URL normalizes).
 */
function isSimplePathCode(code: number): boolean {
  return (
    isLabelCode(code) || // letters, digits, _ and -
    code === DOT ||
    code === 126 || // ~
    code === 33 || // !
    code === 36 || // $
    (code >= 38 && code <= 44) || // & ' ( ) * + ,
    code === 59 || // ;
    code === 61 || // =
    code === COLON ||
    code === 64 || // @
    code === SLASH ||
    code === PERCENT
  );
}

/** Whether `code` may be in the query of a simple target: printable ASCII but `#"'<>`. */
function isSimpleQueryCode(code: number): boolean {
  // 35 #, 34 ", 39 ', 60 <, 62 >
  return code > 32 && code < 127 && code !== 35 && code !== 34 && code !== 39 && code !== 60 && code !== 62;
}

/**
 * Whether `target` is an origin-form request target whose URL srvx builds by joining it to the
 * protocol and host as it is: its path has only {@link isSimplePathCode} characters and no
 * segment that starts with `.` or `%` (so no dot segment, written plainly or percent-encoded,
 * which srvx resolves), its query only {@link isSimpleQueryCode} ones. Stricter than srvx's own
 * test (a `.well-known` path, say, is not simple): what is not simple goes to srvx.
 */
export function isSimpleTarget(target: string): boolean {
  const length = target.length;
  if (target.charCodeAt(0) !== SLASH) return false;
  let index = 1;
  for (let previous = SLASH; index < length; index++) {
    const code = target.charCodeAt(index);
    if (code === QUESTION) break;
    if (!isSimplePathCode(code) || (previous === SLASH && (code === DOT || code === PERCENT))) return false;
    previous = code;
  }
  for (index++; index < length; index++) if (!isSimpleQueryCode(target.charCodeAt(index))) return false;
  return true;
}

/**
 * The href of srvx's URL of a plain request with a simple target ({@link isSimpleTarget}): the
 * protocol, `//`, the host and the target as they are, which is what srvx's URL joins them to;
 * undefined for anything else. A string, with no URL object: most apps only route on the href.
 */
export function plainRequestHref(context: NodeRequestContext | undefined): string | undefined {
  const req = context?.req as IncomingMessage;
  const target = req?.url;
  // The target first: a plain request with another target goes on to the `_url` accessor, which
  // checks the host itself.
  if (target === undefined || !isSimpleTarget(target)) return undefined;
  const host = plainHost(context);
  return host === undefined ? undefined : `${socketProtocol(req)}//${host}${target}`;
}

/** Probe requests of {@link agreesWithSrvx}: plain ones of every shape this module builds. */
const PROBES: readonly { url: string; host: string; encrypted: boolean }[] = [
  { url: "/", host: "localhost", encrypted: false },
  { url: "/a/b?c=d&e", host: "Example.COM:8080", encrypted: false },
  { url: "/x?", host: "127.0.0.1:1", encrypted: true },
  { url: "/p%20q/", host: "a_b-c.d", encrypted: false },
  { url: "/A-z_0.9~!$&'()*+,;=:@%41/?q=!$%()*+,-./:;=?@[]^_`{|}~", host: "localhost:65535", encrypted: false },
];

type URLReader = (request: object) => URL;
type HrefReader = (request: object) => string;

/**
 * Whether srvx's own getters build, for each probe request, the URL this module builds (the same
 * href, protocol, host, pathname and search, and the same `url`); false where the probes cannot
 * even be built.
 */
export function agreesWithSrvx(srvxGet: URLReader, srvxHref: HrefReader): boolean {
  try {
    return PROBES.every(({ url, host, encrypted }) => {
      const req = { url, method: "GET", headers: { host }, rawHeaders: ["Host", host], socket: { encrypted } };
      const context = { req: req as unknown as IncomingMessage };
      const parts = plainRequestURLParts(context);
      const href = plainRequestHref(context);
      if (!parts || href === undefined) return false;
      const ours = new FastURL(parts);
      const theirs = srvxGet(new NodeRequest(context));
      // Read first: reading a part of srvx's URL makes it a native URL, whose href may differ.
      const theirHref = theirs.href;
      const sameParts = (["href", "protocol", "host", "pathname", "search"] as const).every(
        (key) => ours[key] === theirs[key],
      );
      return sameParts && href === theirHref && href === srvxHref(new NodeRequest(context));
    });
  } catch {
    return false;
  }
}

/**
 * A request's URL state, in one own property: absent until something reads the URL; the href of
 * a plain request whose URL {@link plainRequestHref} built as a string, where neither `_url` nor
 * srvx's native request exists yet; `true` once the URL object was decided (by the `_url`
 * accessor of this module, a write to `_url`, or srvx's native request, which keeps its own URL).
 */
const URL_STATE = Symbol("containerflare.requestURLState");

type NodeRequestInstance = { runtime?: { node?: NodeRequestContext }; [URL_STATE]?: string | true };

/** Reads a property of a request through srvx's own accessor. */
type SrvxAccessor = (this: object) => unknown;

/**
 * Gives srvx's Node request class the `url` and `_url` accessors of this module (process-wide:
 * srvx has one class), and marks the URL decided once srvx builds its native request; the
 * returned function puts srvx's own back unless something replaced them since. Does nothing where
 * srvx's class lacks one of these accessors, or builds other URLs than this module for the
 * probes (another srvx version): srvx's getters then stay.
 */
export function installFastRequestURL(): () => void {
  const prototype = (NodeRequest as unknown as { prototype: object }).prototype;
  const srvx = {
    url: Object.getOwnPropertyDescriptor(prototype, "url"),
    _url: Object.getOwnPropertyDescriptor(prototype, "_url"),
    _request: Object.getOwnPropertyDescriptor(prototype, "_request"),
  };
  const urlGet = srvx.url?.get as SrvxAccessor | undefined;
  const objectGet = srvx._url?.get as SrvxAccessor | undefined;
  const objectSet = srvx._url?.set as ((this: object, url: unknown) => void) | undefined;
  const requestGet = srvx._request?.get as SrvxAccessor | undefined;
  if (!urlGet || !objectGet || !objectSet || !requestGet) return () => {};
  if (
    !agreesWithSrvx(
      (request) => objectGet.call(request) as URL,
      (request) => urlGet.call(request) as string,
    )
  )
    return () => {};
  const accessors: Record<keyof typeof srvx, PropertyDescriptor> = {
    url: {
      get(this: NodeRequestInstance) {
        const state = this[URL_STATE];
        if (typeof state === "string") return state;
        if (state === undefined) {
          const href = plainRequestHref(this.runtime?.node);
          if (href !== undefined) {
            this[URL_STATE] = href;
            return href;
          }
        }
        return urlGet.call(this);
      },
    },
    _url: {
      get(this: NodeRequestInstance) {
        // srvx's getter keeps the URL once there is one; this decides it only on the first read.
        if (this[URL_STATE] !== true) {
          this[URL_STATE] = true;
          const parts = plainRequestURLParts(this.runtime?.node);
          if (parts) objectSet.call(this, new FastURL(parts));
        }
        return objectGet.call(this);
      },
      set(this: NodeRequestInstance, url: unknown) {
        this[URL_STATE] = true;
        objectSet.call(this, url);
      },
    },
    _request: {
      // srvx's native request (built from `url`) answers `url` from then on, as in srvx.
      get(this: NodeRequestInstance) {
        const request = requestGet.call(this);
        this[URL_STATE] = true;
        return request;
      },
    },
  };
  for (const key of Object.keys(accessors) as (keyof typeof srvx)[]) {
    const own = srvx[key] as PropertyDescriptor;
    Object.defineProperty(prototype, key, {
      configurable: true,
      enumerable: own.enumerable ?? false,
      ...accessors[key],
    });
  }
  return () => {
    for (const key of Object.keys(accessors) as (keyof typeof srvx)[]) {
      if (Object.getOwnPropertyDescriptor(prototype, key)?.get === accessors[key].get)
        Object.defineProperty(prototype, key, srvx[key] as PropertyDescriptor);
    }
  };
}
