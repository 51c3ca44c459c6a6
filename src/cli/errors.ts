import { stripVTControlCharacters } from "node:util";
import { exitProcess } from "../exit.ts";
import { errorMessage } from "../internal/error-message.ts";

/** An expected CLI failure: its message is the one line printed before exiting with status 1. */
export class CliError extends Error {
  override readonly name = "CliError";
}

/** The single line shown for any failure: the message only, without colours or a stack trace. */
export function errorLine(error: unknown): string {
  const message = errorMessage(error);
  const first = stripVTControlCharacters(message).trim().split("\n")[0] ?? "";
  return first === "" ? "unknown error" : first;
}

/** Prints `containerflare: <line>` to stderr and exits with status 1. */
export function exitWithError(error: unknown): never {
  exitProcess(1, errorLine(error));
}
