/**
 * The registry of binding kinds: one line per kind. Every list about kinds (the kind names, the
 * read-only commands, the reserved command namespaces, kind detection, the wrangler.jsonc
 * sections of `containerflare dev`) is derived from it. Adding a kind: its folder
 * (`<kind>/descriptor.ts`, `schemas.ts`, `client.ts`, `host.ts`), its line here, and its line in
 * the two tables keyed by kind, `clients.ts` and `handlers.ts`, which the type checker asks for.
 * See docs/architecture.md, "Add a binding kind".
 */
import { assets } from "./assets/descriptor.ts";
import { d1 } from "./d1/descriptor.ts";
import type { DescribeResult } from "./describe.ts";
import type { BindingDescriptor, CommandShape, CommandsOf } from "./descriptor.ts";
import { durableObject } from "./durable-object/descriptor.ts";
import { kv } from "./kv/descriptor.ts";
import { queue } from "./queue/descriptor.ts";
import { r2 } from "./r2/descriptor.ts";
import { service } from "./service/descriptor.ts";
import { vars } from "./vars/descriptor.ts";

/** Every binding kind. */
export const BINDINGS = [kv, d1, queue, r2, assets, service, durableObject, vars] as const;

/** A binding descriptor of the registry. */
export type RegisteredBinding = (typeof BINDINGS)[number];

/** Kind of a binding reachable through the command bus (`var` included). */
export type BindingKind = RegisteredBinding["kind"];

/** The kinds that are objects with methods: everything but vars. */
export type ObjectBindingKind = Exclude<BindingKind, "var">;

/** Every kind name, in registry order. */
export const BINDING_KINDS: readonly BindingKind[] = BINDINGS.map((binding) => binding.kind);

/** The object kinds (what a host's `allow` may name). */
export const OBJECT_BINDING_KINDS: readonly ObjectBindingKind[] = BINDING_KINDS.filter(
  (kind): kind is ObjectBindingKind => kind !== "var",
);

export { BINDING_NAME_RE } from "./schemas.ts";

/** The host's own commands, beside the kinds'. */
export type HostCommands = {
  "host.ping": { payload: null | undefined; result: { pong: true; time: number } };
  "host.describe": { payload: null | undefined; result: DescribeResult };
  /** The container still works (a `waitUntil` task, an event): the host renews its instance's activity. */
  "host.keepalive": { payload: null | undefined; result: { renewed: boolean } };
};

type UnionToIntersection<Union> = (Union extends unknown ? (arg: Union) => void : never) extends (
  arg: infer Intersection,
) => void
  ? Intersection
  : never;

/** Payload and result of every built-in command, by name. */
export type CommandMap = HostCommands & UnionToIntersection<CommandsOf<RegisteredBinding>>;

/** The name of a built-in command. */
export type CommandName = keyof CommandMap & string;

/** What a client sends as the payload of `Name`. */
export type CommandPayload<Name extends CommandName> = CommandMap[Name] extends CommandShape
  ? CommandMap[Name]["payload"]
  : never;

/** Input types of every built-in command's payload, by command name. */
export type CommandPayloads = { [Name in CommandName]: CommandPayload<Name> };

/** What a host answers for `Name`. */
export type CommandResult<Name extends CommandName> = CommandMap[Name] extends CommandShape
  ? CommandMap[Name]["result"]
  : never;

/**
 * Commands whose repetition cannot change anything on the host: the HTTP transport retries only
 * these after a network error or a 502/503/504, and a TIMEOUT of one of them is retryable.
 */
export const READ_COMMANDS: ReadonlySet<string> = new Set([
  "host.ping",
  "host.describe",
  // Renewing twice is renewing: harmless to send again.
  "host.keepalive",
  ...BINDINGS.flatMap((binding) =>
    Object.entries(binding.commands as Record<string, { read: boolean }>)
      .filter(([, traits]) => traits.read)
      .map(([name]) => name),
  ),
]);

/** Whether `command` only reads, so that sending it twice is harmless. */
export function isReadCommand(command: string): boolean {
  return READ_COMMANDS.has(command);
}

/** The namespaces of built-in commands (`host.`, `kv.`, `env.`, …): custom commands may not use them. */
export const RESERVED_NAMESPACES: readonly string[] = [
  "host",
  ...new Set(BINDINGS.flatMap((binding) => Object.keys(binding.commands).map((name) => name.split(".")[0]!))),
];

/** The object kinds in the order {@link detectBindingKind} tries them: most identifying methods first. */
const DETECTION_ORDER = (BINDINGS as readonly BindingDescriptor[])
  .filter((binding) => binding.detect !== undefined)
  .sort((a, b) => b.detect!.length - a.detect!.length);

/** A name no binding has: an object that answers a function for it answers one for every name. */
const PROBE = "containerflare probe";

/** Whether `name` is a property of `object` or of its prototypes (not one a wildcard getter makes up). */
function hasOwnMember(object: object, name: string): boolean {
  for (let current: object | null = object; current !== null; current = Object.getPrototypeOf(current)) {
    if (Object.getOwnPropertyDescriptor(current, name)) return true;
  }
  return false;
}

/**
 * The kind of a binding object, from the methods it has. workerd's Fetchers (service and assets
 * bindings) and RPC stubs answer every property name with a function (an RPC method): for those
 * only the methods they really have count, so a service binding is not taken for a D1 database.
 */
export function detectBindingKind(binding: unknown): ObjectBindingKind | undefined {
  if (binding === null || (typeof binding !== "object" && typeof binding !== "function")) return undefined;
  const members = binding as Record<string, unknown>;
  let wildcard = false;
  try {
    wildcard = typeof members[PROBE] === "function";
  } catch {
    // A getter that throws for unknown names is no wildcard.
  }
  const has = (method: string) =>
    typeof members[method] === "function" && (!wildcard || hasOwnMember(binding as object, method));
  for (const descriptor of DETECTION_ORDER) {
    if (descriptor.detect!.every(has)) return descriptor.kind as ObjectBindingKind;
  }
  return undefined;
}

/** The descriptor of `kind`. */
export function bindingDescriptor(kind: BindingKind): RegisteredBinding {
  return BINDINGS.find((binding) => binding.kind === kind)!;
}
