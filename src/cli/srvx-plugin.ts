import { build, type Plugin } from "esbuild";

const ADAPTERS = ["node", "bun", "deno"] as const;
const NAMESPACE = "containerflare-srvx";

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

/** Source of the module that stands in for `srvx`: every adapter bundled, one chosen at start-up. */
export function srvxSwitchSource(names: Iterable<string>): string {
  const lines = [
    ...ADAPTERS.map((adapter) => `import * as ${adapter} from "srvx/${adapter}";`),
    `const adapter = "Deno" in globalThis ? deno : "Bun" in globalThis ? bun : node;`,
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
      pluginBuild.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const resolveDir = (args.pluginData as { resolveDir: string }).resolveDir;
        const names: string[] = [];
        for (const adapter of ADAPTERS) {
          const resolved = await pluginBuild.resolve(`srvx/${adapter}`, { kind: "import-statement", resolveDir });
          if (resolved.errors.length > 0) return { errors: resolved.errors };
          names.push(...(await exportNames(resolved.path)));
        }
        return { contents: srvxSwitchSource(names), loader: "js", resolveDir };
      });
    },
  };
}
