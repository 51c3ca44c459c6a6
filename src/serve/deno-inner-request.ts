/**
 * Deno's inner request: the object a `Deno.serve` request keeps under its `request` symbol, which
 * every read of the request's headers and body goes through (`headerList`, `body`, and `header()`
 * for one header). Reading one header through it, or wrapping one of its getters once for the
 * process, is what lets serve() spare every request a call into the runtime
 * (metadata-presence.ts, deferred-metadata-removal.ts, body-limit.ts).
 *
 * None of it is public API: it is found by feature detection on a request, each user checks what
 * it relies on, and falls back to the public way when anything is missing. Checked on Deno 2.9.6.
 *
 * @module
 */

/** What serve() reads of Deno's inner request directly: one header by its lowercase name, or null. */
export interface DenoInnerRequest {
  header?(name: string): string | null;
}

/** The symbol Deno keeps the inner request under, once a request showed it. */
let innerSymbol: symbol | undefined;

/** @internal The inner request of a `Deno.serve` request; undefined for any other request. */
export function innerRequestOf(request: object): DenoInnerRequest | undefined {
  innerSymbol ??= Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === "request");
  const inner = innerSymbol === undefined ? undefined : (request as Record<symbol, unknown>)[innerSymbol];
  return typeof inner === "object" && inner !== null ? (inner as DenoInnerRequest) : undefined;
}

/** @internal The prototype of `request`'s inner request (the runtime's class), if it has one. */
export function innerPrototypeOf(request: object): object | undefined {
  const inner = innerRequestOf(request);
  return inner === undefined ? undefined : (Object.getPrototypeOf(inner) ?? undefined);
}

/** One wrapped getter: the prototype it is on, the runtime's descriptor, and its users. */
interface WrappedGetter {
  prototype: object;
  original: PropertyDescriptor;
  users: number;
}

/** The getters wrapped in this process, by name (one prototype per name: the runtime's class). */
const wrapped = new Map<string, WrappedGetter>();

/**
 * Wraps the getter `name` of `prototype` for the process, with the getter `wrap` makes from the
 * runtime's own, or joins the wrapper already there (`wrap` is then not called). Returns what
 * drops this user (the last one puts the runtime's getter back), or undefined when the getter is
 * not there, cannot be replaced, or is wrapped on another prototype.
 */
export function wrapInnerGetter(
  prototype: object,
  name: string,
  wrap: (read: (this: object) => unknown) => (this: object) => unknown,
): (() => void) | undefined {
  let entry = wrapped.get(name);
  if (entry && entry.prototype !== prototype) return undefined;
  if (!entry) {
    const original = Object.getOwnPropertyDescriptor(prototype, name);
    const read = original?.get;
    if (!original?.configurable || typeof read !== "function") return undefined;
    Object.defineProperty(prototype, name, {
      configurable: true,
      enumerable: original.enumerable ?? false,
      get: wrap(read),
    });
    entry = { prototype, original, users: 0 };
    wrapped.set(name, entry);
  }
  const held = entry;
  held.users++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--held.users > 0) return;
    Object.defineProperty(held.prototype, name, held.original);
    wrapped.delete(name);
  };
}
