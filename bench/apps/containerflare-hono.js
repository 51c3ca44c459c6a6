/**
 * A Hono app served by containerflare `serve()`: through the `containerflare/hono` adapter when it
 * is built, else as a plain fetch handler. The harness reports which one ran (the `bench:` line).
 */
import { existsSync } from "node:fs";
import process from "node:process";
import { Hono } from "hono";
import { serve } from "../../dist/src/index.js";

const app = new Hono().get("/", (c) => c.text("Hello, world!"));
const adapter = new URL("../../dist/adapters/hono.js", import.meta.url);

let handler = (request) => app.fetch(request);
let wiring = "`serve((request) => app.fetch(request))` (the containerflare/hono adapter is not built yet)";
if (existsSync(adapter)) {
  const { handle } = await import(adapter.href);
  handler = handle(app);
  wiring = "`serve(handle(app))` with `containerflare/hono`";
}
console.log(`bench: wired as ${wiring}`);
serve(handler, { port: Number(process.env.PORT), hostname: "127.0.0.1" });
