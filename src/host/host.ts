import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { type CommandHandler, type HandlerContext, handler } from "../bindings/handler.ts";
import { BINDING_HOSTS } from "../bindings/handlers.ts";
import {
  BINDING_NAME_RE,
  type BindingKind,
  detectBindingKind,
  OBJECT_BINDING_KINDS,
  type ObjectBindingKind,
  RESERVED_NAMESPACES,
} from "../bindings/registry.ts";
import { EmptyPayloadSchema } from "../bindings/schemas.ts";
import { createDefaultLogger } from "../default-logger.ts";
import { CommandError } from "../errors.ts";
import { exceedsBytes, formatBytes, readBodyLimited, utf8Length } from "../protocol/bytes.ts";
import { isCommandErrorCode } from "../protocol/errors.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  type ErrorBody,
  encodeFailure,
  encodeSuccess,
  leadingFrameId,
  PROTOCOL_VERSION,
  RequestFrameSchema,
  type ResponseFrame,
} from "../protocol/frames.ts";
import { resolveStreamLimits, type StreamLimits, serveStream } from "./session.ts";

/** An extra command of a host: gets the raw payload, returns a JSON-serialisable result. */
export type CustomCommand = (payload: unknown, context: HandlerContext) => unknown;

/** Options of {@link createCommandHost}. */
export interface CommandHostOptions {
  /**
   * Objects implementing the Workers binding interfaces, by name: the Worker's `env`,
   * Miniflare's bindings, or in-memory test doubles.
   */
  bindings: Record<string, unknown>;
  /**
   * The bindings the container may use. A list of names (kinds detected from each binding's
   * methods) or a `{ NAME: kind }` record. Anything else answers FORBIDDEN.
   */
  allow: readonly string[] | Readonly<Record<string, ObjectBindingKind>>;
  /** Values exposed to the container (`env.get`, and as vars in `host.describe`). */
  vars?: Record<string, unknown>;
  /** Frame size limit in bytes, both directions; default 16 MiB. */
  maxFrameBytes?: number;
  /**
   * Limits of each JSON-lines connection (commands in flight, unread answers); defaults in
   * {@link StreamLimits}. The HTTP transport carries one frame per request and needs none.
   */
  streams?: Partial<StreamLimits>;
  /** Extra commands by name (`app.reindex`); the built-in namespaces (`kv.`, `host.`, …) are reserved. */
  commands?: Record<string, CustomCommand>;
  logger?: ConsolaInstance;
}

/** A command host: answers request frames with response frames. */
export interface CommandHost {
  /** Answers one request frame (object or JSON text) with its response frame. Never rejects. */
  dispatch(frame: unknown): Promise<ResponseFrame>;
  /**
   * Answers one request frame given as JSON text with the response frame's JSON text. Never
   * rejects. `signal` aborts the command (its connection closed): a command not started yet is
   * not started, handlers see it as `context.signal`, and a result that arrives after it is not
   * encoded.
   */
  dispatchText(text: string, signal?: AbortSignal): Promise<string>;
  /**
   * Like {@link dispatchText}, but leaves the encoding of the answer to the caller: a stream
   * session encodes an answer only when it is about to write it, so a burst of big results that
   * finish together never exists as encoded text all at once, and the answers of a closed
   * connection are never encoded at all.
   */
  dispatchDeferred(text: string, signal?: AbortSignal): Promise<() => string>;
  /** HTTP transport: `POST` one request frame, get the response frame as the body. */
  handle(request: Request): Promise<Response>;
  /**
   * JSON lines over a pair of byte streams (a socket, a child's stdio): many frames in flight,
   * each answered as soon as it is done. Resolves when the input ends and every answer is written.
   */
  serveStream(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): Promise<void>;
  /** The frame size limit in bytes. */
  readonly maxFrameBytes: number;
  /** Limits of each JSON-lines connection; the defaults of {@link StreamLimits} when absent. */
  readonly streamLimits?: StreamLimits;
}

/** A built-in command: its handler and the kind of binding its payload names (none for `host.*`). */
interface BuiltIn {
  handler: CommandHandler<never>;
  kind?: ObjectBindingKind;
}

/** The host's own commands. */
const HOST_COMMANDS: Record<string, CommandHandler<undefined>> = {
  "host.ping": handler(EmptyPayloadSchema, () => ({ pong: true, time: Date.now() })),
  "host.describe": handler(EmptyPayloadSchema, (_payload, _binding: undefined, context) => context.describe()),
};

/** Every built-in command by name: the host's own and each registered kind's. */
const BUILT_IN: Readonly<Record<string, BuiltIn>> = Object.freeze({
  ...Object.fromEntries(Object.entries(HOST_COMMANDS).map(([name, run]) => [name, { handler: run }])),
  ...Object.fromEntries(
    Object.values(BINDING_HOSTS).flatMap(({ descriptor, handlers }) =>
      Object.entries(handlers).map(([name, run]) => [
        name,
        descriptor.kind === "var" ? { handler: run } : { handler: run, kind: descriptor.kind as ObjectBindingKind },
      ]),
    ),
  ),
});

const RESERVED_NAMESPACE_RE = new RegExp(`^(${RESERVED_NAMESPACES.join("|")})\\.`);

/** An answer that is text already. */
const encoded = (text: string) => () => text;

function failure(code: ErrorBody["code"], message: string, retryable = false): ErrorBody {
  return { code, message, retryable };
}

function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = issue.path?.map((item) => String(item.key)).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * Creates a command host over objects that implement the Workers binding interfaces. Runtime
 * agnostic (no node: imports): it runs in workerd as well as in Node, Bun and Deno.
 *
 * ```ts
 * const host = createCommandHost({ bindings: env, allow: ["CACHE", "DB"] });
 * export default { fetch: (request) => host.handle(request) };
 * ```
 */
export function createCommandHost(options: CommandHostOptions): CommandHost {
  const logger = options.logger ?? createDefaultLogger("containerflare:host");
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const streamLimits = resolveStreamLimits(options.streams, maxFrameBytes);
  const vars: Readonly<Record<string, unknown>> = { ...options.vars };
  const allowed: Record<string, ObjectBindingKind | undefined> = Object.create(null);
  if (Array.isArray(options.allow)) for (const name of options.allow) allowed[name] = undefined;
  else {
    for (const [name, kind] of Object.entries(options.allow as Record<string, ObjectBindingKind>)) {
      if (!OBJECT_BINDING_KINDS.includes(kind)) {
        throw new TypeError(
          `allow.${name}: expected one of ${OBJECT_BINDING_KINDS.join(", ")}, got ${JSON.stringify(kind)}`,
        );
      }
      allowed[name] = kind;
    }
  }
  for (const name of Object.keys(allowed)) {
    if (!BINDING_NAME_RE.test(name)) throw new TypeError(`allow: ${JSON.stringify(name)} is not a binding name`);
  }
  const custom: Record<string, CustomCommand> = { ...options.commands };
  for (const name of Object.keys(custom)) {
    if (Object.hasOwn(BUILT_IN, name))
      throw new TypeError(`commands.${name}: cannot replace the built-in command ${name}`);
    if (RESERVED_NAMESPACE_RE.test(name)) {
      throw new TypeError(
        `commands.${name}: the ${name.slice(0, name.indexOf(".") + 1)} namespace is reserved for built-in commands; use e.g. app.${name.slice(name.indexOf(".") + 1)}`,
      );
    }
    if (!v.is(RequestFrameSchema.entries.command, name))
      throw new TypeError(`commands: ${JSON.stringify(name)} is not a valid command name`);
  }

  // Detected once per binding: `allow` given as a list leaves the kind to the binding's methods.
  const kindOf = (name: string): ObjectBindingKind | undefined => {
    const known = allowed[name];
    if (known) return known;
    const detected = detectBindingKind(options.bindings[name]);
    if (detected && Object.hasOwn(allowed, name)) allowed[name] = detected;
    return detected;
  };

  const describe = () => {
    const bindings: Record<string, BindingKind> = {};
    for (const name of Object.keys(allowed)) {
      if (options.bindings[name] === undefined) continue;
      const kind = kindOf(name);
      if (kind) bindings[name] = kind;
    }
    for (const name of Object.keys(vars)) bindings[name] ??= "var";
    return { v: PROTOCOL_VERSION, bindings, vars, limits: { maxFrameBytes } };
  };

  const context: HandlerContext = { logger, vars, describe };
  const contextFor = (signal: AbortSignal | undefined): HandlerContext => (signal ? { ...context, signal } : context);

  /** Runs one validated request; resolves with the result payload or rejects with an ErrorBody-ish error. */
  const run = async (command: string, payload: unknown, signal: AbortSignal | undefined): Promise<unknown> => {
    signal?.throwIfAborted();
    const handlerContext = contextFor(signal);
    // Own properties only: "constructor" or "toString" must not reach Object.prototype.
    const extra = Object.hasOwn(custom, command) ? custom[command] : undefined;
    if (extra) return extra(payload, handlerContext);
    const definition = Object.hasOwn(BUILT_IN, command) ? BUILT_IN[command] : undefined;
    if (!definition) throw new CommandError("UNKNOWN_COMMAND", `unknown command ${command}`);
    const parsed = v.safeParse(definition.handler.schema, payload ?? null);
    if (!parsed.success) throw new CommandError("INVALID_PAYLOAD", `${command}: ${issueText(parsed.issues)}`);
    let binding: unknown;
    if (definition.kind) {
      const name = (parsed.output as { binding: string }).binding;
      if (!(name in allowed))
        throw new CommandError("FORBIDDEN", `${command}: binding ${name} is not allowed on this host`);
      binding = options.bindings[name];
      if (binding === undefined || binding === null)
        throw new CommandError("NO_BINDING", `${command}: no binding named ${name}`);
      const kind = kindOf(name);
      if (kind !== definition.kind) {
        throw new CommandError(
          "NO_BINDING",
          `${command}: binding ${name} is ${kind ? `a ${kind} binding` : "of an unknown kind"}, not ${definition.kind}`,
        );
      }
    }
    return definition.handler.run(parsed.output as never, binding as never, handlerContext);
  };

  const toErrorBody = (command: string, error: unknown): ErrorBody => {
    if (
      error instanceof CommandError ||
      (error instanceof Error && isCommandErrorCode((error as { code?: unknown }).code))
    ) {
      const typed = error as CommandError;
      return failure(typed.code, typed.message, typed.retryable ?? false);
    }
    const message = error instanceof Error ? error.message : String(error);
    logger.debug(`${command} failed:`, error);
    return failure("INTERNAL", `${command}: ${message}`);
  };

  const dispatchDeferred = async (text: string, signal?: AbortSignal): Promise<() => string> => {
    if (exceedsBytes(text, maxFrameBytes)) {
      const id = leadingFrameId(text.slice(0, 256)) ?? 0;
      const size = formatBytes(utf8Length(text));
      return encoded(
        encodeFailure(
          id,
          failure("TOO_LARGE", `request frame of ${size} exceeds the ${formatBytes(maxFrameBytes)} frame limit`),
        ),
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return encoded(
        encodeFailure(leadingFrameId(text.slice(0, 256)) ?? 0, failure("INVALID_PAYLOAD", "malformed frame: not JSON")),
      );
    }
    const frame = v.safeParse(RequestFrameSchema, data);
    if (!frame.success) {
      const rawId = (data as { id?: unknown } | null)?.id;
      const id = typeof rawId === "number" && Number.isSafeInteger(rawId) && rawId > 0 ? rawId : 0;
      const version = (data as { v?: unknown } | null)?.v;
      const message =
        version !== undefined && version !== PROTOCOL_VERSION
          ? `unsupported protocol version ${JSON.stringify(version)}; this host speaks v${PROTOCOL_VERSION}`
          : `malformed frame: ${issueText(frame.issues)}`;
      return encoded(encodeFailure(id, failure("INVALID_PAYLOAD", message)));
    }
    const { id, command, payload } = frame.output;
    let result: unknown;
    try {
      result = await run(command, payload, signal);
    } catch (error) {
      return encoded(encodeFailure(id, toErrorBody(command, error)));
    }
    return () => {
      let answer: string;
      try {
        answer = encodeSuccess(id, result);
      } catch (error) {
        return encodeFailure(id, toErrorBody(command, error));
      }
      if (!exceedsBytes(answer, maxFrameBytes)) return answer;
      const size = formatBytes(utf8Length(answer));
      return encodeFailure(
        id,
        failure("TOO_LARGE", `${command}: answer of ${size} exceeds the ${formatBytes(maxFrameBytes)} frame limit`),
      );
    };
  };

  const dispatchText = async (text: string, signal?: AbortSignal): Promise<string> =>
    (await dispatchDeferred(text, signal))();

  const host: CommandHost = {
    maxFrameBytes,
    streamLimits,
    dispatchText,
    dispatchDeferred,
    async dispatch(frame) {
      let text: string;
      try {
        text = typeof frame === "string" ? frame : JSON.stringify(frame);
      } catch {
        text = "";
      }
      return JSON.parse(await dispatchText(text ?? "")) as ResponseFrame;
    },
    async handle(request) {
      const json = { "content-type": "application/json" };
      if (request.method !== "POST") {
        const body = encodeFailure(
          0,
          failure("INVALID_PAYLOAD", `use POST with one request frame as the body, not ${request.method}`),
        );
        return new Response(body, { status: 405, headers: { ...json, allow: "POST" } });
      }
      const body = await readBodyLimited(request, maxFrameBytes);
      if (body.tooLarge) {
        const id = leadingFrameId(new TextDecoder().decode(body.head)) ?? 0;
        const answer = encodeFailure(
          id,
          failure("TOO_LARGE", `request frame exceeds the ${formatBytes(maxFrameBytes)} frame limit`),
        );
        return new Response(answer, { status: id === 0 ? 413 : 200, headers: json });
      }
      const answer = await dispatchText(new TextDecoder().decode(body.bytes));
      // An answer for id 0 means the frame could not be attributed: the request itself was bad.
      const status = answer.startsWith('{"v":1,"id":0,') ? 400 : 200;
      return new Response(answer, { status, headers: json });
    },
    serveStream(readable, writable) {
      return serveStream(host, readable, writable, logger);
    },
  };
  return host;
}
