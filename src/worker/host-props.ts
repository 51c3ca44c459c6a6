/**
 * The props of {@link ContainerflareHost} (src/worker/host-entrypoint.ts): what a Durable Object
 * passes to `ctx.exports.ContainerflareHost({ props })`, validated once per distinct props, and
 * the command host each valid set of props gets. Kept apart from the entrypoint class because
 * `cloudflare:workers` exists only in workerd: this module runs, and is tested, anywhere.
 *
 * @module
 */
import * as v from "valibot";
import { OBJECT_BINDING_KINDS } from "../bindings/registry.ts";
import { bindingName } from "../bindings/schemas.ts";
import { type CommandHandlerOptions, type CommandOutboundHandler, commandHandler } from "./commands.ts";
import { refuseEveryFrame } from "./host-refusal.ts";
import { renewObject } from "./keep-alive.ts";

/**
 * What `ctx.exports.ContainerflareHost({ props })` takes: the allowlist and vars of
 * {@link CommandHandlerOptions}, with the same shapes. Props are structured-cloned by workerd, so
 * `commands` (functions) cannot be one: a host with extra commands is a `WorkerEntrypoint` of
 * your own whose `fetch` calls `commandHandler({ allow, commands })(request, this.env)`.
 */
export interface ContainerflareHostProps {
  /**
   * Bindings of the Worker's `env` the container may use (`["CACHE", "DB"]`, or
   * `{ CACHE: "kv" }`); every other binding answers FORBIDDEN. No default: list them.
   */
  allow: CommandHandlerOptions["allow"];
  /** Values the container may read with `env.get`: names of `env` members, or a record of values. */
  vars?: CommandHandlerOptions["vars"];
  /** Frame size limit in bytes (default 16 MiB). */
  maxFrameBytes?: number;
  /**
   * The Durable Object whose container this host serves (`ctx.id.toString()`), so that
   * `host.keepalive` can renew its inactivity timeout: `containerflareContainer` sets it when it
   * makes the host from `allow`. Without it `host.keepalive` answers `{ renewed: false }`.
   */
  object?: string;
}

/** How many distinct props {@link commandHostForProps} remembers (least recently used forgotten first). */
export const HOST_PROPS_CACHE_SIZE = 64;

const MAX_FRAME_BYTES_RULE = "props.maxFrameBytes must be a positive integer number of bytes";
const PROPS_SHAPE = "{ allow, vars?, maxFrameBytes?, object? }";
const EXAMPLE = 'ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"] } })';

const OBJECT_RULE = "props.object must be the Durable Object's id as ctx.id.toString() gives it (64 hex digits)";

const PropsSchema = v.strictObject(
  {
    allow: v.union(
      [v.array(bindingName), v.record(bindingName, v.picklist(OBJECT_BINDING_KINDS))],
      `props.allow must list the bindings the container may use: binding names (["CACHE"]) or a record of kinds ({ CACHE: "kv" }, kinds ${OBJECT_BINDING_KINDS.join(", ")})`,
    ),
    vars: v.optional(
      v.union(
        [v.array(v.string()), v.record(v.string(), v.unknown())],
        'props.vars must be names of env values (["GREETING"]) or a record of values',
      ),
    ),
    maxFrameBytes: v.optional(
      v.pipe(v.number(MAX_FRAME_BYTES_RULE), v.safeInteger(MAX_FRAME_BYTES_RULE), v.minValue(1, MAX_FRAME_BYTES_RULE)),
    ),
    object: v.optional(v.pipe(v.string(OBJECT_RULE), v.regex(/^[0-9a-f]{64}$/, OBJECT_RULE))),
  },
  (issue) => {
    const key = issue.path?.[0]?.key;
    if (key === undefined) return `props must be an object ${PROPS_SHAPE}, as in ${EXAMPLE}`;
    if (key === "allow") return `props.allow must list the bindings the container may use, as in ${EXAMPLE}`;
    return `props.${String(key)} is not a prop of ContainerflareHost (expected ${PROPS_SHAPE})`;
  },
);

/** The first problem of `props` as one line, or undefined when they are valid. */
export function hostPropsProblem(props: unknown): string | undefined {
  const parsed = v.safeParse(PropsSchema, props);
  if (parsed.success) return undefined;
  const issue = parsed.issues[0];
  const path = issue.path ?? [];
  // A nested problem (one name of a list) comes with valibot's words for it: say where it is.
  if (path.length < 2) return issue.message;
  const where = path.map((item, index) =>
    typeof item.key === "number" ? `[${item.key}]` : `${index ? "." : ""}${String(item.key)}`,
  );
  return `props.${where.join("")}: ${issue.message}, got ${JSON.stringify(issue.input)}`;
}

/** A remembered props set: its command host, or the refusal that answers every request made with it. */
type Entry = CommandOutboundHandler;

/**
 * The command host for `props`: {@link commandHandler} with their allowlist and vars, created
 * once per distinct props (compared by their JSON text) and kept in a bounded cache of
 * {@link HOST_PROPS_CACHE_SIZE} entries, least recently used forgotten first; a forgotten set is
 * validated again when it comes back. Invalid props get a handler that answers every frame of a
 * request with an `INVALID_CONFIG` error frame, HTTP 500, naming what is wrong and what is
 * expected; the same line goes to `console.error` once, when the props are first seen (again
 * only after they were forgotten). It never throws.
 */
export function commandHostForProps(
  props: unknown,
  cache: HostPropsCache = defaultCache,
  exports?: object,
): CommandOutboundHandler {
  const key = propsKey(props);
  const known = cache.get(key);
  if (known) {
    // Map order is insertion order: re-inserting marks the entry as the most recently used.
    cache.delete(key);
    cache.set(key, known);
    return known;
  }
  const entry = createEntry(props, key !== UNSERIALISABLE, exports);
  cache.set(key, entry);
  if (cache.size > HOST_PROPS_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return entry;
}

/** The cache {@link commandHostForProps} keeps its hosts in: a Map it bounds itself (tests pass their own). */
export type HostPropsCache = Map<string, Entry>;

/** The isolate's cache: at most {@link HOST_PROPS_CACHE_SIZE} props sets. */
const defaultCache: HostPropsCache = new Map();

/** The key of props JSON cannot carry (a BigInt, a cycle): all invalid, one entry for them all. */
const UNSERIALISABLE = "\0unserialisable";

function propsKey(props: unknown): string {
  try {
    return JSON.stringify(props) ?? "undefined";
  } catch {
    return UNSERIALISABLE;
  }
}

function createEntry(props: unknown, serialisable: boolean, exports: object | undefined): Entry {
  const problem = serialisable
    ? hostPropsProblem(props)
    : "props must be JSON values (vars' values travel to the container as JSON; no BigInt, no cycles)";
  if (problem !== undefined) {
    const message = `ContainerflareHost: ${problem}`;
    console.error(`containerflare: ${message}`);
    return (request) => refuseEveryFrame(request, message);
  }
  const valid = props as ContainerflareHostProps;
  return commandHandler({
    allow: valid.allow,
    ...(valid.vars !== undefined ? { vars: valid.vars } : {}),
    ...(valid.maxFrameBytes !== undefined ? { maxFrameBytes: valid.maxFrameBytes } : {}),
    ...(valid.object !== undefined ? { keepAlive: keepAliveOf(valid.object, exports) } : {}),
  });
}

/**
 * `host.keepalive` for the object `hex`: found among the isolate's `ctx.exports` (the same for
 * every invocation, so the first one's serve all) and the Worker's `env`, and sent the keep-alive
 * request signed with `env.CONTAINERFLARE_SECRET`.
 */
function keepAliveOf(hex: string, exports: object | undefined) {
  return (env: Record<string, unknown>) => {
    const secret = typeof env.CONTAINERFLARE_SECRET === "string" ? env.CONTAINERFLARE_SECRET : undefined;
    return renewObject([exports, env], hex, secret || undefined);
  };
}
