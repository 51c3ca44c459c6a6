/**
 * How containerflare ends a process it owns (serve() with `manageProcess`, the CLI): at most one
 * `containerflare: <line>` on stderr, then the exit status. One home, so that every failure a
 * user reads looks the same whichever part stopped the process.
 *
 * @module
 */

/** Writes `containerflare: <line>` to stderr when `line` is given, then exits with `code`. */
export function exitProcess(code: number, line?: string): never {
  if (line) process.stderr.write(`containerflare: ${line}\n`);
  process.exit(code);
}
