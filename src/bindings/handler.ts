import type { ConsolaInstance } from "consola";
import type * as v from "valibot";
import type { BindingKind } from "../config.ts";

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
 * One built-in command: the schema of its payload and, for binding commands, the kind of binding
 * it needs. The host validates the payload and looks the binding up (allowlist, kind) before
 * `run` sees either.
 */
export interface CommandDefinition<TSchema extends v.GenericSchema = v.GenericSchema> {
  schema: TSchema;
  /** Kind of the `binding` the payload names; absent for commands that touch no binding. */
  kind?: Exclude<BindingKind, "var">;
  run(payload: v.InferOutput<TSchema>, binding: any, context: HandlerContext): unknown;
}

/** Keeps the payload type of `run` tied to its schema. */
export function defineCommand<TSchema extends v.GenericSchema>(
  definition: CommandDefinition<TSchema>,
): CommandDefinition {
  return definition as unknown as CommandDefinition;
}

/** Drops `undefined` members: real bindings reject some options when present but undefined. */
export function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const key in object) if (object[key] !== undefined) out[key] = object[key];
  return out as Partial<T>;
}
