/**
 * containerflare's H3 example: the routes of examples/basic, written as an H3 app. The same file
 * runs in the container image on Cloudflare Containers and on Cloud Run, and locally with
 * `containerflare dev` (see README.md).
 *
 * `getContext(event).env` holds the bindings (`env.CACHE.get(key)`); on Cloudflare (and in
 * `containerflare dev`) they reach the Worker's KV, D1 and Queue over the command bus. Where no
 * command host exists (Cloud Run) each binding call throws UNAVAILABLE, and the `onError` hook
 * answers it with 503 `{ error: { code: "UNAVAILABLE", … } }` (H3 would hide its message).
 */
import type { D1Database, KVNamespace, Queue } from "containerflare/command";
import { getContext, handle, onError } from "containerflare/h3";
import { defineWebSocketHandler, getRouterParam, H3, type H3Event } from "h3";

/** The bindings this app uses, declared like a Worker's Env (they are in wrangler.jsonc). */
interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue;
}

const bindings = (event: H3Event): Env => getContext<Env>(event).env;

function notFound(event: H3Event, message: string) {
  event.res.status = 404;
  return { error: { code: "NOT_FOUND", message } };
}

const app = new H3({ onError })
  .get("/", (event) => {
    const { platform, request } = event.context.containerflare;
    return { platform, request };
  })
  .put("/kv/:key", async (event) => {
    const key = getRouterParam(event, "key", { decode: true })!;
    await bindings(event).CACHE.put(key, await event.req.text());
    return { key, stored: true };
  })
  .get("/kv/:key", async (event) => {
    const key = getRouterParam(event, "key", { decode: true })!;
    const value = await bindings(event).CACHE.get(key);
    if (value === null) return notFound(event, `no value stored under ${key}`);
    event.res.headers.set("content-type", "text/plain; charset=utf-8");
    return value;
  })
  // Records this visit in D1 and answers how many there were so far.
  .get("/visits", async (event) => {
    const db = bindings(event).DB;
    await db
      .prepare("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, at TEXT)")
      .run();
    await db
      .prepare("INSERT INTO visits (request_id, at) VALUES (?, ?)")
      .bind(getContext(event).request.id, new Date().toISOString())
      .run();
    const count = await db.prepare("SELECT COUNT(*) AS count FROM visits").first<number>("count");
    return { count };
  })
  // Queues the JSON body.
  .post("/jobs", async (event) => {
    let job: unknown;
    try {
      job = await event.req.json();
    } catch {
      event.res.status = 400;
      return { error: { code: "INVALID_JSON", message: "the body must be JSON" } };
    }
    await bindings(event).JOBS.send(job);
    event.res.status = 202;
    return { queued: true };
  })
  // A WebSocket that echoes each message (H3's own handler); a plain GET answers 426.
  .get(
    "/ws",
    defineWebSocketHandler({
      open(peer) {
        peer.send(`connected ${getContext(peer).request.id}`);
      },
      message(peer, message) {
        peer.send(typeof message.rawData === "string" ? message.text() : message.uint8Array());
      },
    }),
  )
  .all("/**", (event) => notFound(event, `no route for ${event.req.method} ${event.url.pathname}`));

// `websocket: true`: upgrade requests run through the app, and /ws accepts them.
export default { fetch: handle(app), websocket: true };
