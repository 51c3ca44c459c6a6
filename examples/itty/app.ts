/**
 * containerflare's itty-router example: the routes of examples/basic, written as an itty-router
 * app whose handlers take `(request, env, ctx)` exactly as in a Worker. The same file runs in the
 * container image on Cloudflare Containers and on Cloud Run, and locally with `containerflare dev`
 * (see README.md).
 *
 * On Cloudflare (and in `containerflare dev`) `env` reaches the Worker's KV, D1 and Queue over the
 * command bus. Where no command host exists (Cloud Run) each binding call throws UNAVAILABLE,
 * which `onError` hands to serve(): 503 `{ error: { code: "UNAVAILABLE", message: "Service
 * Unavailable", requestId } }`, the reason in the log.
 */
import { upgradeWebSocket } from "containerflare";
import type { D1Database, KVNamespace, Queue } from "containerflare/command";
import { type ContainerflareArgs, handle, onError } from "containerflare/itty";
import { AutoRouter, type IRequest, json, text } from "itty-router";

/** The bindings this app uses, declared like a Worker's Env (they are in wrangler.jsonc). */
interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue;
}

const notFound = (message: string) => json({ error: { code: "NOT_FOUND", message } }, { status: 404 });

const router = AutoRouter<IRequest, ContainerflareArgs<Env>>({
  missing: (request) => notFound(`no route for ${request.method} ${new URL(request.url).pathname}`),
  catch: onError,
});

router
  .get("/", (_request, _env, ctx) => ({ platform: ctx.platform, request: ctx.request }))
  .put("/kv/:key", async (request, env) => {
    const key = decodeURIComponent(request.params.key!);
    await env.CACHE.put(key, await request.text());
    return { key, stored: true };
  })
  .get("/kv/:key", async ({ params }, env) => {
    const key = decodeURIComponent(params.key!);
    const value = await env.CACHE.get(key);
    return value === null ? notFound(`no value stored under ${key}`) : text(value);
  })
  // Records this visit in D1 and answers how many there were so far.
  .get("/visits", async (_request, env, ctx) => {
    await env.DB.prepare(
      "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, at TEXT)",
    ).run();
    await env.DB.prepare("INSERT INTO visits (request_id, at) VALUES (?, ?)")
      .bind(ctx.request.id, new Date().toISOString())
      .run();
    const count = await env.DB.prepare("SELECT COUNT(*) AS count FROM visits").first<number>("count");
    return { count };
  })
  // Queues the JSON body.
  .post("/jobs", async (request, env) => {
    let job: unknown;
    try {
      job = await request.json();
    } catch {
      return json({ error: { code: "INVALID_JSON", message: "the body must be JSON" } }, { status: 400 });
    }
    await env.JOBS.send(job);
    return json({ queued: true }, { status: 202 });
  })
  // A WebSocket that echoes each message; a plain GET gets upgradeWebSocket()'s 426. The request
  // goes along so the hooks survive a `finally` stage that copies the Response (corsify).
  .get("/ws", (request, _env, ctx) =>
    upgradeWebSocket(
      {
        open: (peer) => peer.send(`connected ${ctx.request.id}`),
        message: (peer, message) =>
          peer.send(typeof message.rawData === "string" ? message.text() : message.uint8Array()),
      },
      request,
    ),
  );

// `websocket: true`: upgrade requests run through the app, and /ws accepts them.
export default { fetch: handle(router), websocket: true };
