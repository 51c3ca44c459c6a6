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
import { errorMessage } from "../internal/error-message.ts";
import { issueLine } from "../internal/issues.ts";
import {
  BATCH_CONTENT_TYPE,
  BodyMarkerSchema,
  type BodySource,
  CLIENT_ID_HEADER,
  discardRest,
  FRAME_CONTENT_TYPE,
  findBodyMarker,
  frameRest,
  frameStream,
  HTTP_VERSION,
  HTTP_VERSION_HEADER,
  inlineBody,
  replaceBodyMarker,
  type SplitFrame,
  StreamedResult,
  splitFrameLine,
} from "../protocol/body.ts";
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
   * {@link StreamLimits}. They also bound each HTTP v2 batch (one request is one such connection).
   */
  streams?: Partial<StreamLimits>;
  /** Extra commands by name (`app.reindex`); the built-in namespaces (`kv.`, `host.`, …) are reserved. */
  commands?: Record<string, CustomCommand>;
  /**
   * What `host.keepalive` does: renew the activity of the container's instance (its Durable
   * Object's inactivity timeout, `sleepAfter`) and resolve whether it did. Without it the host
   * answers `{ renewed: false }`: nothing here puts the container to sleep.
   */
  keepAlive?: () => Promise<boolean>;
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
  dispatchDeferred(text: string, signal?: AbortSignal, scope?: CancelScope): Promise<() => string>;
  /**
   * One frame of any exchange: `exchange.body` holds the raw bytes of its body marker, and with
   * `exchange.streams` the bytes of the answer come back raw in {@link Answer.body} instead of
   * inlined.
   */
  dispatchExchange(text: string, exchange: Exchange): Promise<Answer>;
  /**
   * The HTTP transport (docs/protocol.md, section 2.2): `application/json` one frame (v1),
   * `application/x-ndjson` a batch answered as JSON lines in completion order, and
   * `application/x-containerflare-frame` a solo exchange with raw bytes both ways. `frame`: the
   * solo exchange's line already split off the body (the Worker does when it verifies a signature).
   */
  handle(request: Request, frame?: SplitFrame): Promise<Response>;
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

const CancelPayloadSchema = v.object({ id: RequestFrameSchema.entries.id });

/**
 * The commands of one client still running, by id, so that `host.cancel` can abort them: one
 * scope per stream connection, one per `x-containerflare-client` over HTTP. Bounded: a command
 * beyond {@link MAX_CANCELLABLE} in one scope runs without being cancellable.
 */
export type CancelScope = Map<number, RunningCommand>;

/**
 * A command that `host.cancel` may stop. Its signal is made only when a handler asks for it
 * (most never do): an AbortController and `AbortSignal.any` per command cost more than a
 * `kv.get` itself.
 */
class RunningCommand {
  readonly #outer: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #reason: unknown;

  constructor(outer: AbortSignal | undefined) {
    this.#outer = outer;
  }

  /** Whether the connection closed or the client cancelled it. */
  get aborted(): boolean {
    return this.#reason !== undefined || this.#outer?.aborted === true;
  }

  /** Aborted when the connection closes or the client cancels. */
  get signal(): AbortSignal {
    if (this.#signal) return this.#signal;
    this.#controller = new AbortController();
    if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    this.#signal = this.#outer ? AbortSignal.any([this.#outer, this.#controller.signal]) : this.#controller.signal;
    return this.#signal;
  }

  cancel(): void {
    this.#reason ??= new CommandError("UNAVAILABLE", "cancelled by the client (host.cancel)");
    this.#controller?.abort(this.#reason);
  }

  throwIfAborted(): void {
    if (this.#reason !== undefined) throw this.#reason;
    this.#outer?.throwIfAborted();
  }
}
/**
 * What a handler sees of one command that has more than the host's shared context (a signal, a
 * scope, a body): a class, so that its getter and `cancel` live on the prototype rather than
 * being made again for every command.
 */
class CommandContext implements HandlerContext {
  readonly logger: ConsolaInstance;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly describe: () => unknown;
  readonly keepAlive?: () => Promise<boolean>;
  readonly body: ReadableStream<Uint8Array> | undefined;
  readonly streams: boolean;
  readonly #exchange: Exchange;
  readonly #running: RunningCommand | undefined;

  constructor(
    shared: HandlerContext,
    exchange: Exchange,
    running: RunningCommand | undefined,
    body: ReadableStream<Uint8Array> | undefined,
  ) {
    this.logger = shared.logger;
    this.vars = shared.vars;
    this.describe = shared.describe;
    if (shared.keepAlive) this.keepAlive = shared.keepAlive;
    this.body = body;
    this.streams = exchange.streams === true;
    this.#exchange = exchange;
    this.#running = running;
  }

  get signal(): AbortSignal | undefined {
    return this.#running ? this.#running.signal : this.#exchange.signal;
  }

  cancel(id: number): boolean {
    const running = this.#exchange.scope?.get(id);
    running?.cancel();
    return running !== undefined;
  }
}

const MAX_CANCELLABLE = 4096;
/** HTTP clients whose scopes a host keeps (least recently used dropped: their commands just cannot be cancelled). */
const MAX_CLIENT_SCOPES = 64;

/** How one frame reaches the host: what aborts it, its client's scope, its raw body, whether bytes may stream back. */
export interface Exchange {
  signal?: AbortSignal | undefined;
  scope?: CancelScope | undefined;
  /** A solo exchange's frame, split off its body: the bytes after it belong to the payload's body marker. */
  split?: Extract<SplitFrame, { ok: true }> | undefined;
  streams?: boolean;
}

/** An answer ready to write: its frame's text (encoded when called) and the raw bytes that follow it. */
export interface Answer {
  encode(): string;
  body: BodySource | null;
}

/** The host's own commands. */
const HOST_COMMANDS: Record<string, CommandHandler<undefined>> = {
  "host.ping": handler(EmptyPayloadSchema, () => ({ pong: true, time: Date.now() })),
  "host.cancel": handler(CancelPayloadSchema, (payload, _binding: undefined, context) => ({
    cancelled: context.cancel?.(payload.id) ?? false,
  })),
  "host.describe": handler(EmptyPayloadSchema, (_payload, _binding: undefined, context) => context.describe()),
  // A host without the hook has nothing that sleeps: the container may go on working.
  "host.keepalive": handler(EmptyPayloadSchema, async (_payload, _binding: undefined, context) => ({
    renewed: context.keepAlive ? await context.keepAlive() : false,
  })),
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
const fixed = (text: string): Answer => ({ encode: () => text, body: null });

const JSON_HEADERS = { "content-type": "application/json", [HTTP_VERSION_HEADER]: HTTP_VERSION };
const BATCH_HEADERS = { "content-type": BATCH_CONTENT_TYPE, [HTTP_VERSION_HEADER]: HTTP_VERSION };
const FRAME_HEADERS = { "content-type": FRAME_CONTENT_TYPE, [HTTP_VERSION_HEADER]: HTTP_VERSION };

function failure(code: ErrorBody["code"], message: string, retryable = false): ErrorBody {
  return { code, message, retryable };
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

  const context: HandlerContext = {
    logger,
    vars,
    describe,
    ...(options.keepAlive ? { keepAlive: options.keepAlive } : {}),
  };
  const contextFor = (
    exchange: Exchange,
    running: RunningCommand | undefined,
    body: ReadableStream<Uint8Array> | undefined,
  ): HandlerContext =>
    !exchange.signal && !running && !body && !exchange.streams && !exchange.scope
      ? context
      : new CommandContext(context, exchange, running, body);

  /** Runs one validated request; resolves with the result payload or rejects with an ErrorBody-ish error. */
  const run = async (
    command: string,
    payload: unknown,
    exchange: Exchange,
    running: RunningCommand | undefined,
    body: ReadableStream<Uint8Array> | undefined,
  ): Promise<unknown> => {
    if (running) running.throwIfAborted();
    else exchange.signal?.throwIfAborted();
    const handlerContext = contextFor(exchange, running, body);
    // Own properties only: "constructor" or "toString" must not reach Object.prototype.
    const extra = Object.hasOwn(custom, command) ? custom[command] : undefined;
    if (extra) return extra(payload, handlerContext);
    const definition = Object.hasOwn(BUILT_IN, command) ? BUILT_IN[command] : undefined;
    if (!definition) throw new CommandError("UNKNOWN_COMMAND", `unknown command ${command}`);
    const parsed = v.safeParse(definition.handler.schema, payload ?? null);
    if (!parsed.success) throw new CommandError("INVALID_PAYLOAD", `${command}: ${issueLine(parsed.issues)}`);
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
    const message = errorMessage(error);
    logger.debug(`${command} failed:`, error);
    return failure("INTERNAL", `${command}: ${message}`);
  };

  /** One frame: parsed, validated, run; the answer's bytes streamed or inlined as the exchange allows. */
  const dispatchExchange = async (text: string, exchange: Exchange): Promise<Answer> => {
    if (exceedsBytes(text, maxFrameBytes)) {
      const id = leadingFrameId(text.slice(0, 256)) ?? 0;
      const size = formatBytes(utf8Length(text));
      return fixed(
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
      return fixed(
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
          : `malformed frame: ${issueLine(frame.issues)}`;
      return fixed(encodeFailure(id, failure("INVALID_PAYLOAD", message)));
    }
    const { id, command, payload } = frame.output;
    const { scope } = exchange;
    let running: RunningCommand | undefined;
    if (scope && scope.size < MAX_CANCELLABLE && !scope.has(id) && command !== "host.cancel") {
      running = new RunningCommand(exchange.signal);
      scope.set(id, running);
    }
    // A solo exchange's bytes belong to the payload's marker, read here from the validated frame.
    const { split } = exchange;
    const marker = split ? findBodyMarker(payload) : undefined;
    const body = split && marker && v.is(BodyMarkerSchema, marker) ? frameRest(split, marker.length) : undefined;
    if (split && !body) discardRest(split);
    let result: unknown;
    try {
      result = await run(command, payload, exchange, running, body);
      if (result instanceof StreamedResult) {
        if (exchange.streams) return answerWithBody(id, command, result);
        result = await inlineBody(result.result, result.body, maxFrameBytes, command);
      }
    } catch (error) {
      return fixed(encodeFailure(id, toErrorBody(command, error)));
    } finally {
      if (running && scope?.get(id) === running) scope.delete(id);
      // Bytes the handler did not take are not left waiting on the connection.
      if (body && !body.locked) void body.cancel().catch(() => undefined);
    }
    return {
      body: null,
      encode: () => {
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
      },
    };
  };

  /** A streamed answer: its frame now (the marker stays; without bytes it is dropped), its bytes after it. */
  const answerWithBody = (id: number, command: string, streamed: StreamedResult): Answer => {
    const result = streamed.body === null ? replaceBodyMarker(streamed.result, null) : streamed.result;
    let text: string;
    try {
      text = encodeSuccess(id, result);
    } catch (error) {
      if (streamed.body && !(streamed.body instanceof Uint8Array)) void streamed.body.cancel().catch(() => undefined);
      return fixed(encodeFailure(id, toErrorBody(command, error)));
    }
    return { encode: () => text, body: streamed.body };
  };

  const dispatchDeferred = async (text: string, signal?: AbortSignal, scope?: CancelScope): Promise<() => string> =>
    (await dispatchExchange(text, { signal, scope })).encode;

  const dispatchText = async (text: string, signal?: AbortSignal): Promise<string> =>
    (await dispatchDeferred(text, signal))();

  /** Cancel scopes of HTTP clients by their `x-containerflare-client` id, least recently used first. */
  const clientScopes = new Map<string, CancelScope>();
  const scopeOf = (request: Request): CancelScope | undefined => {
    const client = request.headers.get(CLIENT_ID_HEADER);
    if (!client || client.length > 64) return undefined;
    let scope = clientScopes.get(client);
    if (scope) clientScopes.delete(client);
    else {
      scope = new Map();
      if (clientScopes.size >= MAX_CLIENT_SCOPES) clientScopes.delete(clientScopes.keys().next().value!);
    }
    clientScopes.set(client, scope);
    return scope;
  };

  const handleHttp = async (request: Request, split?: SplitFrame): Promise<Response> => {
    if (request.method !== "POST") {
      const body = encodeFailure(
        0,
        failure("INVALID_PAYLOAD", `use POST with one request frame as the body, not ${request.method}`),
      );
      return new Response(body, { status: 405, headers: { ...JSON_HEADERS, allow: "POST" } });
    }
    const type = (request.headers.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase();
    if (type === BATCH_CONTENT_TYPE) {
      // The answers stream as they complete; the session's limits bound what one POST may cost.
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const input = request.body ?? new Blob([]).stream();
      void serveStream(host, input, writable, logger, scopeOf(request));
      return new Response(readable, { headers: BATCH_HEADERS });
    }
    if (type === FRAME_CONTENT_TYPE) return handleSolo(request, split);
    const body = await readBodyLimited(request, maxFrameBytes);
    if (body.tooLarge) {
      const id = leadingFrameId(new TextDecoder().decode(body.head)) ?? 0;
      const answer = encodeFailure(
        id,
        failure("TOO_LARGE", `request frame exceeds the ${formatBytes(maxFrameBytes)} frame limit`),
      );
      return new Response(answer, { status: id === 0 ? 413 : 200, headers: JSON_HEADERS });
    }
    const signal = (request as { signal?: AbortSignal }).signal;
    const answer = (
      await dispatchExchange(new TextDecoder().decode(body.bytes), { signal, scope: scopeOf(request) })
    ).encode();
    // An answer for id 0 means the frame could not be attributed: the request itself was bad.
    const status = answer.startsWith('{"v":1,"id":0,') ? 400 : 200;
    return new Response(answer, { status, headers: JSON_HEADERS });
  };

  /** A solo exchange: the frame's line, then its raw body; answered with the answer's line, then its bytes. */
  const handleSolo = async (request: Request, given?: SplitFrame): Promise<Response> => {
    const split = given ?? (await splitFrameLine(request.body ?? new Blob([]).stream(), maxFrameBytes));
    if (!split.ok) {
      const id = leadingFrameId(new TextDecoder().decode(split.head)) ?? 0;
      const error =
        split.reason === "too-large"
          ? failure("TOO_LARGE", `request frame exceeds the ${formatBytes(maxFrameBytes)} frame limit`)
          : failure("INVALID_PAYLOAD", "a solo exchange starts with the request frame and a newline");
      const status = id !== 0 ? 200 : split.reason === "too-large" ? 413 : 400;
      return new Response(encodeFailure(id, error), { status, headers: FRAME_HEADERS });
    }
    const signal = (request as { signal?: AbortSignal }).signal;
    const answer = await dispatchExchange(split.line, { signal, scope: scopeOf(request), split, streams: true });
    const text = answer.encode();
    const status = text.startsWith('{"v":1,"id":0,') ? 400 : 200;
    return new Response(frameStream(text, answer.body) as ConstructorParameters<typeof Response>[0], {
      status,
      headers: FRAME_HEADERS,
    });
  };

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
    handle(request, frame) {
      return handleHttp(request, frame);
    },
    serveStream(readable, writable) {
      return serveStream(host, readable, writable, logger);
    },
    dispatchExchange,
  };
  return host;
}
