/**
 * Where no metadata header can be trusted (metadata trust `none`) on Bun and Deno: the metadata
 * headers are removed when the app first reads the request's headers, instead of before it runs.
 * Where the header can be trusted (`signed`, `unsigned`) it has to be read before the app runs,
 * to verify it and give the app its fields, so this applies only where there is nothing to
 * verify: the headers are still removed, just later. Node needs none of it: its raw header list
 * answers for free (metadata-presence.ts).
 *
 * **Bun**: src/bun/requests.ts (the removal waits in a prototype layer of the request).
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
