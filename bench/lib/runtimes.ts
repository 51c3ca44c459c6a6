/** The three runtimes the benchmark drives, from the project's own node_modules/.bin. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** A runtime name as used in the report. */
export type RuntimeName = "node" | "bun" | "deno";

/** A runtime binary and how to run a TypeScript file with it. */
export interface Runtime {
  name: RuntimeName;
  binary: string;
  /** Version string, or undefined when the binary is missing or does not answer. */
  version: string | undefined;
  /** Arguments that run `file`. */
  argsFor(file: string): string[];
}

/** Resolves the three runtimes under `root`/node_modules/.bin (Node falls back to the harness's own). */
export function resolveRuntimes(root: string): Record<RuntimeName, Runtime> {
  const bin = (name: string) => join(root, "node_modules", ".bin", name);
  const nodeBinary = existsSync(bin("node")) ? bin("node") : process.execPath;
  return {
    node: { name: "node", binary: nodeBinary, version: versionOf(nodeBinary, ["-v"]), argsFor: (file) => [file] },
    bun: { name: "bun", binary: bin("bun"), version: versionOf(bin("bun"), ["-v"]), argsFor: (file) => [file] },
    deno: {
      name: "deno",
      binary: bin("deno"),
      version: versionOf(bin("deno"), ["-v"]),
      argsFor: (file) => ["run", "-A", file],
    },
  };
}

/** First line of `<binary> <args>`, without a leading runtime name ("deno 2.1" → "2.1"). */
function versionOf(binary: string, args: string[]): string | undefined {
  if (!existsSync(binary)) return undefined;
  const out = spawnSync(binary, args, { encoding: "utf8", timeout: 10_000 });
  const line = out.status === 0 ? out.stdout.split("\n")[0]?.trim() : undefined;
  return line ? line.replace(/^(deno|bun)\s+/, "").replace(/^v/, "") : undefined;
}
