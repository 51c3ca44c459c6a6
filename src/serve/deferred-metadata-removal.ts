/**
 * Where no metadata header can be trusted (metadata trust `none`) on Bun and Deno: the metadata
 * headers are removed when the app first reads the request's headers, instead of before it runs.
 * Where the header can be trusted (`signed`, `unsigned`) it has to be read before the app runs,
 * to verify it and give the app its fields, so this applies only where there is nothing to
 * verify: the headers are still removed, just later. Node needs none of it: its raw header list
 * answers for free (metadata-presence.ts).
 *
 * **Bun.** Its `Request` has no way to ask for one header without building its `Headers` from the
 * native request, and that first `request.headers` read is what the metadata stage cost a Bun
 * hello world: ~2 µs of ~18 µs (measured with wrk -c32, server CPU per request). Until the app's
 * first read the request's prototype is a thin layer over `Request.prototype` whose `headers`
 * getter, `clone()` and custom inspection first remove both headers from the request's own
 * Headers, then give the request its own prototype back. Every way a Bun app can see a request's
 * headers goes through one of those (checked on Bun 1.4 and by test/integration/metadata-removal.test.ts):
 * `request.headers`, `clone()`, `new Request(request)`, `new Request(url, request)`,
 * `fetch(request)`, `fetch(url, request)`, `console.log(request)` and `Bun.inspect(request)`.
 * The first request is handled eagerly (its headers are read and both names removed): that it
 * succeeds shows that this server's requests have mutable headers, which the getter relies on.
 * When it throws, every request goes the ordinary way (the stage copies the request).
 *
 * **Deno.** Asking whether a request names either header takes two single-header lookups
 * (metadata-presence.ts), and those two runtime calls were the stage's whole cost: 2% of a Deno
 * hello world (measured: containerflare 0.970x bare srvx with them, 0.992x without, with the body
 * limit off). Instead, the header list a request fetches from the runtime leaves both names out.
 * Every view of a `Deno.serve` request's headers fetches that list through one getter,
 * `headerList` of its inner request (deno-inner-request.ts): the same views
 * as on Bun, `Deno.inspect` instead of `Bun.inspect`, and a WebSocket upgrade's (checked on Deno
 * 2.9.6 and by the integration test). The getter is not public API: it is wrapped on the first
 * request, which is then read eagerly to check that its Headers came through the wrapper and name
 * neither header; when that fails the wrapper is taken off and every request goes the ordinary
 * way. The wrapper is the process's while any server uses it (it lives on the runtime's own
 * prototype, so it also covers a `Deno.serve` the app runs itself: those two names are
 * containerflare's own) and is taken off when the last one closes.
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import { isMetadataHeaderName, METADATA_HEADER, SIGNATURE_HEADER } from "../metadata-header.ts";
import { innerPrototypeOf, wrapInnerGetter } from "./deno-inner-request.ts";
import type { MetadataPresence, MetadataPresenceCheck } from "./metadata-presence.ts";

/** @internal Removes both headers from the request's own Headers; gives it its prototype back. */
function removeNow(request: Request, nativeHeaders: () => Headers): Headers {
  const headers = nativeHeaders.call(request);
  headers.delete(METADATA_HEADER);
  headers.delete(SIGNATURE_HEADER);
  Object.setPrototypeOf(request, Request.prototype);
  return headers;
}

/**
 * Creates the deferral of one Bun server (see the module comment), as the metadata stage's
 * presence check: `false` (nothing for the stage to do) once the removal is deferred or done,
 * `undefined` when the stage must read the headers itself.
 */
export function createBunMetadataRemovalDeferral(): MetadataPresence {
  const nativeHeaders = Object.getOwnPropertyDescriptor(Request.prototype, "headers")?.get as
    | (() => Headers)
    | undefined;
  const inspect = (globalThis as { Bun?: { inspect?: (value: unknown) => string } }).Bun?.inspect;
  if (!nativeHeaders || !inspect) return () => undefined;
  const deferring: object = Object.create(Request.prototype, {
    headers: {
      configurable: true,
      get(this: Request) {
        return removeNow(this, nativeHeaders);
      },
    },
    clone: {
      configurable: true,
      writable: true,
      value(this: Request) {
        removeNow(this, nativeHeaders);
        return this.clone();
      },
    },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      configurable: true,
      value(this: Request) {
        removeNow(this, nativeHeaders);
        return inspect(this);
      },
    },
  });
  let usable: boolean | undefined;
  return (request) => {
    // Only Bun's own requests: a subclass or another Request class is read the ordinary way.
    if (usable === false || Object.getPrototypeOf(request) !== Request.prototype) return undefined;
    if (usable === undefined) {
      try {
        removeNow(request, nativeHeaders);
        usable = true;
      } catch {
        usable = false;
        return undefined;
      }
      return false;
    }
    Object.setPrototypeOf(request, deferring);
    return false;
  };
}

/** A header list as Deno's inner request gives it: `[name, value]` pairs, names in lowercase. */
type HeaderList = [string, string][];

/** `list` without the metadata headers: `list` itself (no copy) when it names neither. */
export function withoutMetadataHeaders(list: HeaderList): HeaderList {
  for (const [name] of list) {
    if (isMetadataHeaderName(name)) return list.filter(([other]) => !isMetadataHeaderName(other));
  }
  return list;
}

/** How many header lists went through the wrapper: the first request's check reads it. */
let listsRead = 0;

/** The `headerList` getter that leaves the metadata headers out of what `read` (the runtime's) gives. */
const headerListWithoutMetadata = (read: (this: object) => unknown) =>
  function (this: object): HeaderList {
    listsRead++;
    return withoutMetadataHeaders(read.call(this) as HeaderList);
  };

/**
 * Creates the deferral of one Deno server (see the module comment): `false` for every
 * `Deno.serve` request once the wrapper is in and passed its check, `undefined` (the stage reads
 * the headers itself) for anything else, and for every request when the check failed.
 */
export function createDenoMetadataRemovalDeferral(): MetadataPresenceCheck {
  let prototype: object | undefined;
  let release = () => {};
  let usable: boolean | undefined;
  /** The first request: wraps the getter, then reads this request's Headers through it. */
  const begin = (request: ServerRequest): boolean => {
    prototype = innerPrototypeOf(request);
    const drop = prototype && wrapInnerGetter(prototype, "headerList", headerListWithoutMetadata);
    if (!drop) return false;
    release = drop;
    try {
      const before = listsRead;
      // Deno's Headers fetch the list on their first lookup, not when `request.headers` is read.
      const headers = request.headers;
      const named = headers.has(METADATA_HEADER) || headers.has(SIGNATURE_HEADER);
      if (!named && listsRead > before) return true;
    } catch {
      // A runtime without the getter's behaviour: the ordinary way.
    }
    drop();
    return false;
  };
  const presence: MetadataPresence = (request) => {
    if (usable === undefined) {
      usable = begin(request);
      return usable ? false : undefined;
    }
    return usable && innerPrototypeOf(request) === prototype ? false : undefined;
  };
  return { presence, release: () => release() };
}
