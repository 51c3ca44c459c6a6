import type { CommandErrorCode, ErrorCode } from "./protocol/errors.ts";

export type { CommandErrorCode, ErrorCode } from "./protocol/errors.ts";

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  UNKNOWN_COMMAND: 501,
  INVALID_PAYLOAD: 400,
  NO_BINDING: 500,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  TRANSPORT_CLOSED: 503,
  INVALID_CONFIG: 500,
};

/**
 * What a client reads for each code when the error is not {@link ContainerflareErrorOptions.expose}d:
 * the standard reason phrase of its status, never the error's own words. Messages carry a host's
 * internals (addresses, binding names, SQL, allowlists): they go to the log only.
 */
const PUBLIC_MESSAGE_BY_CODE: Record<ErrorCode, string> = {
  UNKNOWN_COMMAND: "Not Implemented",
  INVALID_PAYLOAD: "Bad Request",
  NO_BINDING: "Internal Server Error",
  FORBIDDEN: "Forbidden",
  TOO_LARGE: "Payload Too Large",
  INTERNAL: "Internal Server Error",
  UNAVAILABLE: "Service Unavailable",
  TIMEOUT: "Gateway Timeout",
  TRANSPORT_CLOSED: "Service Unavailable",
  INVALID_CONFIG: "Internal Server Error",
};

/** The JSON body of every error response containerflare sends: `{ error: { code, message, retryable, requestId } }`. */
export interface ErrorResponseBody {
  error: {
    code: string;
    /** Text a client may read: never a host's internals (see {@link ContainerflareError.publicMessage}). */
    message: string;
    retryable: boolean;
    /** The request's id, when the answer belongs to a request the container saw. */
    requestId?: string;
  };
}

/**
 * The one builder of error responses: `body` as JSON with `status`. Used by
 * {@link ContainerflareError.toResponse}, serve() and the Worker companion, so that a client reads
 * the same shape whichever part answered.
 */
export function errorResponse(
  status: number,
  error: ErrorResponseBody["error"],
  headers?: Record<string, string>,
): Response {
  const body: ErrorResponseBody = { error };
  return Response.json(body, headers ? { status, headers } : { status });
}

/** Options of a {@link ContainerflareError}. */
export interface ContainerflareErrorOptions {
  /** HTTP status used by {@link ContainerflareError.toResponse}; defaults from the code. */
  status?: number;
  /** Whether repeating the same operation may succeed. */
  retryable?: boolean;
  /** The underlying error, kept for logs (never sent to clients). */
  cause?: unknown;
  /**
   * Whether the message may reach clients (default false: they read the code's generic text, e.g.
   * "Service Unavailable"). Set it for messages written for the client: `new
   * ContainerflareError("INVALID_PAYLOAD", "name is required", { expose: true })`.
   */
  expose?: boolean;
}

/**
 * The one error type containerflare throws: a stable `code`, an HTTP `status` and a flag that
 * tells whether a retry may help. `toResponse()` renders it as a JSON error response.
 */
export class ContainerflareError extends Error {
  override readonly name: string = "ContainerflareError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** Whether {@link toResponse} shows the message; otherwise the code's generic text. */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options: ContainerflareErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? STATUS_BY_CODE[code];
    this.retryable = options.retryable ?? false;
    this.expose = options.expose ?? false;
  }

  /** What a client may read: the message when exposed, else the code's generic text. */
  get publicMessage(): string {
    return this.expose ? this.message : PUBLIC_MESSAGE_BY_CODE[this.code];
  }

  /** The same as {@link toResponse}: frameworks such as Hono answer an error that has it with it. */
  getResponse(): Response {
    return this.toResponse();
  }

  /**
   * JSON body `{ error: { code, message, retryable, requestId } }` with the error's status; the
   * message is {@link publicMessage}, so internal detail stays in the logs.
   */
  toResponse(init: { requestId?: string } = {}): Response {
    return errorResponse(this.status, {
      code: this.code,
      message: this.publicMessage,
      retryable: this.retryable,
      requestId: init.requestId,
    });
  }
}

/** True for any {@link ContainerflareError}, also across duplicated module copies (bundles). */
export function isContainerflareError(error: unknown): error is ContainerflareError {
  return (
    error instanceof ContainerflareError ||
    (typeof error === "object" &&
      error !== null &&
      typeof (error as { code?: unknown }).code === "string" &&
      Object.hasOwn(STATUS_BY_CODE, (error as { code: string }).code) &&
      typeof (error as { toResponse?: unknown }).toResponse === "function")
  );
}

/** Options of a {@link CommandError}. */
export interface CommandErrorOptions extends ContainerflareErrorOptions {
  /** The command that failed, when known. */
  command?: string;
}

/**
 * A command failed: either the host answered with an error frame, or the client gave up on it
 * (timeout, transport closed, frame too large). `code` is one of the protocol's error codes and
 * `retryable` says whether sending the same command again may succeed.
 */
export class CommandError extends ContainerflareError {
  override readonly name = "CommandError";
  override readonly code: CommandErrorCode;
  /** The command that failed, when known. */
  readonly command: string | undefined;

  constructor(code: CommandErrorCode, message: string, options: CommandErrorOptions = {}) {
    super(code, message, options);
    this.code = code;
    this.command = options.command;
  }
}
