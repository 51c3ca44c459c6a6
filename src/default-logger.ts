import { type ConsolaInstance, createConsola } from "consola/core";

/**
 * The logger used when none is given: warnings and errors only, on stderr through
 * `console.error` (never stdout, which the stdio transport owns). Runtime-agnostic: it also
 * serves the command host inside workerd.
 */
export function createDefaultLogger(tag: string): ConsolaInstance {
  return createConsola({
    level: 1,
    defaults: { tag },
    reporters: [
      {
        log(logObj) {
          const prefix = `[${logObj.tag || tag}] ${logObj.type}:`;
          console.error(prefix, ...(logObj.message === undefined ? logObj.args : [logObj.message, ...logObj.args]));
        },
      },
    ],
  });
}
