/**
 * containerflare's basic example: a plain `(request, ctx) => Response` app, no framework. The
 * same file runs in the container image on Cloudflare Containers and on Cloud Run, and locally
 * with `containerflare dev` (see README.md).
 *
 * On Cloudflare (and in `containerflare dev`) `ctx.env` reaches the Worker's KV, D1 and Queue
 * bindings through the command bus. Where no command host exists (Cloud Run) the binding routes
 * answer 503 `{ error: { code: "UNAVAILABLE", … } }`: serve() turns the UNAVAILABLE error each
 * binding call throws there into that response.
 *
 * Beside `fetch`, the default export has a Worker's other handlers: `queue` consumes the jobs
 * `POST /jobs` sends (recording each in D1; `GET /jobs` lists them), and `scheduled` runs the
 * Cron Trigger of wrangler.jsonc (removing visits older than 30 days). The Worker forwards both
 * events to the container (`forwardTo`); `containerflare dev` delivers the queue and runs
 * `scheduled` with `--trigger-cron "0 3 * * *"`.
 */
import { type ContainerContext, type MessageBatch, type ScheduledController, upgradeWebSocket } from "containerflare";
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

/** `GET /jobs`: the last 20 jobs the queue handler processed. */
async function processedJobs(ctx: ContainerContext<Env>): Promise<Response> {
  await createJobsTable(ctx.env.DB);
  const { results } = await ctx.env.DB.prepare("SELECT id, body, at FROM jobs ORDER BY at DESC LIMIT 20").all<{
    id: string;
    body: string;
    at: string;
  }>();
  return Response.json({ jobs: results.map((row) => ({ ...row, body: JSON.parse(row.body) })) });
}

function createJobsTable(db: D1Database) {
  return db.prepare("CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, body TEXT, at TEXT)").run();
}

/**
 * The queue consumer: records each job in D1 and acks it; a job that cannot be recorded is
 * retried in 30 s (after max_retries it goes where wrangler.jsonc says).
 */
async function processJobs(batch: MessageBatch, env: Env, ctx: ContainerContext<Env>): Promise<void> {
  await createJobsTable(env.DB);
  for (const message of batch.messages) {
    try {
      await env.DB.prepare("INSERT OR REPLACE INTO jobs (id, body, at) VALUES (?, ?, ?)")
        .bind(message.id, JSON.stringify(message.body), new Date().toISOString())
        .run();
      message.ack();
    } catch (error) {
      ctx.log.warn(`job ${message.id} (attempt ${message.attempts}) is retried: ${String(error)}`);
      message.retry({ delaySeconds: 30 });
    }
  }
}

/** The Cron Trigger: removes visits older than 30 days. */
async function nightly(controller: ScheduledController, env: Env, ctx: ContainerContext<Env>): Promise<void> {
  await env.DB.prepare(
    "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, at TEXT)",
  ).run();
  const cutoff = new Date(controller.scheduledTime - 30 * 86_400_000).toISOString();
  const { meta } = await env.DB.prepare("DELETE FROM visits WHERE at < ?").bind(cutoff).run();
  ctx.log.info(`cron "${controller.cron}": removed ${meta.changes ?? 0} visits from before ${cutoff}`);
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
  if (pathname === "/jobs" && method === "GET") return processedJobs(ctx);
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

// `websocket: true`: upgrade requests run through the app, and /ws accepts them. `queue` and
// `scheduled` take the events the Worker forwards.
export default { fetch: app, websocket: true, queue: processJobs, scheduled: nightly };
