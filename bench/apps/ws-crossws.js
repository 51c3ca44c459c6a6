/**
 * The same WebSocket echo with bare crossws on srvx: srvx's `serve()` and crossws's adapter for
 * the runtime, the hooks given to the adapter directly. Node: `crossws/adapters/node` takes the
 * node:http server's "upgrade" event; Bun: `crossws/adapters/bun`, its `websocket` handlers on
 * Bun.serve through srvx's `bun` option; Deno: `crossws/adapters/deno` answers the upgrade in
 * fetch. `GET /` answers "Hello, world!" so that the harness sees the server is up.
 */
import process from "node:process";
import { serve } from "srvx";

const hooks = {
  message(peer, message) {
    peer.send(message.rawData);
  },
};
const hello = () => new Response("Hello, world!");
const isUpgrade = (request) => request.headers.get("upgrade")?.toLowerCase() === "websocket";
const listen = { port: Number(process.env.PORT), hostname: "127.0.0.1", silent: true, gracefulShutdown: false };

if ("Bun" in globalThis) {
  const { default: bunAdapter } = await import("crossws/adapters/bun");
  const ws = bunAdapter({ hooks });
  serve({
    ...listen,
    bun: { websocket: ws.websocket },
    fetch: (request) => (isUpgrade(request) ? ws.handleUpgrade(request, request.runtime.bun.server) : hello()),
  });
} else if ("Deno" in globalThis) {
  const { default: denoAdapter } = await import("crossws/adapters/deno");
  const ws = denoAdapter({ hooks });
  serve({
    ...listen,
    fetch: (request) => (isUpgrade(request) ? ws.handleUpgrade(request, request.runtime.deno.info) : hello()),
  });
} else {
  const [{ default: nodeAdapter }, { NodeRequest }] = await Promise.all([
    import("crossws/adapters/node"),
    import("srvx/node"),
  ]);
  const ws = nodeAdapter({ hooks });
  const server = serve({ ...listen, fetch: hello });
  server.node.server.on("upgrade", (req, socket, head) => {
    ws.handleUpgrade(req, socket, head, new NodeRequest({ req, upgrade: { socket, head } }));
  });
}
