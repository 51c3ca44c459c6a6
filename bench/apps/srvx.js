/** Bare srvx with the global `Response` (srvx picks its adapter per runtime: node, bun or deno). */
import process from "node:process";
import { serve } from "srvx";

serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  silent: true,
  gracefulShutdown: false,
  fetch: () => new Response("Hello, world!"),
});
