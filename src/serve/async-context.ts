/**
 * The variable that carries the console's context (console.ts) through the work a request starts:
 * awaits, timers, microtasks, `waitUntil` tasks. Two ways to hold it, chosen once per process:
 *
 * - `async-local-storage`: `AsyncLocalStorage` from `node:async_hooks` (Node and Bun, and Deno
 *   when the other way is not available). One `run()` costs 0.37–0.58 µs on Node 24 and under
 *   0.1 µs on Node 20 and Bun (measured in a loop).
 * - `deno-core`: on Deno, `AsyncLocalStorage` is built on the async context mapping that V8 keeps
 *   with every continuation (a plain object, one key per variable). Each `run()` allocates an entry,
 *   copies the mapping and stores the value in a WeakMap keyed by that entry, and the garbage
 *   collector has to process those WeakMap entries: 4–6 µs a request under load on Deno 2.9, a
 *   fifth of a hello world. The same mapping is reachable through `getAsyncContext` and
 *   `setAsyncContext` of Deno's internal core (`Deno[Deno.internal].core`), so here the value goes
 *   into a copy of the mapping under a key of our own: one small object a run, no WeakMap.
 *   Deno's own variables copy the mapping with every key (object spread), so an app's own
 *   AsyncLocalStorage runs inside ours and ours inside theirs. The key is a symbol: Deno's
 *   Node-compat layer counts string keys to tell whether any AsyncLocalStorage is active, and then
 *   does extra work for every callback; our context needs none of it.
 *
 *   This is not public API, so it is used only when both functions exist and a self-check at
 *   creation passes (the value is seen inside a run and inside an AsyncLocalStorage run nested in
 *   it, and is gone after); else AsyncLocalStorage, as on the other runtimes.
 *
 * Where AsyncLocalStorage is built on context frames (Node's AsyncContextFrame, the default from
 * Node 24: each `run()` sets a new frame, a copy of the running one with the value, and puts the
 * previous value back in a second new frame) the variable also has `enter()`: one frame and no
 * second, because the runtime itself puts the previous frame back when a callback it called
 * returns. Measured in containerflare + Hono on Node 24, against the same server with the plain
 * console, two at a time on one core: `run()` per request cost 8% of its throughput, `enter()`
 * 3%. Where values are kept on async resources instead (Node 20 and 22,
 * `--no-async-context-frame`), a value entered in a callback would stay on its resource (an HTTP
 * connection's parser) into that resource's next callbacks, so there is no `enter()`: a
 * self-check at creation tells the two apart.
 *
 * @module
 */
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";

/** How the variable holds its value (see the module comment). */
export type AsyncContextKind = "async-local-storage" | "deno-core";

/** One value per async context: what `run()` set for the code it runs and the work that starts. */
export interface AsyncContextVariable<T> {
  readonly kind: AsyncContextKind;
  /** Runs `fn()` with `value` as the variable's value, there and in the work it starts. */
  run<R>(value: T, fn: () => R): R;
  /** The value of the running context, if any. */
  get(): T | undefined;
  /**
   * Sets `value` for the rest of the running callback and the work it starts, leaving it to the
   * runtime to put the previous context back when the callback returns. Only where the runtime
   * does that for every callback (context frames, see the module comment); undefined elsewhere.
   * The caller must be such a callback of the runtime's (a request listener of `node:http`), not
   * code whose caller goes on running afterwards, which would go on in `value`'s context.
   */
  readonly enter?: ((value: T) => void) | undefined;
}

/** The two functions of Deno's internal core that read and set the async context mapping. */
interface DenoAsyncContext {
  getAsyncContext(): object | undefined;
  setAsyncContext(mapping: object | undefined): void;
}

/** @internal Deno's internal core, when this is Deno and it has both functions. */
function denoAsyncContext(): DenoAsyncContext | undefined {
  const deno = (globalThis as { Deno?: { internal?: symbol } & Record<symbol, unknown> }).Deno;
  const internal = typeof deno?.internal === "symbol" ? (deno[deno.internal] as { core?: unknown }) : undefined;
  const core = internal?.core as Partial<DenoAsyncContext> | undefined;
  return typeof core?.getAsyncContext === "function" && typeof core.setAsyncContext === "function"
    ? (core as DenoAsyncContext)
    : undefined;
}

/** @internal A variable kept in Deno's async context mapping under its own symbol. */
function denoCoreVariable<T>(core: DenoAsyncContext): AsyncContextVariable<T> {
  const key = Symbol("containerflare.context");
  const { getAsyncContext, setAsyncContext } = core;
  return {
    kind: "deno-core",
    run(value, fn) {
      const previous = getAsyncContext();
      // An ordinary object: one with a null prototype (as Deno's own variables make) is built in
      // V8's slow path, 0.25 µs against 0.02 µs (measured in a loop). Lookups are by own keys.
      setAsyncContext({ ...previous, [key]: value });
      try {
        return fn();
      } finally {
        setAsyncContext(previous);
      }
    },
    get() {
      return (getAsyncContext() as Record<symbol, T> | undefined)?.[key];
    },
  };
}

/** @internal The self-check of a `deno-core` variable: false when any part of it fails or throws. */
function behaves(variable: AsyncContextVariable<object>): boolean {
  const probe = {};
  const other = new AsyncLocalStorage<number>();
  try {
    const inside = variable.run(probe, () => {
      const alone = variable.get() === probe;
      const nested = other.run(1, () => variable.get() === probe && other.getStore() === 1);
      return alone && nested && variable.get() === probe;
    });
    return inside && variable.get() === undefined;
  } catch {
    return false;
  }
}

/**
 * @internal Whether AsyncLocalStorage keeps values in context frames that a callback of the
 * runtime ends by putting back: a value entered in one callback of a resource is gone after it
 * and is not seen by the next callback of that resource (where values are kept on resources, it
 * is). Probed with a storage of its own, disabled after: on Node 20 an enabled storage turns on
 * the promise hooks of every storage, for the whole process.
 */
function entersInFrames(): boolean {
  const storage = new AsyncLocalStorage<object>();
  const probe = {};
  try {
    const resource = new AsyncResource("containerflare.context-probe");
    resource.runInAsyncScope(() => storage.enterWith(probe));
    const seenAfter = storage.getStore() === probe;
    const seenNext = resource.runInAsyncScope(() => storage.getStore() === probe);
    return !seenAfter && !seenNext;
  } catch {
    return false;
  } finally {
    storage.disable();
  }
}

/** Creates the variable: `deno-core` where it is available and behaves (see the module comment). */
export function createAsyncContextVariable<T>(): AsyncContextVariable<T> {
  const core = denoAsyncContext();
  if (core) {
    const variable = denoCoreVariable<T>(core);
    if (behaves(variable as unknown as AsyncContextVariable<object>)) return variable;
  }
  const storage = new AsyncLocalStorage<T>();
  return {
    kind: "async-local-storage",
    run: (value, fn) => storage.run(value, fn),
    get: () => storage.getStore(),
    enter: entersInFrames() ? (value) => storage.enterWith(value) : undefined,
  };
}
