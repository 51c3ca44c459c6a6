import type { Plugin } from "esbuild";

/**
 * esbuild plugin that resolves `node-fetch-native` (ofetch's fetch on Node) to its `native`
 * entry, the global `fetch`. Its Node entry also bundles a node-fetch polyfill for runtimes
 * without a global fetch; Node >= 20, Bun and Deno all have one, so the polyfill would only add
 * ~115 kB to every bundle and to its start-up parse time.
 */
export function nativeFetch(): Plugin {
  return {
    name: "containerflare-native-fetch",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^node-fetch-native$/ }, async (args) => {
        const resolved = await pluginBuild.resolve("node-fetch-native/native", { kind: args.kind, resolveDir: args.resolveDir });
        // An older node-fetch-native without the `native` entry: keep the normal resolution.
        return resolved.errors.length > 0 ? undefined : { path: resolved.path };
      });
    },
  };
}
