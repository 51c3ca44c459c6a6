/**
 * The error codes of containerflare: one list, shared by the command protocol (docs/protocol.md,
 * "Error codes") and the runtime. Both error classes (`ContainerflareError`, `CommandError`) and
 * every table keyed by code (HTTP status, public text) derive from it.
 */

/** Every error code; the first nine are the protocol's, in the order docs/protocol.md lists them. */
export const ERROR_CODES = [
  "UNKNOWN_COMMAND",
  "INVALID_PAYLOAD",
  "NO_BINDING",
  "FORBIDDEN",
  "TOO_LARGE",
  "INTERNAL",
  "UNAVAILABLE",
  "TIMEOUT",
  "TRANSPORT_CLOSED",
  "INVALID_CONFIG",
] as const;

/** An error code of the runtime or the command protocol. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The error codes a command can fail with: all but the runtime's own `INVALID_CONFIG`. */
export type CommandErrorCode = Exclude<ErrorCode, "INVALID_CONFIG">;

/** Every protocol error code, in the order docs/protocol.md lists them. */
export const COMMAND_ERROR_CODES: readonly CommandErrorCode[] = ERROR_CODES.filter(
  (code): code is CommandErrorCode => code !== "INVALID_CONFIG",
);

/** Narrows an unknown value to a protocol error code. */
export function isCommandErrorCode(value: unknown): value is CommandErrorCode {
  return typeof value === "string" && (COMMAND_ERROR_CODES as readonly string[]).includes(value);
}
