import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseJSONC } from "confbox/jsonc";
import * as v from "valibot";
import type { DevSection } from "../../bindings/descriptor.ts";
import { BINDINGS, type BindingKind } from "../../bindings/registry.ts";
import { CliError, errorLine } from "../errors.ts";

/** The wrangler.jsonc section of every kind `containerflare dev` provides, by key. */
const DEV_SECTIONS = BINDINGS.flatMap((binding) =>
  binding.dev ? [{ kind: binding.kind as BindingKind, dev: binding.dev as DevSection }] : [],
);

const compatibilityDate = v.pipe(v.string(), v.isoDate("compatibility_date must be a date like 2025-09-01"));
const nonEmpty = v.pipe(v.string(), v.nonEmpty());

/**
 * A Worker dev runs beside its own (the target of a service binding, the home of a Durable
 * Object class): its script, and optionally its own compatibility settings.
 */
const DevWorkerSchema = v.union([
  nonEmpty,
  v.looseObject({
    script: nonEmpty,
    compatibility_date: v.optional(compatibilityDate),
    compatibility_flags: v.optional(v.array(v.string())),
  }),
]);

/**
 * `containerflare`: dev-only settings wrangler does not have. `workers` maps the name of a Worker
 * that `services` or `durable_objects` (`script_name`) refer to, to the script dev runs it from:
 * `"containerflare": { "workers": { "api": "../api/src/index.ts" } }`. Wrangler ignores the key
 * (with a warning about an unexpected field).
 */
const ContainerflareSectionSchema = v.looseObject({
  workers: v.optional(v.record(nonEmpty, DevWorkerSchema)),
});

/** Instances dev allows per container class when `max_instances` is not set: its own bound, not the platform's. */
export const DEFAULT_MAX_INSTANCES = 20;

/** A `containers` entry: dev reads the class and the bound on its instances; the image is for deploys. */
const ContainerSchema = v.looseObject({
  class_name: nonEmpty,
  max_instances: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/**
 * The part of a `wrangler.jsonc` that `containerflare dev` reads: the name, the compatibility
 * settings, the Worker's `main` and its `containers` (dev runs that Worker), each binding kind's
 * own section (from the registry) and the dev-only `containerflare` section. Every other field
 * (migrations, routes, images, …) is for `wrangler deploy` and passes through unread.
 */
export const WranglerConfigSchema = v.looseObject({
  name: v.optional(v.string()),
  main: v.optional(nonEmpty),
  containers: v.optional(v.array(ContainerSchema)),
  compatibility_date: v.optional(compatibilityDate),
  compatibility_flags: v.optional(v.array(v.string())),
  ...Object.fromEntries(DEV_SECTIONS.map(({ dev }) => [dev.key, v.optional(dev.schema)])),
  containerflare: v.optional(ContainerflareSectionSchema),
});

/** A validated `wrangler.jsonc`. */
export type WranglerConfig = v.InferOutput<typeof WranglerConfigSchema> & Record<string, unknown>;

/** The bindings `containerflare dev` provides, as read from the app's configuration. */
export interface DevBindings {
  /** Worker name (`name`), reported as `worker_name`. */
  workerName?: string;
  compatibilityDate?: string;
  compatibilityFlags: string[];
  /** `vars`: plain values, readable by the app through `env.get`. */
  vars: Record<string, unknown>;
  /**
   * Every binding and var the configuration declares, in registry order: name → kind, and what dev
   * shows next to it (the store's name).
   */
  declared: { name: string; kind: BindingKind; resource: string }[];
  /** Each kind's section as validated, by wrangler.jsonc key: what Miniflare's options come from. */
  sections: Record<string, unknown>;
  /** The directory of the configuration: relative paths in it start there. */
  baseDir: string;
  /** The file these came from; undefined when the app has no configuration. */
  file?: string;
  /**
   * The Workers dev runs beside its own because a binding names them (a service, the script of
   * a Durable Object class), from `containerflare.workers`; absent when no binding does.
   */
  workers?: DevWorkerScript[];
  /**
   * The app's own Worker, when the configuration names a `main` with `containers`: dev runs it
   * in place of its built-in Worker, with each container instance a local app process.
   */
  worker?: UserWorker;
}

/** The Worker of the app's configuration (`main`) and the container classes it declares. */
export interface UserWorker {
  /** Its entry module, absolute. */
  main: string;
  /**
   * Every `containers` entry: the Durable Object class, the binding that reaches it (its
   * `durable_objects` binding, else one of dev's, `CONTAINERFLARE_DEV_CLASS_<class>`) and its
   * bound on instances.
   */
  containers: { className: string; binding: string; maxInstances: number }[];
  /** The Worker's own Durable Object namespaces (no `script_name`), dev's for container classes included. */
  objects: { binding: string; className: string }[];
}

/** A Worker dev runs beside its own. */
export interface DevWorkerScript {
  /** The Worker's name, as `services[].service` and `durable_objects.bindings[].script_name` spell it. */
  name: string;
  /** Its entry module, absolute. */
  script: string;
  compatibilityDate?: string;
  compatibilityFlags?: string[];
}

/** Configuration file names looked for next to the entry, in order. */
export const CONFIG_FILES = ["wrangler.jsonc", "wrangler.json"];

/** The app's configuration file: `explicit` when given, else the first of {@link CONFIG_FILES} beside the entry. */
export function findWranglerConfig(entryPath: string, explicit?: string, cwd = process.cwd()): string | undefined {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new CliError(`config not found: ${explicit} (looked at ${path})`);
    return path;
  }
  for (const file of CONFIG_FILES) {
    const path = join(dirname(entryPath), file);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function issuePath(issue: v.BaseIssue<unknown>): string {
  return (issue.path ?? []).map((item) => String(item.key)).join(".") || "(top level)";
}

/** Parses and validates a wrangler.jsonc text; a one-line {@link CliError} names what is wrong. */
export function parseWranglerConfig(text: string, file: string): WranglerConfig {
  let json: unknown;
  try {
    json = parseJSONC(text, { allowTrailingComma: true });
  } catch (error) {
    throw new CliError(`cannot parse ${file}: ${errorLine(error)}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new CliError(`${file} must hold a JSON object`);
  const result = v.safeParse(WranglerConfigSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    throw new CliError(`invalid ${file}: ${issuePath(issue)}: ${issue.message}`);
  }
  return result.output;
}

/** Turns a configuration into the bindings dev provides; relative paths start at `baseDir`. */
export function devBindings(config: WranglerConfig, baseDir: string, file?: string): DevBindings {
  const bindings: DevBindings = {
    compatibilityFlags: config.compatibility_flags ?? [],
    vars: { ...(config.vars as Record<string, unknown> | undefined) },
    declared: [],
    sections: {},
    baseDir,
  };
  for (const { kind, dev } of DEV_SECTIONS) {
    const section = config[dev.key];
    if (section === undefined) continue;
    bindings.sections[dev.key] = section;
    for (const [name, resource] of Object.entries(dev.bindings(section)))
      bindings.declared.push({ name, kind, resource });
  }
  if (config.name) bindings.workerName = config.name;
  if (config.compatibility_date) bindings.compatibilityDate = config.compatibility_date;
  if (file) bindings.file = file;
  const shown = file ? relative(process.cwd(), file) || file : "wrangler.jsonc";
  const workers = devWorkerScripts(bindings, config.containerflare?.workers ?? {}, shown);
  if (workers.length > 0) bindings.workers = workers;
  if (config.main && config.containers && config.containers.length > 0)
    bindings.worker = userWorker(config, baseDir, shown);
  return bindings;
}

/** The `main` Worker and its container classes; a container without a Durable Object class of the Worker is one error line. */
function userWorker(config: WranglerConfig, baseDir: string, file: string): UserWorker {
  const objects = (
    (config.durable_objects as { bindings?: { name: string; class_name: string; script_name?: string }[] })?.bindings ??
    []
  )
    .filter((entry) => entry.script_name === undefined)
    .map((entry) => ({ binding: entry.name, className: entry.class_name }));
  const containers = (config.containers ?? []).map((container) => {
    let binding = objects.find((entry) => entry.className === container.class_name)?.binding;
    if (!binding) {
      // A namespace of dev's own, so that the outbound route reaches the class without ctx.exports.
      binding = `CONTAINERFLARE_DEV_CLASS_${container.class_name}`;
      objects.push({ binding, className: container.class_name });
    }
    return { className: container.class_name, binding, maxInstances: container.max_instances ?? DEFAULT_MAX_INSTANCES };
  });
  const seen = new Set<string>();
  for (const { className } of containers) {
    if (seen.has(className)) throw new CliError(`${file}: containers names the class "${className}" twice`);
    seen.add(className);
  }
  return { main: resolve(baseDir, config.main!), containers, objects };
}

/**
 * The Workers the Miniflare options of the sections refer to by name, each with the bindings
 * that refer to it: `serviceBindings` (`{ API: "api" }`, `{ API: { name: "api", entrypoint } }`)
 * and the `scriptName` of `durableObjects`.
 */
function referencedWorkers(options: Record<string, unknown>): Map<string, string[]> {
  const referenced = new Map<string, string[]>();
  const add = (worker: unknown, binding: string) => {
    if (typeof worker !== "string" || worker === "") return;
    referenced.set(worker, [...(referenced.get(worker) ?? []), binding]);
  };
  const services = (options.serviceBindings ?? {}) as Record<string, unknown>;
  for (const [binding, target] of Object.entries(services))
    add(typeof target === "string" ? target : (target as { name?: unknown } | null)?.name, binding);
  const objects = (options.durableObjects ?? {}) as Record<string, unknown>;
  for (const [binding, target] of Object.entries(objects))
    add(
      typeof target === "object" && target !== null ? (target as { scriptName?: unknown }).scriptName : undefined,
      binding,
    );
  return referenced;
}

/** The Workers dev runs beside its own, from `containerflare.workers`; a one-line error names a missing one. */
function devWorkerScripts(
  bindings: DevBindings,
  scripts: Record<string, v.InferOutput<typeof DevWorkerSchema>>,
  file: string,
): DevWorkerScript[] {
  // The sections' options only serve to read the names here: no path of `persist` is used.
  const referenced = referencedWorkers(devMiniflareOptions(bindings, ""));
  const workers: DevWorkerScript[] = [];
  for (const [name, users] of referenced) {
    const entry = Object.hasOwn(scripts, name) ? scripts[name] : undefined;
    if (entry === undefined) {
      throw new CliError(
        `${file}: ${users.join(", ")} ${users.length > 1 ? "name" : "names"} the Worker "${name}", which containerflare dev runs from a script of yours: add "containerflare": { "workers": { "${name}": "./path/to/worker.ts" } }`,
      );
    }
    const settings = typeof entry === "string" ? { script: entry } : entry;
    workers.push({
      name,
      script: resolve(bindings.baseDir, settings.script),
      ...(typeof entry === "object" && entry.compatibility_date ? { compatibilityDate: entry.compatibility_date } : {}),
      ...(typeof entry === "object" && entry.compatibility_flags
        ? { compatibilityFlags: entry.compatibility_flags }
        : {}),
    });
  }
  return workers;
}

/** Reads the app's bindings: from `explicit` or the configuration beside the entry, else none. */
export function readDevBindings(entryPath: string, explicit?: string, cwd = process.cwd()): DevBindings {
  const file = findWranglerConfig(entryPath, explicit, cwd);
  if (!file) return devBindings({}, dirname(entryPath));
  const shown = relative(cwd, file) || file;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${shown}: ${errorLine(error)}`);
  }
  return devBindings(parseWranglerConfig(text, shown), dirname(file), file);
}

/** Every binding (not var) the configuration declares: what dev allows the app to use. */
export function declaredBindingNames(bindings: DevBindings): string[] {
  return bindings.declared.filter((entry) => entry.kind !== "var").map((entry) => entry.name);
}

/**
 * Every binding (not var) the configuration declares, with its kind: the `allow` record that
 * tells the command host each kind, where detection cannot (in workerd a service binding and the
 * assets binding are both Fetchers).
 */
export function declaredBindingKinds(bindings: DevBindings): Record<string, Exclude<BindingKind, "var">> {
  const kinds: Record<string, Exclude<BindingKind, "var">> = {};
  for (const entry of bindings.declared) if (entry.kind !== "var") kinds[entry.name] = entry.kind;
  return kinds;
}

/** The Miniflare options of every kind's section; `persist` is dev's state directory. */
export function devMiniflareOptions(bindings: DevBindings, persist: string): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const paths = { persist, resolve: (path: string) => resolve(bindings.baseDir, path) };
  for (const { dev } of DEV_SECTIONS) {
    const section = bindings.sections[dev.key];
    if (section === undefined) continue;
    const { bindings: values, ...rest } = dev.miniflare(section, paths) as { bindings?: Record<string, unknown> };
    Object.assign(options, rest);
    if (values) options.bindings = { ...(options.bindings as object), ...values };
  }
  return options;
}
