/**
 * What `containerflare serve` runs under another runtime:
 * `<node|bun|deno> runner.js <entry> [port]`. Imports the entry and serves its default export.
 */
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import { exitProcess } from "../exit.ts";
import { startApp } from "./start.ts";

const [entry, port, name] = process.argv.slice(2);
if (!entry) exitProcess(1, "runner: missing entry argument");
let module: Record<string, unknown>;
try {
  module = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
} catch (error) {
  // Imported here: it needs node:util, which costs Bun and Deno several ms of every start.
  const { errorLine } = await import("./errors.ts");
  exitProcess(1, `cannot load ${name || basename(entry)}: ${errorLine(error)}`);
}
startApp(module, name || basename(entry), port ? { port: Number(port) } : {});
