/**
 * containerflare's Hono example: the routes of examples/basic, written as a Hono app. The same
 * file runs in the container image on Cloudflare Containers and on Cloud Run, and locally with
 * `containerflare dev` (see README.md).
 *
 * `c.env` holds the bindings exactly as in a Worker (`c.env.CACHE.get(key)`); on Cloudflare (and
 * in `containerflare dev`) they reach the Worker's KV, D1 and Queue over the command bus. Where no
 * command host exists (Cloud Run) each binding call throws UNAVAILABLE, and `app.onError(onError)`
 * lets containerflare answer it: 503 `{ error: { code: "UNAVAILABLE", … } }`.
 */
import type { D1Database, KVNamespace, Queue } from "containerflare/command";
import { type ContainerflareEnv, getContext, handle, onError, upgradeWebSocket } from "containerflare/hono";
import { Hono } from "hono";

/** The bindings this app uses, declared like a Worker's Env (they are in wrangler.jsonc). */
interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue;
}

const app = new Hono<ContainerflareEnv<Env>>();

app.get("/", (c) => {
  const { platform, request } = getContext(c);
  return c.json({ platform, request });
});

app.put("/kv/:key", async (c) => {
  const key = c.req.param("key");
  await c.env.CACHE.put(key, await c.req.text());
  return c.json({ key, stored: true });
});

app.get("/kv/:key", async (c) => {
  const key = c.req.param("key");
  const value = await c.env.CACHE.get(key);
  if (value === null) return c.json({ error: { code: "NOT_FOUND", message: `no value stored under ${key}` } }, 404);
  return c.text(value);
});

/** Records this visit in D1 and answers how many there were so far. */
app.get("/visits", async (c) => {
  const db = c.env.DB;
  await db
    .prepare("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, at TEXT)")
    .run();
  await db
    .prepare("INSERT INTO visits (request_id, at) VALUES (?, ?)")
    .bind(getContext(c).request.id, new Date().toISOString())
    .run();
  const count = await db.prepare("SELECT COUNT(*) AS count FROM visits").first<number>("count");
  return c.json({ count });
});

/** Queues the JSON body. */
app.post("/jobs", async (c) => {
  let job: unknown;
  try {
    job = await c.req.json();
  } catch {
    return c.json({ error: { code: "INVALID_JSON", message: "the body must be JSON" } }, 400);
  }
  await c.env.JOBS.send(job);
  return c.json({ queued: true }, 202);
});

/** `GET /ws`: a WebSocket that echoes each message; a plain GET answers 426. */
app.get(
  "/ws",
  upgradeWebSocket((c) => {
    const { request } = getContext(c);
    return {
      onOpen: (_evt, ws) => ws.send(`connected ${request.id}`),
      onMessage: (evt, ws) =>
        ws.send(typeof evt.data === "string" ? evt.data : new Uint8Array(evt.data as ArrayBuffer)),
    };
  }),
  (c) => c.json({ error: { code: "UPGRADE_REQUIRED", message: "GET /ws takes WebSocket upgrades" } }, 426),
);

app.notFound((c) =>
  c.json({ error: { code: "NOT_FOUND", message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
);
app.onError(onError);

// `websocket: true`: upgrade requests run through the app, and /ws accepts them.
export default { fetch: handle(app), websocket: true };
