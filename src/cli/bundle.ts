import { mkdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { type BuildFailure, build, type Message } from "esbuild";
import { firstBuildError, resolveEntry, siblingModule } from "./entry.ts";
import { CliError } from "./errors.ts";
import { nativeFetch } from "./fetch-plugin.ts";
import { srvxRuntimeSwitch } from "./srvx-plugin.ts";

/** Options of {@link bundleApp}. */
export interface BundleOptions {
  /** The app's entry: its default export is served. */
  entry: string;
  /** Output directory (default `.output`); the bundle is `<outDir>/server.mjs`. */
  outDir?: string;
  /** Minify the bundle (default true). */
  minify?: boolean;
  /** Also write `server.mjs.map` (default false). */
  sourcemap?: boolean;
  /** Where relative paths start (default: the current directory). */
  cwd?: string;
}

/** What {@link bundleApp} wrote. */
export interface BundleResult {
  /** Absolute path of `server.mjs`. */
  file: string;
  /** Its size in bytes. */
  bytes: number;
  /** Build time in milliseconds. */
  durationMs: number;
  /** esbuild warnings, one line each. */
  warnings: string[];
}

// Bundled CommonJS code (some dependencies, and srvx's Node adapter: see srvx-plugin.ts) calls
// require() for built-ins: give the ES module a real one.
const BANNER = [
  `import { createRequire as __containerflareCreateRequire } from "node:module";`,
  `const require = __containerflareCreateRequire(import.meta.url);`,
].join("\n");

/** The module that starts the app: `start.js` next to this file (`start.ts` from source). */
function startModulePath(): string {
  return siblingModule("./start", import.meta.url);
}

/** Source of the bundle's entry module: import the app's default export and serve it. */
export function bootstrapSource(entryPath: string, entryName: string): string {
  return [
    `import app from ${JSON.stringify(entryPath)};`,
    `import { startApp } from ${JSON.stringify(startModulePath())};`,
    `startApp({ default: app }, ${JSON.stringify(entryName)});`,
  ].join("\n");
}

function oneLine(message: Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column + 1}: `
    : "";
  return `${where}${message.text}`;
}

function buildError(error: unknown, entryName: string): CliError {
  const errors = (error as Partial<BuildFailure>).errors ?? [];
  if (errors.some((message) => /No matching export .* for import "default"/.test(message.text))) {
    return new CliError(
      `${entryName} has no default export: expected "export default (request, ctx) => Response" or "export default { fetch }"`,
    );
  }
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : "";
  return new CliError(`cannot bundle ${entryName}: ${firstBuildError(error)}${more}`);
}

/**
 * Bundles the app, containerflare and every dependency into one ES module, `<outDir>/server.mjs`,
 * that serves the entry's default export when run with `node`, `bun` or `deno run -A` in a
 * directory without node_modules. srvx's adapter is chosen at start-up, so each runtime serves
 * natively (see {@link srvxRuntimeSwitch}).
 */
export async function bundleApp(options: BundleOptions): Promise<BundleResult> {
  const cwd = options.cwd ?? process.cwd();
  const entryPath = resolveEntry(options.entry, cwd);
  const entryName = relative(cwd, entryPath) || basename(entryPath);
  const file = join(resolve(cwd, options.outDir ?? ".output"), "server.mjs");
  const sourcemap = options.sourcemap ?? false;
  mkdirSync(dirname(file), { recursive: true });
  if (!sourcemap) rmSync(`${file}.map`, { force: true });

  const started = performance.now();
  let result: Awaited<ReturnType<typeof build<{ write: true }>>>;
  try {
    result = await build({
      stdin: {
        contents: bootstrapSource(entryPath, entryName),
        resolveDir: dirname(entryPath),
        sourcefile: "containerflare-bootstrap.mjs",
        loader: "js",
      },
      outfile: file,
      bundle: true,
      format: "esm",
      platform: "node",
      // Node >= 20.19 is the oldest supported runtime; Bun and Deno run the same syntax.
      target: "node20",
      // ES module builds of dependencies first: smaller, and no CommonJS wrappers.
      mainFields: ["module", "main"],
      minify: options.minify ?? true,
      sourcemap: sourcemap ? "linked" : false,
      legalComments: "eof",
      banner: { js: BANNER },
      plugins: [srvxRuntimeSwitch(), nativeFetch()],
      logLevel: "silent",
    });
  } catch (error) {
    throw buildError(error, entryName);
  }
  return {
    file,
    bytes: statSync(file).size,
    durationMs: performance.now() - started,
    warnings: result.warnings.map(oneLine),
  };
}
