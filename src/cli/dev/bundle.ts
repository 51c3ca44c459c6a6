import { build, type Metafile } from "esbuild";
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
 * Bundles a Worker module (by default the dev Worker, which imports containerflare's Worker and
 * host code) into one ES module for workerd: Web APIs only, `cloudflare:*` left to workerd.
 * Fails when anything in its import graph reaches for a Node built-in.
 */
export async function bundleWorker(entry: string = devWorkerEntry()): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser", "import"],
    // Node built-ins stay external only so that the check below can name the importer.
    external: ["cloudflare:*", "node:*"],
    // Like wrangler: @cloudflare/containers routes outbound requests by class name.
    keepNames: true,
    metafile: true,
    logLevel: "silent",
  }).catch((error: unknown) => {
    throw new CliError(`cannot bundle the dev Worker: ${firstBuildError(error)}`);
  });
  const offending = nodeImports(result.metafile);
  if (offending.length > 0) throw new CliError(`the dev Worker must not use Node built-ins: ${offending[0]}`);
  return result.outputFiles[0]!.text;
}
