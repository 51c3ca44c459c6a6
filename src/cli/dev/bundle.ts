import { type BuildOptions, build, type Metafile } from "esbuild";
import { firstBuildError, siblingModule } from "../entry.ts";
import { CliError } from "../errors.ts";

/** `worker.js` next to this module (`worker.ts` when running from source). */
export function devWorkerEntry(): string {
  return siblingModule("./worker", import.meta.url);
}

/**
 * Modules of a build that import a Node built-in (`node:…`): none may, for code that runs in
 * workerd. Bare built-in names (`fs`) do not resolve on the neutral platform and fail the build.
 */
export function nodeImports(metafile: Metafile): string[] {
  const found: string[] = [];
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.path.startsWith("node:")) {
        found.push(`${file} imports ${imported.path}`);
      }
    }
  }
  return found;
}

/**
 * esbuild options of a Worker for workerd: one ES module, `cloudflare:*` and `node:*` imports left
 * to workerd (the latter only work with `nodejs_compat`), names kept like wrangler keeps them
 * (@cloudflare/containers routes outbound requests by class name).
 */
export const WORKER_BUILD_OPTIONS = {
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  mainFields: ["module", "main"],
  conditions: ["workerd", "worker", "browser", "import"],
  external: ["cloudflare:*", "node:*"],
  keepNames: true,
  logLevel: "silent",
} as const satisfies BuildOptions;

/**
 * Bundles a Worker module (by default the dev Worker, which imports containerflare's Worker and
 * host code) into one ES module for workerd: Web APIs only, `cloudflare:*` left to workerd.
 * Fails when anything in its import graph reaches for a Node built-in.
 */
export async function bundleWorker(entry: string = devWorkerEntry()): Promise<string> {
  // node:* stays external (WORKER_BUILD_OPTIONS) only so that the check below can name the importer.
  const result = await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [entry], metafile: true }).catch(
    (error: unknown) => {
      throw new CliError(`cannot bundle the dev Worker: ${firstBuildError(error)}`);
    },
  );
  const offending = nodeImports(result.metafile);
  if (offending.length > 0) throw new CliError(`the dev Worker must not use Node built-ins: ${offending[0]}`);
  return result.outputFiles[0]!.text;
}
