/**
 * containerflare's Durable Object example: one container per room. The Worker (worker.ts) sends
 * `/rooms/:name/…` to the Durable Object named `:name`, and each Durable Object runs its own
 * container of this app, so every room answers from its own instance. The same file runs
 * unchanged on Cloud Run and locally with `containerflare serve` (see README.md).
 *
 * `GET /rooms/:name/` counts the room's visits in the Worker's KV namespace `CACHE` (through the
 * command bus) and answers which Durable Object's container served it. Where no command host
 * exists (Cloud Run) it answers 503 `{ error: { code: "UNAVAILABLE", … } }`.
 *
 * `GET /rooms/:name/ws` is the room's chat: a WebSocket whose every message reaches the room's
 * other sockets. All of a room's sockets land on its one container (its Durable Object relays
 * them), so crossws's in-process topics are the whole broadcast.
 *
 * `scheduled` runs the Cron Trigger of wrangler.jsonc in the lobby's container (the Worker sends
 * it there with forwardScheduled): it notes the run in KV, and every room shows the last one.
 */
import { type ContainerContext, type ScheduledController, upgradeWebSocket } from "containerflare";
import { envGet, type KVNamespace } from "containerflare/command";

/** The bindings this app uses, declared like a Worker's Env (they are in wrangler.jsonc). */
interface Env {
  CACHE: KVNamespace;
}

const LAST_CRON_KEY = "last-cron";
const ROOM_ROUTE = /^\/rooms\/([^/]+)\/?$/;
const CHAT_ROUTE = /^\/rooms\/([^/]+)\/ws$/;

/** The chat of one room: join, then every message is published to the room's other sockets. */
function chat(name: string) {
  const topic = `room:${name}`;
  return upgradeWebSocket({
    open(peer, ctx) {
      peer.subscribe(topic);
      peer.send(JSON.stringify({ joined: name, durableObjectId: ctx.platform.cloudflare?.durableObjectId ?? null }));
    },
    message(peer, message) {
      peer.publish(topic, message.text());
    },
  });
}

async function app(request: Request, ctx: ContainerContext<Env>): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === "/" && request.method === "GET") {
    // What the container itself is: the Worker routes only /rooms/… here, Cloud Run everything.
    return Response.json({ platform: ctx.platform, request: ctx.request, rooms: "GET /rooms/:name/" });
  }
  const chatRoom = CHAT_ROUTE.exec(pathname);
  if (chatRoom) return chat(decodeURIComponent(chatRoom[1]!));
  const room = ROOM_ROUTE.exec(pathname);
  if (room && request.method === "GET") {
    const name = decodeURIComponent(room[1]!);
    // A counter for the example: KV is eventually consistent, so two rooms' Worker-side reads may
    // lag; the Durable Object's own storage is the place for an exact one.
    const key = `visits:${name}`;
    const visits = Number((await ctx.env.CACHE.get(key)) ?? 0) + 1;
    await ctx.env.CACHE.put(key, String(visits));
    return Response.json({
      room: name,
      // The Durable Object whose container this is: one per room name.
      durableObjectId: ctx.platform.cloudflare?.durableObjectId ?? null,
      visits,
      greeting: await envGet(ctx.commands, "GREETING"),
      lastCron: JSON.parse((await ctx.env.CACHE.get(LAST_CRON_KEY)) ?? "null"),
      request: ctx.request,
    });
  }
  return Response.json(
    { error: { code: "NOT_FOUND", message: `no route for ${request.method} ${pathname}` } },
    { status: 404 },
  );
}

/** The Cron Trigger: notes when it ran, and in which room's container. */
async function hourly(controller: ScheduledController, env: Env, ctx: ContainerContext<Env>): Promise<void> {
  const run = {
    cron: controller.cron,
    at: new Date(controller.scheduledTime).toISOString(),
    durableObjectId: ctx.platform.cloudflare?.durableObjectId ?? null,
  };
  await env.CACHE.put(LAST_CRON_KEY, JSON.stringify(run));
  ctx.log.info(`cron "${controller.cron}" ran`);
}

// `websocket: true`: upgrade requests run through the app, and /rooms/:name/ws accepts them.
export default { fetch: app, websocket: true, scheduled: hourly };
