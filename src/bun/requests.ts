/**
 * serve()'s requests on Bun: srvx's request properties and the deferred removal of the metadata
 * headers, both given by one prototype per server instead of per request.
 *
 * **srvx's properties.** For every request srvx's Bun adapter calls `Object.defineProperties` on
 * it with `waitUntil`, `runtime` (`{ name: "bun", bun: { server } }`) and `ip` (a getter of
 * `server.requestIP()`), allocating the descriptors, the runtime object and the getter each time.
 * Measured on Bun 1.4.5 in a bare `Bun.serve` hello world, paired with fresh processes: one
 * `Object.setPrototypeOf` to a prototype that carries those three properties answers 1.10x the
 * requests of srvx's way. So where srvx's adapter composes nothing around the fetch serve() gives
 * it (no srvx middleware or plugin that adds one: `server.options.middleware` is empty) and its
 * own wrapper is the one Bun is about to get (`server.serveOptions.fetch`), {@link decorate}
 * puts a wrapper of ours there: it gives each request the server's prototype and calls that
 * fetch, as srvx's does. The values are srvx's: the same `waitUntil` (`server.waitUntil`), a
 * `runtime` of the same shape (one object per server, frozen, where srvx makes one per request)
 * and the same `ip`. What differs: the three are inherited, not own properties
 * (`Object.keys(request)` no longer lists `runtime` and `ip`). Anything else (srvx middleware,
 * srvx's loader) keeps srvx's wrapper; a test compares both ways on Bun.
 *
 * **The metadata headers**, where none can be trusted (metadata trust `none`). Bun's `Request`
 * has no way to ask for one header without building its `Headers` from the native request, and
 * that first `request.headers` read is what the metadata stage cost a Bun hello world: ~2 µs of
 * ~18 µs (measured with wrk -c32, server CPU per request). So the removal waits for the app's
 * first read: until then the request's prototype is a layer over the server's whose `headers`
 * getter, `clone()` and custom inspection first remove both headers from the request's own
 * Headers, then give the request the server's prototype. (`Request.prototype.headers` cannot be
 * wrapped instead: Bun makes it non-configurable.) Every way a Bun app can see a request's
 * headers goes through one of those (checked on Bun 1.4 and by
 * test/integration/metadata-removal.test.ts): `request.headers`, `clone()`, `new Request(request)`,
 * `new Request(url, request)`, `fetch(request)`, `fetch(url, request)`, `console.log(request)` and
 * `Bun.inspect(request)`. The first request is handled eagerly (its headers are read and both
 * names removed): that it succeeds shows that this server's requests have mutable headers, which
 * the getter relies on. When it throws, every request goes the ordinary way (the metadata stage
 * copies the request). Where srvx's wrapper stays, the stage's presence check gives a request the
 * layer (a second prototype change, 1.7% of a hello world's throughput); with ours, the request
 * gets it in the wrapper's one change.
 *
 * Where the header can be trusted it is read and verified before the app runs, and only srvx's
 * properties come from the prototype.
 *
 * @module
 */
import type { Server, ServerRequest } from "srvx";
import { METADATA_HEADER, SIGNATURE_HEADER } from "../metadata-header.ts";
import type { MetadataPresence } from "../serve/metadata-presence.ts";

/** The part of Bun's server srvx's properties read. */
interface BunServer {
  requestIP(request: Request): { address: string } | null;
}

/** srvx's Bun adapter, as far as {@link BunRequests.decorate} uses it. */
interface SrvxBunServer {
  readonly options: { fetch?: unknown; middleware?: readonly unknown[] };
  readonly serveOptions?: { fetch?: unknown };
  readonly fetch?: unknown;
  readonly waitUntil?: (promise: Promise<unknown>) => void;
}

type BunFetch = (request: Request, server: BunServer) => Response | Promise<Response>;
type Fetch = (request: Request) => Response | Promise<Response>;

/** One server's request prototypes. */
export interface BunRequests {
  /**
   * The metadata stage's presence check where no header can be trusted: `false` (nothing left
   * to do) for a request whose removal waits for its first read, or was done at once (the first
   * request); undefined (the stage reads the headers) for any other request, and for every
   * request once the first showed that the removal cannot wait.
   */
  readonly presence: MetadataPresence;
  /**
   * Puts the wrapper that gives requests their prototype in place of srvx's on `server`, before it
   * listens (see the module comment); false, changing nothing, where srvx's stays.
   */
  decorate(server: Server): boolean;
}

/** srvx's three request properties, for requests of `bunServer`; `request` is the request the getter is for. */
function srvxProperties(
  bunServer: BunServer,
  waitUntil: SrvxBunServer["waitUntil"],
  runtime: object,
  request?: Request,
): PropertyDescriptorMap {
  return {
    waitUntil: { value: waitUntil },
    runtime: { enumerable: true, value: runtime },
    ip: {
      enumerable: true,
      configurable: true,
      get(this: Request) {
        return bunServer.requestIP(request ?? this)?.address;
      },
    },
  };
}

/**
 * Creates the prototypes of one Bun server; `deferMetadataRemoval` where no metadata header can
 * be trusted (see the module comment).
 */
export function createBunRequests(deferMetadataRemoval: boolean): BunRequests {
  // srvx's properties go on `base` once the first request names Bun's server.
  const base: object = Object.create(Request.prototype);
  const nativeHeaders = Object.getOwnPropertyDescriptor(Request.prototype, "headers")?.get as
    | ((this: Request) => Headers)
    | undefined;
  const inspect = (globalThis as { Bun?: { inspect?: (value: unknown) => string } }).Bun?.inspect;
  const layer =
    deferMetadataRemoval && nativeHeaders && inspect ? deferringLayer(base, nativeHeaders, inspect) : undefined;
  // Whether requests may wait for the removal: decided by the first request (see the module comment).
  let deferring: boolean | undefined = layer ? undefined : false;
  // What the wrapper gives the next request: the layer once the first request showed it works.
  let requestPrototype: object = base;

  const presence: MetadataPresence = (request) => {
    const prototype = Object.getPrototypeOf(request);
    if (layer !== undefined && prototype === layer.prototype) return false;
    // Only Bun's own requests: a subclass or another Request class is read the ordinary way.
    if (!layer || deferring === false || (prototype !== base && prototype !== Request.prototype)) return undefined;
    if (deferring === undefined) {
      try {
        layer.removeNow(request);
        deferring = true;
        requestPrototype = layer.prototype;
      } catch {
        deferring = false;
        return undefined;
      }
      return false;
    }
    Object.setPrototypeOf(request, layer.prototype);
    return false;
  };

  function decorate(server: Server): boolean {
    const srvx = server as unknown as SrvxBunServer;
    const fetch = srvx.options.fetch as Fetch | undefined;
    const serveOptions = srvx.serveOptions;
    if (typeof fetch !== "function" || !serveOptions || serveOptions.fetch !== srvx.fetch) return false;
    if (srvx.options.middleware && srvx.options.middleware.length > 0) return false;
    let decoratedFor: BunServer | undefined;
    serveOptions.fetch = ((request: Request, bunServer: BunServer) => {
      if (bunServer !== decoratedFor) {
        if (decoratedFor === undefined) {
          decoratedFor = bunServer;
          Object.defineProperties(base, srvxProperties(bunServer, srvx.waitUntil, frozenRuntime(bunServer)));
        } else {
          // Another Bun server (not seen on Bun 1.4): its requests get srvx's own properties.
          Object.defineProperties(request, srvxProperties(bunServer, srvx.waitUntil, runtimeOf(bunServer), request));
          return fetch(request);
        }
      }
      Object.setPrototypeOf(request, requestPrototype);
      return fetch(request);
    }) satisfies BunFetch;
    return true;
  }

  return { presence, decorate };
}

/** srvx's `request.runtime` on Bun. */
function runtimeOf(bunServer: BunServer): ServerRequest["runtime"] & object {
  return { name: "bun", bun: { server: bunServer as never } };
}

/** The runtime object the server's requests share: frozen, since one request must not change another's. */
function frozenRuntime(bunServer: BunServer): object {
  const runtime = runtimeOf(bunServer);
  Object.freeze(runtime.bun);
  return Object.freeze(runtime);
}

/** The layer of a request whose removal waits, and the removal. */
interface DeferringLayer {
  readonly prototype: object;
  /** Removes both headers from the request's own Headers and gives it the server's prototype. */
  removeNow(request: Request): Headers;
}

/** @internal The layer over `base` whose views of the headers remove both first (see the module comment). */
function deferringLayer(
  base: object,
  nativeHeaders: (this: Request) => Headers,
  inspect: (value: unknown) => string,
): DeferringLayer {
  const removeNow = (request: Request): Headers => {
    const headers = nativeHeaders.call(request);
    headers.delete(METADATA_HEADER);
    headers.delete(SIGNATURE_HEADER);
    Object.setPrototypeOf(request, base);
    return headers;
  };
  const prototype: object = Object.create(base, {
    headers: {
      configurable: true,
      get(this: Request) {
        return removeNow(this);
      },
    },
    clone: {
      configurable: true,
      writable: true,
      value(this: Request) {
        removeNow(this);
        return this.clone();
      },
    },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      configurable: true,
      value(this: Request) {
        removeNow(this);
        return inspect(this);
      },
    },
  });
  return { prototype, removeNow };
}
