import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { type DescribeResult, DescribeResultSchema } from "../bindings/describe.ts";
import { type CommandName, type CommandPayload, type CommandResult, isReadCommand } from "../bindings/registry.ts";
import type { CommandEndpoint } from "../config.ts";
import { createDefaultLogger } from "../default-logger.ts";
import { CommandError } from "../errors.ts";
import { errorMessage } from "../internal/error-message.ts";
import type { BodySource } from "../protocol/body.ts";
import { exceedsBytes, formatBytes, utf8Length } from "../protocol/bytes.ts";
import { isCommandErrorCode } from "../protocol/errors.ts";
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  encodeRequest,
  ResponseFrameSchema,
} from "../protocol/frames.ts";
import { inlineFrame } from "./transports/framing.ts";
import type { OutgoingFrame, Transport, TransportContext, TransportSink } from "./transports/types.ts";

/**
 * A command name that is not a built-in one: what the untyped overload of
 * {@link CommandClient.invoke} takes, so that a built-in command can only be sent with its payload type.
 */
export type NotBuiltIn<Name extends string> = Name extends CommandName ? never : Name;

/** The payload and options of a built-in command; the payload may be left out where it may be null. */
export type InvokeArgs<Name extends CommandName> =
  undefined extends CommandPayload<Name>
    ? [payload?: CommandPayload<Name>, options?: InvokeOptions]
    : [payload: CommandPayload<Name>, options?: InvokeOptions];

/**
 * {@link CommandClient.invoke}: a built-in command typed by its name (payload checked, result
 * typed), or a custom command (any payload, result `T`). Declared once, on the class.
 */
export type Invoke = CommandBusClient["invoke"];

/** Per-call options of {@link CommandClient.invoke}. */
export interface InvokeOptions {
  /**
   * Milliseconds to wait for the answer; default the client's `timeoutMs`. With a streamed
   * `body`, counted from its last byte.
   */
  timeout?: number;
  /** Aborting rejects the call with the signal's reason; the host is asked to stop the command (`host.cancel`). */
  signal?: AbortSignal;
  /**
   * Bytes that travel as the exchange's body; the payload holds a body marker
   * (`bodyMarker(length)` of src/protocol/body.ts) where they belong. Raw over the HTTP transport
   * v2, inlined as base64 (within the frame limit) elsewhere.
   */
  body?: BodySource;
  /**
   * The answer may carry bytes (R2 objects, assets, fetch answers): over HTTP v2 the command
   * travels alone so that they can stream back. Read them with {@link CommandBusClient.invokeStreamed}.
   */
  streamed?: boolean;
}

/** What {@link CommandBusClient.invokeStreamed} resolves with. */
export interface StreamedAnswer<T = unknown> {
  /** The result payload; where it holds a body marker, {@link body} has the bytes. */
  result: T;
  /** The raw bytes that came with the answer, or `null` (none, or inlined in `result`). */
  body: ReadableStream<Uint8Array> | null;
}

/** Options of {@link createCommandClient}. */
export interface CommandClientOptions {
  /** Where the command host is (`CF_CMD_ENDPOINT`, parsed by `parseCommandEndpoint`). */
  endpoint: CommandEndpoint;
  /** Default per-command timeout in ms (`CONTAINERFLARE_COMMAND_TIMEOUT_MS`); default 30 000. */
  timeoutMs?: number;
  /** Frame size limit in bytes, both directions; default 16 MiB. */
  maxFrameBytes?: number;
  /** Where protocol warnings go; default: warnings on stderr. */
  logger?: ConsolaInstance;
  /** Why the `disabled` endpoint rejects, e.g. "no command host on Cloud Run; set CF_CMD_ENDPOINT to reach one". */
  unavailableReason?: string;
  /**
   * Shared secret (`CONTAINERFLARE_SECRET`): the HTTP transport signs every request with it
   * (docs/protocol.md, "Signed HTTP requests"); stream transports ignore it.
   */
  secret?: string;
}

interface PendingCommand {
  command: string;
  /** Resolve with `{ result, body }` (invokeStreamed) rather than the payload. */
  withBody: boolean;
  /** Sent by the client itself (`host.cancel`): not counted in `inFlight`. */
  internal: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** `Date.now()` after which the command fails with TIMEOUT. */
  deadline: number;
  timeout: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

async function loadTransport(options: CommandClientOptions, context: TransportContext): Promise<Transport> {
  const { endpoint } = options;
  // Imported on first use: an http-only or disabled client never loads node:net or touches stdin.
  switch (endpoint.kind) {
    case "stdio":
      return (await import("./transports/stdio.ts")).createStdioTransport(context);
    case "tcp":
    case "unix":
      return (await import("./transports/socket.ts")).createSocketTransport(endpoint, context);
    case "http":
      return (await import("./transports/http.ts")).createHttpTransport(
        endpoint.url,
        context,
        options.secret ? { secret: options.secret } : {},
      );
    case "disabled":
      return (await import("./transports/disabled.ts")).createDisabledTransport(context, options.unavailableReason);
  }
}

/**
 * The command bus client: sends a command, resolves with the host's answer. Created by
 * {@link createCommandClient}. An interface, so that copies of the package (or a test double)
 * stay interchangeable.
 */
export interface CommandClient {
  /** The endpoint this client talks to. */
  readonly endpoint: CommandEndpoint;
  /** Commands sent and not answered yet. */
  readonly inFlight: number;
  /**
   * Sends `command` with `payload` and resolves with the host's result payload. Rejects with a
   * {@link CommandError}: the host's error, or TIMEOUT, TRANSPORT_CLOSED, TOO_LARGE,
   * INVALID_PAYLOAD (not JSON-serialisable), UNAVAILABLE (no command host); or with the abort
   * reason of `options.signal`.
   *
   * A built-in command is typed by its name: `invoke("kv.get", { binding, key })` checks the
   * payload and resolves with the command's wire result. A custom command (`app.reindex`) takes
   * any payload and resolves with `T`.
   */
  invoke: Invoke;
  /**
   * {@link invoke} for commands with bytes either way (`options.body`, a streamed answer):
   * resolves with `{ result, body }`, the raw bytes that came with the answer or `null`.
   */
  invokeStreamed: CommandBusClient["invokeStreamed"];
  /** What the host offers (`host.describe`), asked once and cached until the connection drops. */
  describe(options?: InvokeOptions): Promise<DescribeResult>;
  /** Closes the connection; commands in flight and every later call reject with TRANSPORT_CLOSED. */
  close(): Promise<void>;
}

/**
 * The implementation of {@link CommandClient}: sends commands to the command host and matches the answers by id.
 * Many commands may be in flight over one connection and the host may answer them in any
 * order. Every received frame is validated; a malformed frame, an answer for an unknown id or
 * a second answer for the same id is logged and dropped, so a caller only ever gets its own
 * answer, an error, or a timeout. Nothing is connected until the first command.
 */
export class CommandBusClient implements CommandClient {
  /** The endpoint this client talks to. */
  readonly endpoint: CommandEndpoint;
  readonly #options: CommandClientOptions;
  readonly #logger: ConsolaInstance;
  readonly #timeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #pending = new Map<number, PendingCommand>();
  #nextId = 1;
  #transport: Transport | undefined;
  #loading: Promise<Transport> | undefined;
  #closed = false;
  #describe: Promise<DescribeResult> | undefined;
  #sweep: ReturnType<typeof setTimeout> | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;
  /** `host.cancel` requests of our own in flight: not the caller's commands, so not in {@link inFlight}. */
  #cancels = 0;

  constructor(options: CommandClientOptions) {
    this.endpoint = options.endpoint;
    this.#options = options;
    this.#logger = options.logger ?? createDefaultLogger("containerflare:command");
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Commands sent and not answered yet. */
  get inFlight(): number {
    return this.#pending.size - this.#cancels;
  }

  /**
   * Sends `command` with `payload` and resolves with the host's result payload. Rejects with a
   * {@link CommandError}: the host's error, or TIMEOUT, TRANSPORT_CLOSED, TOO_LARGE,
   * INVALID_PAYLOAD (not JSON-serialisable), UNAVAILABLE (no command host); or with the abort
   * reason of `options.signal`.
   */
  invoke<Name extends CommandName>(command: Name, ...args: InvokeArgs<Name>): Promise<CommandResult<Name>>;
  invoke<T = unknown, const Name extends string = string>(
    command: Name & NotBuiltIn<Name>,
    payload?: unknown,
    options?: InvokeOptions,
  ): Promise<T>;
  invoke(command: string, payload?: unknown, options: InvokeOptions = {}): Promise<unknown> {
    return this.#send(command, payload, options, false);
  }

  /**
   * Like {@link invoke}, for commands with bytes in either direction: resolves with the result
   * and the raw bytes that came with it (`null` when they were inlined or there were none).
   * Reading the body is not bounded by the command's timeout; aborting `options.signal` stops it.
   */
  invokeStreamed<Name extends CommandName>(
    command: Name,
    payload: CommandPayload<Name>,
    options?: InvokeOptions,
  ): Promise<StreamedAnswer<CommandResult<Name>>>;
  invokeStreamed<T = unknown, const Name extends string = string>(
    command: Name & NotBuiltIn<Name>,
    payload?: unknown,
    options?: InvokeOptions,
  ): Promise<StreamedAnswer<T>>;
  invokeStreamed(command: string, payload?: unknown, options: InvokeOptions = {}): Promise<StreamedAnswer> {
    return this.#send(command, payload, { streamed: true, ...options }, true) as Promise<StreamedAnswer>;
  }

  #send(
    command: string,
    payload: unknown,
    options: InvokeOptions,
    withBody: boolean,
    internal = false,
  ): Promise<unknown> {
    if (this.#closed)
      return Promise.reject(new CommandError("TRANSPORT_CLOSED", "the command client is closed", { command }));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const id = this.#nextId;
    this.#nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
    let text: string;
    try {
      text = encodeRequest(id, command, payload);
    } catch (error) {
      const reason = errorMessage(error);
      return Promise.reject(
        new CommandError("INVALID_PAYLOAD", `${command}: payload is not JSON-serialisable (${reason})`, { command }),
      );
    }
    if (exceedsBytes(text, this.#maxFrameBytes)) {
      const size = formatBytes(utf8Length(text));
      return Promise.reject(
        new CommandError(
          "TOO_LARGE",
          `${command}: request frame of ${size} exceeds the ${formatBytes(this.#maxFrameBytes)} frame limit`,
          {
            command,
          },
        ),
      );
    }

    return new Promise<unknown>((resolve, reject) => {
      const pending: PendingCommand = {
        command,
        withBody,
        internal,
        resolve: resolve as (value: unknown) => void,
        reject,
        deadline: Number.POSITIVE_INFINITY,
        timeout: 0,
        signal: options.signal,
        onAbort: undefined,
      };
      const timeout = options.timeout ?? this.#timeoutMs;
      if (options.signal) {
        const signal = options.signal;
        pending.onAbort = () => {
          this.#cancel(id);
          this.#settle(id)?.reject(signal.reason);
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.#pending.set(id, pending);
      if (internal) this.#cancels++;
      const frame: OutgoingFrame = { id, command, text, read: isReadCommand(command) };
      if (options.body !== undefined) {
        // A streamed body takes as long as it takes to produce and send: the timeout waits for
        // its answer from when the last byte was sent, not from the first.
        frame.body =
          options.body instanceof ReadableStream
            ? options.body.pipeThrough(
                new TransformStream<Uint8Array, Uint8Array>({
                  flush: () => {
                    if (this.#pending.get(id) === pending) this.#startDeadline(pending, timeout);
                  },
                }),
              )
            : options.body;
        frame.payload = payload;
      }
      if (!(options.body instanceof ReadableStream)) this.#startDeadline(pending, timeout);
      if (options.streamed) frame.streamed = true;
      if (this.#transport) this.#hand(this.#transport, frame);
      else {
        this.#connect().then(
          (transport) => (this.#pending.has(id) ? this.#hand(transport, frame) : undefined),
          (error: unknown) => {
            const reason = errorMessage(error);
            this.#settle(id)?.reject(
              new CommandError("UNAVAILABLE", `${command}: cannot load the command transport (${reason})`, { command }),
            );
          },
        );
      }
    });
  }

  /** Gives a frame to the transport; bytes it cannot carry raw are inlined first. */
  #hand(transport: Transport, frame: OutgoingFrame): void {
    if (frame.body === undefined || transport.carriesBodies) {
      transport.send(frame);
      return;
    }
    inlineFrame(frame, this.#maxFrameBytes).then(
      (inlined) => (this.#pending.has(frame.id) ? transport.send(inlined) : undefined),
      (error: CommandError) => this.#sink.fail(frame.id, error),
    );
  }

  /**
   * What the host offers (`host.describe`), asked once and cached until the connection drops;
   * a failed attempt is not cached.
   */
  describe(options?: InvokeOptions): Promise<DescribeResult> {
    this.#describe ??= this.invoke("host.describe", null, options).then((result) => {
      const parsed = v.safeParse(DescribeResultSchema, result);
      if (!parsed.success) {
        throw new CommandError(
          "INTERNAL",
          `host.describe answered an invalid description: ${parsed.issues[0].message}`,
          {
            command: "host.describe",
          },
        );
      }
      return parsed.output;
    });
    const attempt = this.#describe;
    attempt.catch(() => {
      if (this.#describe === attempt) this.#describe = undefined;
    });
    return attempt;
  }

  /**
   * Closes the connection. Commands still in flight reject with TRANSPORT_CLOSED, and so does
   * every later {@link invoke}.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) clearTimeout(this.#sweep);
    this.#failAll(
      new CommandError("TRANSPORT_CLOSED", "the command client was closed while the command was in flight"),
    );
    const transport = this.#transport ?? (this.#loading ? await this.#loading.catch(() => undefined) : undefined);
    await transport?.close();
  }

  #connect(): Promise<Transport> {
    this.#loading ??= loadTransport(this.#options, {
      sink: this.#sink,
      logger: this.#logger,
      maxFrameBytes: this.#maxFrameBytes,
    }).then((transport) => {
      this.#transport = transport;
      if (this.#closed) void transport.close();
      return transport;
    });
    return this.#loading;
  }

  /** Starts a command's timeout (none for a non-positive or infinite one). */
  #startDeadline(pending: PendingCommand, timeout: number): void {
    if (!Number.isFinite(timeout) || timeout <= 0) return;
    pending.timeout = timeout;
    pending.deadline = Date.now() + timeout;
    if (pending.deadline < this.#sweepAt) this.#scheduleSweep(pending.deadline);
  }

  #settle(id: number): PendingCommand | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    if (pending.internal) this.#cancels--;
    if (pending.onAbort) pending.signal?.removeEventListener("abort", pending.onAbort);
    return pending;
  }

  /**
   * One timer for all timeouts, set to the earliest deadline: cheaper than a timer per command
   * (most commands are answered long before it fires). Unref'd: a command in flight keeps the
   * process alive through its transport (socket, stdin, fetch), not through this timer.
   */
  #scheduleSweep(at: number): void {
    if (this.#sweep) clearTimeout(this.#sweep);
    this.#sweepAt = at;
    this.#sweep = setTimeout(() => this.#expire(), Math.max(0, at - Date.now()));
    (this.#sweep as { unref?: () => void }).unref?.();
  }

  #expire(): void {
    this.#sweep = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, pending] of this.#pending) {
      if (pending.deadline > now) {
        next = Math.min(next, pending.deadline);
        continue;
      }
      this.#cancel(id);
      this.#settle(id);
      pending.reject(
        new CommandError(
          "TIMEOUT",
          `${pending.command}: no answer from the command host within ${pending.timeout} ms`,
          {
            command: pending.command,
            retryable: isReadCommand(pending.command),
          },
        ),
      );
    }
    if (next !== Number.POSITIVE_INFINITY) this.#scheduleSweep(next);
  }

  /**
   * Stops the work for a command nobody waits for any more: the transport's own way (an HTTP
   * exchange of its own is aborted), else `host.cancel` asks the host to abort it (fire and
   * forget: a host that predates it answers UNKNOWN_COMMAND, which is dropped).
   */
  #cancel(id: number): void {
    const transport = this.#transport;
    if (!transport || this.#closed || this.#pending.get(id)?.command === "host.cancel") return;
    if (transport.cancel?.(id)) return;
    this.#send("host.cancel", { id }, { timeout: 5_000 }, false, true).catch(() => undefined);
  }

  #failAll(error: CommandError): void {
    for (const id of [...this.#pending.keys()]) {
      const pending = this.#settle(id);
      pending?.reject(
        new CommandError(error.code, `${pending.command}: ${error.message}`, {
          retryable: error.retryable,
          command: pending.command,
        }),
      );
    }
  }

  #receive(text: string, expectedId?: number, body?: ReadableStream<Uint8Array>): void {
    const accepted = this.#accept(text, expectedId, body);
    if (!accepted && body) void body.cancel().catch(() => undefined);
  }

  /** Delivers one answer; false when it was dropped (its body, if any, is then cancelled). */
  #accept(text: string, expectedId: number | undefined, body: ReadableStream<Uint8Array> | undefined): boolean {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      this.#logger.warn(`dropped a malformed frame from the command host (not JSON): ${preview(text)}`);
      return false;
    }
    const parsed = v.safeParse(ResponseFrameSchema, data);
    if (!parsed.success) {
      this.#logger.warn(
        `dropped a malformed frame from the command host (${parsed.issues[0].message}): ${preview(text)}`,
      );
      return false;
    }
    const frame = parsed.output;
    if (expectedId !== undefined && frame.id !== expectedId) {
      this.#logger.warn(`dropped an answer for id ${frame.id} received in reply to id ${expectedId}`);
      return false;
    }
    if (frame.id === 0) {
      const detail = frame.error ? `: ${frame.error.code} ${frame.error.message}` : "";
      this.#logger.warn(`the command host could not read one of our frames${detail}`);
      return false;
    }
    const pending = this.#settle(frame.id);
    if (!pending) {
      this.#logger.debug(
        `dropped an answer for id ${frame.id}: nothing in flight with that id (late after a timeout, a duplicate, or never sent)`,
      );
      return false;
    }
    if (frame.ok) {
      const result = frame.payload ?? null;
      if (pending.withBody) {
        pending.resolve({ result, body: body ?? null } satisfies StreamedAnswer);
        return true;
      }
      pending.resolve(result);
      return false;
    }
    {
      const { code, message, retryable } = frame.error!;
      pending.reject(
        isCommandErrorCode(code)
          ? new CommandError(code, message, { retryable, command: pending.command })
          : new CommandError("INTERNAL", `${code}: ${message}`, { retryable, command: pending.command }),
      );
      return false;
    }
  }

  readonly #sink: TransportSink = {
    receive: (text, expectedId, body) => this.#receive(text, expectedId, body),
    oversized: (id, bytes) => {
      const limit = formatBytes(this.#maxFrameBytes);
      const pending = id === undefined ? undefined : this.#settle(id);
      if (!pending) {
        this.#logger.warn(
          `dropped a ${formatBytes(bytes)} frame from the command host: above the ${limit} frame limit`,
        );
        return;
      }
      this.#logger.warn(`answer to ${pending.command} #${id} is ${formatBytes(bytes)}, above the ${limit} frame limit`);
      pending.reject(
        new CommandError(
          "TOO_LARGE",
          `${pending.command}: answer of ${formatBytes(bytes)} exceeds the ${limit} frame limit`,
          {
            command: pending.command,
          },
        ),
      );
    },
    fail: (id, error) => this.#settle(id)?.reject(error),
    drop: (error) => {
      this.#describe = undefined;
      this.#failAll(error);
    },
    isPending: (id) => this.#pending.has(id),
  };
}

function preview(text: string): string {
  return text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}… (${text.length} chars)` : JSON.stringify(text);
}

/**
 * Creates a {@link CommandClient}. Costs nothing until the first command: the transport is
 * loaded and connected then.
 */
export function createCommandClient(options: CommandClientOptions): CommandClient {
  return new CommandBusClient(options);
}
