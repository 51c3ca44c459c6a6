/**
 * The text of a thrown value for a log line or an error's reason: an Error's message, anything
 * else as a string (code may throw strings, numbers or plain objects).
 *
 * @module
 */

/** `error.message` for an Error, else `String(error)`. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
