/**
 * WebSocket echo through containerflare `serve()` (its crossws adapter for the runtime: `ws` on
 * Node, the native server on Bun and Deno): every message goes back as it came. `GET /` answers
 * "Hello, world!" so that the harness sees the server is up.
 */
import process from "node:process";
import { serve } from "../../dist/src/index.js";

serve(() => new Response("Hello, world!"), {
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  websocket: {
    message(peer, message) {
      peer.send(message.rawData);
    },
  },
});
