import { existsSync, mkdirSync, rmdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { errorMessage } from "../internal/error-message.ts";
import { CliError } from "./errors.ts";
import type { RuntimeName } from "./runtime.ts";

const COMPILED_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx", ".jsx"]);

/** Absolute path of the entry file; a one-line {@link CliError} when it is missing. */
export function resolveEntry(entry: string | undefined, cwd = process.cwd()): string {
  if (!entry) throw new CliError("missing entry: pass the file whose default export is your handler, e.g. app.ts");
  const path = resolve(cwd, entry);
  if (!existsSync(path)) throw new CliError(`entry not found: ${entry} (looked at ${path})`);
  if (!statSync(path).isFile()) throw new CliError(`entry is not a file: ${entry}`);
  return path;
}

/** Whether `runtime` needs the entry compiled first: Node (20 or with flags unset) does not run TypeScript or JSX. */
export function needsCompile(entryPath: string, runtime: RuntimeName): boolean {
  return runtime === "node" && COMPILED_EXTENSIONS.has(extname(entryPath).toLowerCase());
}

/** A module ready to import, and how to remove what was generated for it. */
export interface LoadableEntry {
  path: string;
  dispose(): void;
}

/**
 * Makes `entryPath` importable by `runtime`. Bun and Deno run TypeScript as it is. For Node the
 * entry and its local imports are compiled with esbuild into one ES module; packages stay
 * external imports, so the app shares node_modules (and containerflare) with the CLI. The file
 * is written to `.containerflare/` beside the entry, so those imports resolve from the same
 * directory as the entry's own. Why not Node's type stripping: Node 20 has none, and it rejects
 * enums, parameter properties and `.js` specifiers that point at `.ts` files.
 */
export async function prepareEntry(entryPath: string, runtime: RuntimeName): Promise<LoadableEntry> {
  if (!needsCompile(entryPath, runtime)) return { path: entryPath, dispose() {} };
  const directory = join(dirname(entryPath), ".containerflare");
  const outfile = join(directory, `${basename(entryPath, extname(entryPath))}.${process.pid}.mjs`);
  mkdirSync(directory, { recursive: true });
  try {
    await build({
      entryPoints: [entryPath],
      outfile,
      bundle: true,
      packages: "external",
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      logLevel: "silent",
    });
  } catch (error) {
    throw new CliError(`cannot compile ${relative(process.cwd(), entryPath)}: ${firstBuildError(error)}`);
  }
  return {
    path: outfile,
    dispose() {
      rmSync(outfile, { force: true });
      try {
        rmdirSync(directory);
      } catch {
        // Still holds another run's module: leave it.
      }
    },
  };
}

/** `file:line:column: text` of the first esbuild error (or the error's message). */
export function firstBuildError(error: unknown): string {
  const errors = (
    error as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }
  )?.errors;
  const first = errors?.[0];
  if (!first) return errorMessage(error);
  const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : "";
  return `${where}${first.text}`;
}

/**
 * The path of a module next to `from` (an `import.meta.url`), with `from`'s own extension: `.js`
 * in the published build, `.ts` when the CLI runs from source.
 */
export function siblingModule(name: string, from: string): string {
  const self = fileURLToPath(from);
  return fileURLToPath(new URL(`${name}${self.slice(self.lastIndexOf("."))}`, from));
}
