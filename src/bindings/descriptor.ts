/**
 * The descriptor of a binding kind: everything about the kind that both halves of the command bus
 * and the CLI need, as plain data. A kind's client class (`<kind>/client.ts`) and host handlers
 * (`<kind>/host.ts`) are not referenced from here, so that the container bundle carries no host
 * handlers and the Worker bundle no client classes.
 */

import type { GenericSchema, InferOutput } from "valibot";
import * as v from "valibot";

/** The payload a client sends and the result a host answers for one command (types only). */
export interface CommandShape {
  payload: unknown;
  result: unknown;
}

/** The commands of a kind by name (types only). */
export type CommandShapes = { [command: string]: CommandShape };

/** What a command's descriptor says about it. */
export interface CommandTraits {
  /**
   * Whether the command only reads, so that sending it twice is harmless: the HTTP transport
   * retries only reads, and a TIMEOUT of a read is retryable.
   */
  readonly read: boolean;
}

/** Paths a {@link DevSection} builds Miniflare options with (no node:path here: workerd imports this). */
export interface DevPaths {
  /** Dev's state directory, absolute. */
  persist: string;
  /** A path of wrangler.jsonc made absolute. */
  resolve(path: string): string;
}

/** How `containerflare dev` provides a kind: its wrangler.jsonc section and its Miniflare options. */
export interface DevSection<Schema extends GenericSchema = GenericSchema> {
  /** The top-level key of wrangler.jsonc (`kv_namespaces`). */
  readonly key: string;
  /** Schema of that key's value; unknown fields pass through (wrangler reads them, dev does not). */
  readonly schema: Schema;
  /** The bindings the section declares: binding name → what dev shows next to it (the store's name). */
  bindings(section: InferOutput<Schema>): Record<string, string>;
  /**
   * The Miniflare options for the section. `persist` is dev's state directory (each kind persists
   * under its own subdirectory); `resolve` makes a path of the section absolute (relative paths
   * start at wrangler.jsonc's directory). A `bindings` member is merged with the other kinds'
   * rather than replacing it.
   */
  miniflare(section: InferOutput<Schema>, paths: DevPaths): Record<string, unknown>;
}

/** A binding kind. */
export interface BindingDescriptor<Kind extends string = string, Commands extends CommandShapes = CommandShapes> {
  /** The kind's name, as `host.describe` and `CONTAINERFLARE_BINDINGS` spell it. */
  readonly kind: Kind;
  /** What the kind is called in messages: "KV namespace". */
  readonly title: string;
  /** Every command of the kind. The namespace (`kv.`) is reserved for built-in commands. */
  readonly commands: { readonly [Name in keyof Commands & string]: CommandTraits };
  /**
   * The methods that identify a Worker binding object as this kind; absent for kinds that are not
   * objects (vars). Kinds that name more methods are tried first (D1's three before assets'
   * `fetch`, which any Fetcher has), ties in registry order.
   */
  readonly detect?: readonly string[];
  /** How `containerflare dev` provides the kind from wrangler.jsonc; absent when dev cannot. */
  readonly dev?: DevSection;
  /** Carries the command types; never set at run time. */
  readonly types?: Commands;
}

/**
 * Declares a binding kind. Curried so that the command types are given and the kind inferred:
 * `defineBinding<KvCommands>()({ kind: "kv", … })`.
 */
export function defineBinding<Commands extends CommandShapes>() {
  return <const Kind extends string>(
    descriptor: BindingDescriptor<Kind, Commands>,
  ): BindingDescriptor<Kind, Commands> => descriptor;
}

/** The command shapes a descriptor carries. */
export type CommandsOf<Descriptor> = Descriptor extends BindingDescriptor<string, infer Commands> ? Commands : never;

/** What {@link storeListSection} needs to know about a section. */
export interface StoreListOptions<Entry extends { binding: string }> {
  /** The wrangler.jsonc key (`kv_namespaces`). */
  key: string;
  /** One entry of the list (`{ binding, id? }`). */
  entry: GenericSchema<unknown, Entry>;
  /** The name of the entry's local store (its id, else its binding). */
  store(entry: Entry): string;
  /** The Miniflare option taking `{ BINDING: store }` (`kvNamespaces`). */
  option: string;
  /** The Miniflare persistence option (`kvPersist`) and its subdirectory of dev's state. */
  persist: { option: string; directory: string };
}

/**
 * The dev section of a kind configured as a list of bindings each backed by a persisted store
 * (KV namespaces, D1 databases, R2 buckets): the same shape, one place.
 */
export function storeListSection<Entry extends { binding: string }>(options: StoreListOptions<Entry>): DevSection {
  const stores = (section: Entry[]) =>
    Object.fromEntries(section.map((entry) => [entry.binding, options.store(entry)]));
  return {
    key: options.key,
    schema: v.array(options.entry),
    bindings: (section) => stores(section as Entry[]),
    miniflare: (section, { persist }) => ({
      [options.option]: stores(section as Entry[]),
      [options.persist.option]: `${persist}/${options.persist.directory}`,
    }),
  };
}
