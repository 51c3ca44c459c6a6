/** srvx on Node with its `FastResponse`, which skips building a real WHATWG Response. */
import process from "node:process";
import { FastResponse, serve } from "srvx";

serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  silent: true,
  gracefulShutdown: false,
  fetch: () => new FastResponse("Hello, world!"),
});
