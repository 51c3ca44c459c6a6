import { serve, upgradeWebSocket as upgradeResponse, type WebSocketPeer } from "containerflare";
import { getContext as h3Context, handle as handleH3 } from "containerflare/h3";
import { type ContainerflareEnv, getContext, handle, upgradeWebSocket } from "containerflare/hono";
import { handle as handleItty } from "containerflare/itty";
import { defineWebSocketHandler, H3 } from "h3";
import { Hono } from "hono";
import { hc } from "hono/client";
import type { WSContext, WSMessageReceive } from "hono/ws";
import { AutoRouter } from "itty-router";
import type { Env } from "./env.ts";

// Hono: the helper's own signature, events typed by hono/ws, ws.raw the crossws peer.
const app = new Hono<ContainerflareEnv<Env>>().get(
  "/ws",
  upgradeWebSocket((c) => {
    const ctx = getContext<Env>(c);
    return {
      onOpen(_evt, ws: WSContext<WebSocketPeer>) {
        ws.send(`hi ${ctx.request.id}`);
        ws.raw?.subscribe("room");
      },
      async onMessage(evt, ws) {
        const data: WSMessageReceive = evt.data;
        ws.send((await ctx.env.CACHE.get(String(data))) ?? "");
      },
      onClose(evt) {
        ctx.log.info("closed", evt.code satisfies number, evt.reason);
      },
    };
  }),
);
const chat = upgradeWebSocket(() => ({}), { protocol: "chat.v1", headers: { "x-a": "b" } });
app.get("/chat", chat);
// @ts-expect-error no such option
upgradeWebSocket(() => ({}), { idleTimeout: 5 });
serve(handle(app), { websocket: true });

// The RPC client sees a WebSocket route.
const client = hc<typeof app>("http://localhost");
const socket: WebSocket = client.ws.$ws();
socket.close();

// H3 v2's own handler; getContext(peer) is typed with the bindings.
const h3 = new H3().get(
  "/ws",
  defineWebSocketHandler({
    async message(peer, message) {
      peer.send((await h3Context<Env>(peer).env.CACHE.get(message.text())) ?? "");
    },
  }),
);
serve(handleH3(h3), { websocket: true });

// itty: a route returns upgradeWebSocket(hooks).
const router = AutoRouter();
router.get("/ws", () => upgradeResponse({ message: (peer, message) => peer.send(message.text()) }));
serve(handleItty(router), { websocket: true });
