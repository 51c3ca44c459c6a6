import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ImportKind, Plugin, PluginBuild } from "esbuild";

/** The directory of the package that contains `file` (the nearest package.json named `name`). */
function packageRoot(file: string, name: string): string | undefined {
  for (let directory = dirname(file); dirname(directory) !== directory; directory = dirname(directory)) {
    const manifest = join(directory, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name)
      return directory;
  }
  return undefined;
}

/** The entry a package exports under `condition` for its root (`exports["."][condition]`), if it is a plain path. */
function conditionalEntry(root: string, condition: string): string | undefined {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports?: Record<string, unknown>;
  };
  const entry = (manifest.exports?.["."] as Record<string, unknown> | undefined)?.[condition];
  return typeof entry === "string" ? join(root, entry) : undefined;
}

async function resolveThroughCondition(
  pluginBuild: PluginBuild,
  name: string,
  condition: string,
  kind: ImportKind,
  resolveDir: string,
) {
  const resolved = await pluginBuild.resolve(name, { kind, resolveDir, pluginData: { skip: true } });
  if (resolved.errors.length > 0 || !resolved.path) return undefined;
  const root = packageRoot(resolved.path, name);
  const entry = root && conditionalEntry(root, condition);
  return entry && existsSync(entry) ? { path: entry } : undefined;
}

/**
 * esbuild plugin that bundles the fetch-based builds of ofetch and node-fetch-native (the
 * builds Bun and Deno load) instead of their Node builds. The Node builds carry a node-fetch
 * polyfill and node:http agents for runtimes without a global `fetch`; Node >= 20, Bun and Deno
 * all have one, so they would only add ~120 kB and start-up work to every bundle.
 */
export function nativeFetch(): Plugin {
  return {
    name: "containerflare-native-fetch",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^(ofetch|node-fetch-native)$/ }, (args) => {
        if ((args.pluginData as { skip?: boolean } | undefined)?.skip) return undefined;
        return resolveThroughCondition(pluginBuild, args.path, "bun", args.kind, args.resolveDir);
      });
    },
  };
}
