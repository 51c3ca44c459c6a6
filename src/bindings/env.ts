import type { CommandClient } from "../command/client.ts";
import { CommandError } from "../errors.ts";
import { BINDING_CLIENTS, type BindingClient } from "./clients.ts";
import type { BindingKind, ObjectBindingKind } from "./registry.ts";

export { envGet } from "./vars/client.ts";

/** `env` when the app does not declare its own Env type: any binding name. */
// biome-ignore lint/suspicious/noExplicitAny: an env without a declared Env type is as loose as a Worker's untyped env
export type DefaultBindings = Record<string, any>;

/**
 * The Workers-style `env` of a container: declare it like a Worker's Env,
 * `interface Env { CACHE: KVNamespace; DB: D1Database }`, and use `Bindings<Env>`.
 */
export type Bindings<Env extends object = DefaultBindings> = Env;

/** Options of {@link createBindings}. */
export interface BindingsOptions {
  /** Binding kinds by name (`CONTAINERFLARE_BINDINGS`); when absent they come from `host.describe`. */
  bindings?: Record<string, BindingKind>;
}

/** A client class instance: `KvBinding`, `D1Binding`, … */
type BindingObject = object;

function createBinding(client: CommandClient, name: string, kind: ObjectBindingKind): BindingObject {
  return new BINDING_CLIENTS[kind].Binding(client, name);
}

/** Every method of every client class, by name: what a handle of unknown kind offers. */
function clientMethods(): {
  asyncMethods: string[];
  syncMethods: Map<string, ObjectBindingKind>;
  syncWhen: Map<string, [ObjectBindingKind, (args: readonly unknown[]) => boolean][]>;
} {
  const sync = new Map<string, ObjectBindingKind>();
  const syncWhen = new Map<string, [ObjectBindingKind, (args: readonly unknown[]) => boolean][]>();
  const names = new Set<string>();
  for (const [kind, entry] of Object.entries(BINDING_CLIENTS) as [ObjectBindingKind, BindingClient][]) {
    for (const method of entry.syncMethods ?? []) if (!sync.has(method)) sync.set(method, kind);
    for (const [method, matches] of Object.entries(entry.syncWhen ?? {}))
      syncWhen.set(method, [...(syncWhen.get(method) ?? []), [kind, matches]]);
    for (const name of Object.getOwnPropertyNames(entry.Binding.prototype)) {
      if (
        name !== "constructor" &&
        typeof Object.getOwnPropertyDescriptor(entry.Binding.prototype, name)?.value === "function"
      )
        names.add(name);
    }
  }
  return { asyncMethods: [...names].filter((name) => !sync.has(name)), syncMethods: sync, syncWhen };
}

let methods: ReturnType<typeof clientMethods> | undefined;

interface BindingsState {
  load(): Promise<void>;
}

const states = new WeakMap<object, BindingsState>();

/**
 * Fetches what the host offers (once per client) so that vars read as plain values and
 * unknown names throw NO_BINDING synchronously. Optional: bindings work before it, but a var
 * is only readable as `env.NAME` after it.
 */
export async function loadBindings<Env extends object>(env: Env): Promise<Env> {
  const state = states.get(env);
  if (!state) throw new TypeError("loadBindings() expects an env created by createBindings()");
  await state.load();
  return env;
}

/**
 * Creates `ctx.env`: an object whose properties are Workers-compatible binding proxies
 * (`env.CACHE.get("k")`, `env.DB.prepare(sql).all()`, `env.JOBS.send(body)`,
 * `env.FILES.get(key)`, `env.ASSETS.fetch(path)`) that reach the host's real bindings over the
 * command bus. Kinds come from `options.bindings` or, lazily and once, from `host.describe`;
 * until they are known a property is a handle whose methods wait for them. A name the host does
 * not offer throws (or, before the kinds are known, rejects) NO_BINDING naming it.
 */
export function createBindings<Env extends object = DefaultBindings>(
  client: CommandClient,
  options: BindingsOptions = {},
): Bindings<Env> {
  let kinds: Record<string, BindingKind> | undefined = options.bindings ? { ...options.bindings } : undefined;
  let vars: Record<string, unknown> | undefined;
  const cache = new Map<string, unknown>();

  // The client owns the host.describe cache (one request however many envs and handles ask);
  // what is kept here is only what the description says, applied once.
  const load = (): Promise<void> =>
    client.describe().then((description) => {
      if (vars) return;
      // Explicit kinds (CONTAINERFLARE_BINDINGS) win; the description still brings the vars.
      if (kinds) {
        for (const [name, kind] of Object.entries(description.bindings)) if (kind === "var") kinds[name] ??= "var";
      } else kinds = description.bindings;
      vars = description.vars ?? {};
    });

  const missing = (name: string) =>
    new CommandError(
      "NO_BINDING",
      `env.${name}: no binding named ${name}${kinds ? ` (available: ${Object.keys(kinds).join(", ") || "none"})` : ""}`,
    );

  const varValue = (name: string): unknown => {
    if (vars && name in vars) return vars[name];
    throw new CommandError(
      "UNAVAILABLE",
      `env.${name} is a var whose value is not loaded yet: await loadBindings(env) once, or read it with envGet(client, "${name}")`,
    );
  };

  /** The concrete binding once kinds are known (after `load`). */
  const resolve = async (name: string): Promise<BindingObject> => {
    if (!kinds) await load();
    const kind = kinds![name];
    if (kind === undefined) throw missing(name);
    if (kind === "var")
      throw new TypeError(`env.${name} is a var, not a binding: read its value after loadBindings(env)`);
    return bindingFor(name, kind) as BindingObject;
  };

  const bindingFor = (name: string, kind: BindingKind): unknown => {
    if (kind === "var") return varValue(name);
    let binding = cache.get(name);
    if (binding === undefined || binding instanceof LazyBinding) {
      binding = createBinding(client, name, kind as ObjectBindingKind);
      cache.set(name, binding);
    }
    return binding;
  };

  const lazyFor = (name: string): unknown => {
    let handle = cache.get(name);
    if (handle === undefined) {
      handle = new LazyBinding(client, name, () => resolve(name));
      cache.set(name, handle);
    }
    return handle;
  };

  const env = new Proxy(Object.create(null) as Record<string, unknown>, {
    get(_target, property) {
      if (typeof property !== "string" || property === "then" || property === "toJSON") return undefined;
      if (kinds) {
        const kind = kinds[property];
        if (kind !== undefined) return bindingFor(property, kind);
        if (property in Object.prototype) return Reflect.get(Object.prototype, property);
        throw missing(property);
      }
      if (property in Object.prototype) return Reflect.get(Object.prototype, property);
      // Kinds unknown yet: start asking the host now, hand out a handle that waits for the answer.
      load().catch(() => undefined);
      return lazyFor(property);
    },
    has(_target, property) {
      return typeof property === "string" && kinds !== undefined && property in kinds;
    },
    ownKeys() {
      return kinds ? Object.keys(kinds) : [];
    },
    getOwnPropertyDescriptor(_target, property) {
      if (typeof property !== "string" || !kinds || !(property in kinds)) return undefined;
      const kind = kinds[property]!;
      const value = kind === "var" && !(vars && property in vars) ? undefined : bindingFor(property, kind);
      return { configurable: true, enumerable: true, writable: false, value };
    },
    set() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
  states.set(env, { load });
  return env as Bindings<Env>;
}

/**
 * The handle of a binding whose kind is not known yet: every method of every client class, each
 * waiting for `host.describe` and then delegating (or failing with NO_BINDING). A method a kind
 * answers synchronously (D1's `prepare()`) returns that kind's answer at once; the host checks
 * the kind when the command is sent.
 */
class LazyBinding {
  constructor(client: CommandClient, name: string, resolve: () => Promise<BindingObject>) {
    methods ??= clientMethods();
    for (const method of methods.asyncMethods) {
      const syncFor = methods.syncWhen.get(method) ?? [];
      const later = async (args: unknown[]) => {
        const target = (await resolve()) as Record<string, unknown>;
        const fn = target[method];
        if (typeof fn !== "function")
          throw new TypeError(`env.${name} has no ${method}() (it is a ${target.constructor.name})`);
        return (fn as (...values: unknown[]) => unknown).apply(target, args);
      };
      Object.defineProperty(this, method, {
        enumerable: false,
        value: (...args: unknown[]) => {
          for (const [kind, matches] of syncFor) {
            if (!matches(args)) continue;
            const target = createBinding(client, name, kind) as Record<string, (...values: unknown[]) => unknown>;
            return target[method]!(...args);
          }
          return later(args);
        },
      });
    }
    for (const [method, kind] of methods.syncMethods) {
      Object.defineProperty(this, method, {
        enumerable: false,
        value: (...args: unknown[]) => {
          const target = createBinding(client, name, kind) as Record<string, (...values: unknown[]) => unknown>;
          return target[method]!(...args);
        },
      });
    }
  }
}
