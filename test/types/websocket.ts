import { serve, upgradeWebSocket, type WebSocketHooks } from "containerflare";
import type { Env } from "./env.ts";

// Server-wide hooks: each gets the upgrade request's context, typed by the app's bindings.
const hooks: WebSocketHooks<Env> = {
  upgrade(request, ctx) {
    if (!request.headers.get("authorization")) return new Response("Unauthorized", { status: 401 });
    return { headers: { "x-request-id": ctx.request.id } };
  },
  async message(peer, message, ctx) {
    const value: string | null = await ctx.env.CACHE.get(message.text());
    peer.send(value ?? "");
  },
  close(_peer, details, ctx) {
    ctx.log.info("closed", details.code satisfies number | undefined, details.reason);
  },
};
serve<Env>(() => new Response("no"), {
  websocket: hooks,
  webSocketOptions: { maxMessageSize: 1024 * 1024, allowedOrigins: ["https://app.example.com"] },
});

// A handler that routes its own upgrades.
serve<Env>(
  (request, ctx) =>
    new URL(request.url).pathname === "/ws"
      ? upgradeWebSocket<Env>({ open: (peer) => peer.send(`hi ${ctx.request.id}`) })
      : new Response("hi"),
  { websocket: true },
);

// Plain crossws hooks fit as they are.
serve(() => new Response("x"), { websocket: { message: (peer, message) => peer.send(message.uint8Array()) } });
