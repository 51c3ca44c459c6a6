/**
 * Bun, where no metadata header can be trusted (metadata trust `none`): the metadata headers are
 * removed when the request's headers are first read, instead of before the app runs.
 *
 * Why: Bun's `Request` has no way to ask for one header without building its `Headers` from the
 * native request, and that first `request.headers` read is what the metadata stage cost a Bun
 * hello world: ~2 µs of ~18 µs (measured with wrk -c32, server CPU per request). Where the header
 * can be trusted (`signed`, `unsigned`) it has to be read before the app runs, to verify it and
 * give the app its fields, so this applies only where there is nothing to verify: it is still
 * removed, just later.
 *
 * How: until then the request's prototype is a thin layer over `Request.prototype` whose `headers`
 * getter, `clone()` and custom inspection first remove both headers from the request's own
 * Headers, then give the request its own prototype back. Every way a Bun app can see a request's
 * headers goes through one of those (checked on Bun 1.4 and by test/integration/metadata-removal.test.ts):
 * `request.headers`, `clone()`, `new Request(request)`, `new Request(url, request)`,
 * `fetch(request)`, `fetch(url, request)`, `console.log(request)` and `Bun.inspect(request)`.
 *
 * The first request is handled eagerly (its headers are read and both names removed): that it
 * succeeds shows that this server's requests have mutable headers, which the getter relies on.
 * When it throws, every request goes the ordinary way (the stage copies the request).
 *
 * @module
 */
import { METADATA_HEADER, SIGNATURE_HEADER } from "../metadata-header.ts";
import type { MetadataPresence } from "./metadata-presence.ts";

/** @internal Removes both headers from the request's own Headers; gives it its prototype back. */
function removeNow(request: Request, nativeHeaders: () => Headers): Headers {
  const headers = nativeHeaders.call(request);
  headers.delete(METADATA_HEADER);
  headers.delete(SIGNATURE_HEADER);
  Object.setPrototypeOf(request, Request.prototype);
  return headers;
}

/**
 * Creates the deferral of one server (Bun only: see the module comment), as the metadata stage's
 * presence check: `false` (nothing for the stage to do) once the removal is deferred or done,
 * `undefined` when the stage must read the headers itself.
 */
export function createMetadataRemovalDeferral(): MetadataPresence {
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
