/**
 * `ctx.env` for the few milliseconds after start-up in which the command bus module (the command
 * client and the binding classes, see command-bus.ts) is still loading: an object that takes
 * every binding call as it comes and replays it on the real `env` once it is there. It knows no
 * binding kind: a property read gives a handle, a call gives a handle that is also a promise of
 * the call's result, and each call starts as soon as the real env exists, awaited or not (so a
 * fire-and-forget `env.JOBS.send(body)` is sent). `env.DB.prepare(sql).bind(1).first()` therefore
 * behaves as on the real env, except that errors the real env throws synchronously (an unknown
 * binding) reject the chain instead, as the real env's own handles do before `host.describe`.
 *
 * @module
 */

/** What a call's handle answers as the promise of its result: `await`, `.catch()`, `.finally()`. */
const PROMISE_METHODS = new Set<PropertyKey>(["then", "catch", "finally"]);

/** Keys never forwarded: what `await`, `JSON.stringify` and inspection ask of a plain object. */
const PLAIN_KEYS = new Set<PropertyKey>(["then", "toJSON"]);

// A function target, so that a handle can be called; arrow functions have no prototype to leak.
const callable = () => undefined;

/**
 * A handle of `owner[key]`, or of a call's result (`key` undefined: the value of `owner` itself).
 * `owner` is a thunk: reading a property starts nothing (and cannot leave a rejected promise
 * behind); only a call does.
 */
function handle(owner: () => Promise<unknown>, key: PropertyKey | undefined, thenable: boolean): unknown {
  let settled: Promise<unknown> | undefined;
  const value = () =>
    (settled ??= key === undefined ? owner() : owner().then((object) => (object as Record<PropertyKey, unknown>)[key]));
  return new Proxy(callable, {
    get(_target, property) {
      if (thenable && PROMISE_METHODS.has(property)) {
        const promise = value();
        const method = promise[property as "then"] as (...args: unknown[]) => unknown;
        return method.bind(promise);
      }
      if (typeof property === "symbol" || PLAIN_KEYS.has(property)) return undefined;
      return handle(value, property, false);
    },
    apply(_target, _this, args: unknown[]) {
      // Called on its owner (`env.DB.prepare(sql)` runs with `this` = the real `env.DB`).
      const result = owner().then((object) => {
        const member = key === undefined ? object : (object as Record<PropertyKey, unknown>)[key];
        if (typeof member !== "function") throw new TypeError(`env: ${String(key ?? "value")} is not a function`);
        return member.apply(object, args) as unknown;
      });
      return handle(() => result, undefined, true);
    },
  });
}

/**
 * The stand-in `env` that forwards to `env` once it resolves. Binding handles are cached by name
 * until then, so `env.CACHE === env.CACHE` as on the real env.
 */
export function createPendingEnv(env: Promise<object>): object {
  const handles = new Map<string, unknown>();
  // Once the real env is there, a read goes to it and the handles are dropped: the map only ever
  // holds the names read in the few milliseconds before, however long a reference is kept.
  let real: object | undefined;
  env.then(
    (resolved) => {
      real = resolved;
      handles.clear();
    },
    () => handles.clear(),
  );
  return new Proxy(Object.create(null) as object, {
    get(_target, property) {
      if (real) return Reflect.get(real, property);
      if (typeof property !== "string" || PLAIN_KEYS.has(property)) return undefined;
      let binding = handles.get(property);
      if (binding === undefined) {
        binding = handle(() => env, property, false);
        handles.set(property, binding);
      }
      return binding;
    },
    has: () => false,
    ownKeys: () => [],
    set: () => false,
    deleteProperty: () => false,
  });
}
