/**
 * What `containerflare serve` runs under another runtime:
 * `<node|bun|deno> runner.js <entry> [port]`. Imports the entry and serves its default export.
 */
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import { errorLine } from "./errors.ts";
import { startApp } from "./start.ts";

const [entry, port, name] = process.argv.slice(2);
if (!entry) {
  process.stderr.write("containerflare: runner: missing entry argument\n");
  process.exit(1);
}
let module: Record<string, unknown>;
try {
  module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
} catch (error) {
  process.stderr.write(`containerflare: cannot load ${name || basename(entry)}: ${errorLine(error)}\n`);
  process.exit(1);
}
startApp(module, name || basename(entry), port ? { port: Number(port) } : {});
