import { relative } from "node:path";
import { defineCommand } from "citty";
import { consola } from "consola";
import { formatBytes } from "../protocol/bytes.ts";
import { bundleApp } from "./bundle.ts";

/** `containerflare build <entry> [--out .output]` */
export const buildCommand = defineCommand({
  meta: {
    name: "build",
    description: "Bundle the app, containerflare and all dependencies into one server.mjs for node, bun and deno",
  },
  args: {
    entry: {
      type: "positional",
      required: true,
      description: "File whose default export is the app (.ts, .js, .mjs, …)",
    },
    out: {
      type: "string",
      default: ".output",
      valueHint: "dir",
      description: "Output directory; the bundle is <out>/server.mjs",
    },
    minify: {
      type: "boolean",
      default: true,
      description: "Minify the bundle",
      negativeDescription: "Do not minify the bundle",
    },
    sourcemap: {
      type: "boolean",
      default: false,
      description: "Also write server.mjs.map (run node with --enable-source-maps)",
    },
  },
  async run({ args }) {
    const result = await bundleApp({
      entry: args.entry,
      outDir: args.out,
      minify: args.minify,
      sourcemap: args.sourcemap,
    });
    for (const warning of result.warnings) consola.warn(warning);
    const file = relative(process.cwd(), result.file) || result.file;
    consola.success(`built ${file} (${formatBytes(result.bytes)}) in ${Math.round(result.durationMs)} ms`);
    consola.info(`run it with: node ${file} | bun ${file} | deno run -A ${file}`);
  },
});
