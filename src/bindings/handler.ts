/**
 * The host half of a binding kind: one handler per command, typed by the kind's descriptor (the
 * payload from the command's schema, the result from the descriptor's command types).
 */
import type { ConsolaInstance } from "consola";
import type * as v from "valibot";
import type { BindingDescriptor, CommandsOf } from "./descriptor.ts";

/** What a command handler may read besides its payload. */
export interface HandlerContext {
  /** The host's logger. */
  logger: ConsolaInstance;
  /** Exposed vars (`env.get`, `host.describe`). */
  vars: Readonly<Record<string, unknown>>;
  /** The host's description (`host.describe`). */
  describe(): unknown;
  /**
   * Aborted when nobody waits for the answer any more (its connection closed); absent when the
   * command has no connection that could close (`dispatch()`, HTTP). A handler that can stop
   * early should: pass it to calls that take a signal, or check it between steps.
   */
  signal?: AbortSignal;
}

/**
 * One command on the host: the schema of its payload and what runs it. The host validates the
 * payload and looks the binding up (allowlist, kind) before `run` sees either.
 */
export interface CommandHandler<Binding = unknown, Result = unknown> {
  readonly schema: v.GenericSchema;
  /** `payload` is the schema's output; `binding` the allowed binding the payload names. */
  run(payload: never, binding: Binding, context: HandlerContext): Result | Promise<Result>;
}

/** A handler with its payload type tied to its schema: `handler(KvGetPayloadSchema, async (payload, kv) => …)`. */
export function handler<Schema extends v.GenericSchema, Binding, Result>(
  schema: Schema,
  run: (payload: v.InferOutput<Schema>, binding: Binding, context: HandlerContext) => Result | Promise<Result>,
): CommandHandler<Binding, Result> {
  return { schema, run: run as CommandHandler<Binding, Result>["run"] };
}

/** The handlers of a kind: one for each command of its descriptor, returning that command's result. */
export type BindingHandlers<Descriptor extends BindingDescriptor, Binding> = {
  readonly [Name in keyof CommandsOf<Descriptor>]: CommandHandler<
    Binding,
    CommandsOf<Descriptor>[Name] extends { result: infer Result } ? Result : never
  >;
};

/** A kind's host half: its descriptor and a handler for each of its commands. */
export interface BindingHost<Descriptor extends BindingDescriptor = BindingDescriptor> {
  readonly descriptor: Descriptor;
  readonly handlers: Readonly<Record<string, CommandHandler<never>>>;
}

/**
 * Declares the host half of a kind; the type checker asks for a handler for every command the
 * descriptor lists, with the binding typed as `Binding` (the Workers interface: `KVNamespace`, …).
 */
export function defineBindingHost<Descriptor extends BindingDescriptor, Binding>(
  descriptor: Descriptor,
  handlers: BindingHandlers<Descriptor, Binding>,
): BindingHost<Descriptor> {
  return { descriptor, handlers: handlers as unknown as BindingHost<Descriptor>["handlers"] };
}

/** Drops `undefined` members: real bindings reject some options when present but undefined. */
export function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const key in object) if (object[key] !== undefined) out[key] = object[key];
  return out as Partial<T>;
}
