/** containerflare `serve()` with a plain handler returning the global `Response`, as users write it. */
import process from "node:process";
import { serve } from "../../dist/src/index.js";

serve(() => new Response("Hello, world!"), { port: Number(process.env.PORT), hostname: "127.0.0.1" });
