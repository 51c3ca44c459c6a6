import { build, type Plugin } from "esbuild";

const NAMESPACE = "containerflare-srvx";
const NODE_ADAPTER = "srvx-node-adapter";

async function exportNames(path: string): Promise<string[]> {
  const result = await build({
    entryPoints: [path],
    bundle: false,
    write: false,
    metafile: true,
    format: "esm",
    outdir: "out",
    logLevel: "silent",
  });
  return Object.values(result.metafile.outputs).flatMap((output) => output.exports);
}

/** srvx's Node adapter as one CommonJS module, whose `node:` imports become `require()` calls. */
async function commonJsAdapter(path: string): Promise<string> {
  const result = await build({
    entryPoints: [path],
    bundle: true,
    write: false,
    format: "cjs",
    platform: "node",
    target: "node20",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Source of the module that stands in for `srvx`: the adapter of the running runtime. */
export function srvxSwitchSource(names: Iterable<string>): string {
  const lines = [
    `import * as bun from "srvx/bun";`,
    `import * as deno from "srvx/deno";`,
    `const adapter = "Deno" in globalThis ? deno : "Bun" in globalThis ? bun : require(${JSON.stringify(NODE_ADAPTER)});`,
    ...[...new Set(names)].sort().map((name) => `export const ${name} = adapter.${name};`),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * esbuild plugin that makes one bundle serve natively on every runtime. srvx picks its adapter
 * through `bun`/`deno`/`node` export conditions, which a bundler resolves once, at build time;
 * a node-targeted bundle would run Bun and Deno through their node:http emulation. This replaces
 * the bare `srvx` import with a module that bundles the three adapters and selects one by the
 * runtime's global (`Bun`, `Deno`), the same test `serve()` uses. It exports the union of the
 * adapters' names; a name an adapter lacks is undefined there.
 *
 * The Node adapter is bundled as CommonJS and required only on Node: ES module imports of
 * built-ins are hoisted to the top of the bundle, and node:http, node:https and node:http2 would
 * otherwise be initialised at every start on Bun and Deno too, for nothing (tens of ms).
 */
export function srvxRuntimeSwitch(): Plugin {
  return {
    name: "containerflare-srvx-runtime-switch",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^srvx$/ }, (args) => ({
        path: "srvx",
        namespace: NAMESPACE,
        pluginData: { resolveDir: args.resolveDir },
      }));
      pluginBuild.onResolve({ filter: new RegExp(`^${NODE_ADAPTER}$`), namespace: NAMESPACE }, (args) => ({
        path: NODE_ADAPTER,
        namespace: NAMESPACE,
        pluginData: args.pluginData,
      }));
      pluginBuild.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const resolveDir = (args.pluginData as { resolveDir: string }).resolveDir;
        const resolve = (adapter: string) =>
          pluginBuild.resolve(`srvx/${adapter}`, { kind: "import-statement", resolveDir });
        if (args.path === NODE_ADAPTER) {
          const node = await resolve("node");
          if (node.errors.length > 0) return { errors: node.errors };
          return { contents: await commonJsAdapter(node.path), loader: "js", resolveDir };
        }
        const names: string[] = [];
        for (const adapter of ["node", "bun", "deno"]) {
          const resolved = await resolve(adapter);
          if (resolved.errors.length > 0) return { errors: resolved.errors };
          names.push(...(await exportNames(resolved.path)));
        }
        return { contents: srvxSwitchSource(names), loader: "js", resolveDir, pluginData: { resolveDir } };
      });
    },
  };
}
