import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseJSONC } from "confbox/jsonc";
import * as v from "valibot";
import { BINDING_NAME_RE } from "../../config.ts";
import { CliError, errorLine } from "../errors.ts";

const bindingName = v.pipe(v.string(), v.regex(BINDING_NAME_RE, "a binding name like CACHE"));
const name = v.pipe(v.string(), v.nonEmpty());

/**
 * The part of a `wrangler.jsonc` that `containerflare dev` reads. Every other field (containers,
 * durable_objects, migrations, routes, …) is for `wrangler deploy` and passes through unread.
 */
export const WranglerConfigSchema = v.looseObject({
  name: v.optional(v.string()),
  compatibility_date: v.optional(v.pipe(v.string(), v.isoDate("compatibility_date must be a date like 2025-09-01"))),
  compatibility_flags: v.optional(v.array(v.string())),
  vars: v.optional(v.record(bindingName, v.unknown())),
  kv_namespaces: v.optional(v.array(v.looseObject({ binding: bindingName, id: v.optional(name) }))),
  d1_databases: v.optional(
    v.array(v.looseObject({ binding: bindingName, database_name: v.optional(name), database_id: v.optional(name) })),
  ),
  queues: v.optional(
    v.looseObject({ producers: v.optional(v.array(v.looseObject({ binding: bindingName, queue: name }))) }),
  ),
  r2_buckets: v.optional(v.array(v.looseObject({ binding: bindingName, bucket_name: v.optional(name) }))),
  assets: v.optional(v.looseObject({ directory: v.optional(name), binding: v.optional(bindingName) })),
});

/** A validated `wrangler.jsonc`. */
export type WranglerConfig = v.InferOutput<typeof WranglerConfigSchema>;

/** The bindings `containerflare dev` provides, as read from the app's configuration. */
export interface DevBindings {
  /** Worker name (`name`), reported as `worker_name`. */
  workerName?: string;
  compatibilityDate?: string;
  compatibilityFlags: string[];
  /** `vars`: plain values, readable by the app through `env.get`. */
  vars: Record<string, unknown>;
  /** binding → namespace id (the persisted store's name). */
  kv: Record<string, string>;
  /** binding → database id. */
  d1: Record<string, string>;
  /** binding → queue name. */
  queues: Record<string, string>;
  /** binding → bucket name. */
  r2: Record<string, string>;
  /** Static assets: the absolute directory and, when the Worker reads them, the binding. */
  assets?: { directory: string; binding?: string };
  /** The file these came from; undefined when the app has no configuration. */
  file?: string;
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
    vars: { ...config.vars },
    kv: Object.fromEntries((config.kv_namespaces ?? []).map((kv) => [kv.binding, kv.id ?? kv.binding])),
    d1: Object.fromEntries(
      (config.d1_databases ?? []).map((db) => [db.binding, db.database_id ?? db.database_name ?? db.binding]),
    ),
    queues: Object.fromEntries((config.queues?.producers ?? []).map((queue) => [queue.binding, queue.queue])),
    r2: Object.fromEntries(
      (config.r2_buckets ?? []).map((bucket) => [bucket.binding, bucket.bucket_name ?? bucket.binding]),
    ),
  };
  if (config.name) bindings.workerName = config.name;
  if (config.compatibility_date) bindings.compatibilityDate = config.compatibility_date;
  if (config.assets?.directory) {
    bindings.assets = { directory: resolve(baseDir, config.assets.directory) };
    if (config.assets.binding) bindings.assets.binding = config.assets.binding;
  }
  if (file) bindings.file = file;
  return bindings;
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
  return [
    ...Object.keys(bindings.kv),
    ...Object.keys(bindings.d1),
    ...Object.keys(bindings.queues),
    ...Object.keys(bindings.r2),
    ...(bindings.assets?.binding ? [bindings.assets.binding] : []),
  ];
}
