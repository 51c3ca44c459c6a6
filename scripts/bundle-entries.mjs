/**
 * The second half of `npm run build`: bundles each public runtime entry of the package with
 * esbuild, over tsc's output of the same name, so that an app loads a handful of files instead of
 * one module per source file (Node and Deno pay about a millisecond per module at start-up; see
 * docs/architecture.md, "Start-up"). Code the entries share goes to `dist/src/_chunks/` once, so a
 * process that imports several entries still has one copy of every module; modules imported on
 * first use (the command bus, the metadata verifier, Node's fast Response) stay separate chunks,
 * loaded only when used. Dependencies stay external (they are the app's packages). tsc still
 * emits every module and the `.d.ts` files: the CLI and the tests use them as they are.
 */
import { readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Output path (under dist/, without .js) → source: every entry package.json exports. */
export const ENTRIES = {
  "src/index": "src/index.ts",
  "src/command/index": "src/command/index.ts",
  "src/host/index": "src/host/index.ts",
  "src/host/node": "src/host/node.ts",
  "src/worker/index": "src/worker/index.ts",
  "src/worker/portable": "src/worker/portable.ts",
  "adapters/hono": "adapters/hono.ts",
  "adapters/h3": "adapters/h3.ts",
  "adapters/itty": "adapters/itty.ts",
};

/** Every dependency and peer dependency but valibot. */
function externalPackages() {
  const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
  const names = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
  return names.filter((name) => name !== "valibot").flatMap((name) => [name, `${name}/*`]);
}

rmSync(`${root}dist/src/_chunks`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: Object.entries(ENTRIES).map(([out, source]) => ({ in: source, out })),
  outdir: "dist",
  chunkNames: "src/_chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2023",
  // Dependencies stay imports (they are the app's packages too), except valibot: bundled, only
  // the functions our schemas use are kept (a few KiB of its 100+ KiB module), which is most of
  // what valibot costs a cold start. It is stateless, so an app's own copy does not mind.
  external: ["node:*", "cloudflare:*", ...externalPackages()],
  sourcemap: true,
  logLevel: "warning",
});
