/**
 * containerflare's basic example: a plain `(request, ctx) => Response` app, no framework. The
 * same file runs in the container image on Cloudflare Containers and on Cloud Run, and locally
 * with `containerflare dev` (see README.md).
 *
 * On Cloudflare (and in `containerflare dev`) `ctx.env` reaches the Worker's KV, D1 and Queue
 * bindings through the command bus. Where no command host exists (Cloud Run) the binding routes
 * answer 503 `{ error: { code: "UNAVAILABLE", … } }`: serve() turns the UNAVAILABLE error each
 * binding call throws there into that response.
 */
import { type ContainerContext, upgradeWebSocket } from "containerflare";
import type { D1Database, KVNamespace, Queue } from "containerflare/command";

/** The bindings this app uses, declared like a Worker's Env (they are in wrangler.jsonc). */
interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue;
}

const KV_ROUTE = /^\/kv\/([^/]+)$/;

function notFound(message: string): Response {
  return Response.json({ error: { code: "NOT_FOUND", message } }, { status: 404 });
}

/** `GET /visits`: records this visit in D1 and answers how many there were so far. */
async function visits(_request: Request, ctx: ContainerContext<Env>): Promise<Response> {
  const db = ctx.env.DB;
  await db
    .prepare("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, at TEXT)")
    .run();
  await db
    .prepare("INSERT INTO visits (request_id, at) VALUES (?, ?)")
    .bind(ctx.request.id, new Date().toISOString())
    .run();
  const count = await db.prepare("SELECT COUNT(*) AS count FROM visits").first<number>("count");
  return Response.json({ count });
}

/** `POST /jobs`: queues the JSON body. */
async function enqueue(request: Request, ctx: ContainerContext<Env>): Promise<Response> {
  let job: unknown;
  try {
    job = await request.json();
  } catch {
    return Response.json({ error: { code: "INVALID_JSON", message: "the body must be JSON" } }, { status: 400 });
  }
  await ctx.env.JOBS.send(job);
  return Response.json({ queued: true }, { status: 202 });
}

/** `GET /ws`: a WebSocket that echoes each message; a plain GET gets upgradeWebSocket()'s 426. */
function echoSocket(ctx: ContainerContext<Env>): Response {
  return upgradeWebSocket<Env>({
    open: (peer) => peer.send(`connected ${ctx.request.id}`),
    message: (peer, message) => peer.send(typeof message.rawData === "string" ? message.text() : message.uint8Array()),
  });
}

async function app(request: Request, ctx: ContainerContext<Env>): Promise<Response> {
  const { pathname } = new URL(request.url);
  const method = request.method;

  if (pathname === "/" && method === "GET") return Response.json({ platform: ctx.platform, request: ctx.request });
  if (pathname === "/visits" && method === "GET") return visits(request, ctx);
  if (pathname === "/jobs" && method === "POST") return enqueue(request, ctx);
  if (pathname === "/ws" && method === "GET") return echoSocket(ctx);

  const kv = KV_ROUTE.exec(pathname);
  if (kv) {
    const key = decodeURIComponent(kv[1]!);
    if (method === "PUT") {
      await ctx.env.CACHE.put(key, await request.text());
      return Response.json({ key, stored: true });
    }
    if (method === "GET") {
      const value = await ctx.env.CACHE.get(key);
      if (value === null) return notFound(`no value stored under ${key}`);
      return new Response(value, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
  }
  return notFound(`no route for ${method} ${pathname}`);
}

// `websocket: true`: upgrade requests run through the app, and /ws accepts them.
export default { fetch: app, websocket: true };
