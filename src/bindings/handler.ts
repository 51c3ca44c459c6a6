/**
 * The host half of a binding kind: one handler per command, typed by the kind's descriptor (the
 * payload from the command's schema, the result from the descriptor's command types).
 */
import type { ConsolaInstance } from "consola";
import type * as v from "valibot";
import { CommandError } from "../errors.ts";
import { type BodyMarker, isBodyMarker, type StreamedResult } from "../protocol/body.ts";
import { decodeBytes, type EncodedBytes } from "../protocol/bytes.ts";
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
  /**
   * The request's raw bytes, when its payload holds a body marker and they followed the frame (an
   * HTTP v2 solo exchange). Read them through {@link requestBody}. A body the handler has not
   * started reading (locked) when it returns is cancelled by the host: a handler that hands the
   * body on to something that reads it later must lock it first (pipe it into that reader, or
   * through a TransformStream).
   */
  body?: ReadableStream<Uint8Array>;
  /**
   * Whether the bytes of an answer ({@link streamedResult}) stream back raw: a solo HTTP v2
   * exchange. Elsewhere the host inlines them, within the frame limit, so a handler that could
   * answer either way (KV text) may choose by it.
   */
  streams?: boolean;
  /** Aborts a command of the same client that is still running here (`host.cancel`); false when none. */
  cancel?(id: number): boolean;
  /**
   * Renews the activity of the container's instance (`host.keepalive`), so that the platform
   * does not stop it while it works; resolves whether anything was renewed. Absent on a host
   * whose containers never sleep.
   */
  keepAlive?(): Promise<boolean>;
}

/**
 * The bytes a payload carries where the wire has bytes (a string, a base64 envelope, or a body
 * marker whose bytes followed the frame): in memory, or the stream of the exchange's body.
 */
export function requestBody(
  value: string | EncodedBytes | BodyMarker | null | undefined,
  context: HandlerContext,
): string | Uint8Array | ReadableStream<Uint8Array> | null {
  if (value === null || value === undefined || typeof value === "string") return value ?? null;
  if (!isBodyMarker(value)) return decodeBytes(value);
  if (!context.body) {
    throw new CommandError(
      "INVALID_PAYLOAD",
      "the payload marks a streamed body, but none followed the frame (only an HTTP v2 solo exchange carries one)",
    );
  }
  return context.body;
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
    (CommandsOf<Descriptor>[Name] extends { result: infer Result } ? Result : never) | StreamedResult
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

export { bodyMarker, streamedResult } from "../protocol/body.ts";

/** Drops `undefined` members: real bindings reject some options when present but undefined. */
export function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const key in object) if (object[key] !== undefined) out[key] = object[key];
  return out as Partial<T>;
}
