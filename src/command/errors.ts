import { ContainerflareError, type ContainerflareErrorOptions, type ErrorCode } from "../errors.ts";

/** The error codes a command can fail with (docs/protocol.md, "Error codes"). */
export type CommandErrorCode = Exclude<ErrorCode, "INVALID_CONFIG">;

/** Every protocol error code, in the order docs/protocol.md lists them. */
export const COMMAND_ERROR_CODES: readonly CommandErrorCode[] = [
  "UNKNOWN_COMMAND",
  "INVALID_PAYLOAD",
  "NO_BINDING",
  "FORBIDDEN",
  "TOO_LARGE",
  "INTERNAL",
  "UNAVAILABLE",
  "TIMEOUT",
  "TRANSPORT_CLOSED",
];

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

/** Narrows an unknown string to a protocol error code. */
export function isCommandErrorCode(value: unknown): value is CommandErrorCode {
  return typeof value === "string" && (COMMAND_ERROR_CODES as readonly string[]).includes(value);
}
