import { getConnInfo } from "@hono/node-server/conninfo";
import { type ContainerContext, serve } from "containerflare";
import { type ContainerflareEnv, getContext, handle } from "containerflare/hono";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { Env } from "./env.ts";

type AppEnv = ContainerflareEnv<Env, { startedAt: number }>;

const timing = createMiddleware<AppEnv>(async (c, next) => {
  c.set("startedAt", Date.now());
  getContext(c).log.debug("request");
  await next();
});

const app = new Hono<AppEnv>()
  .use(timing)
  .get("/kv/:key", async (c) => {
    const value: string | null = await c.env.CACHE.get(c.req.param("key"));
    const ctx: ContainerContext<Env> = getContext(c);
    const sameContext: ContainerContext<Env> = c.env.containerflare;
    c.executionCtx.waitUntil(c.env.JOBS.send({ read: c.req.param("key"), by: ctx.request.id }));
    const startedAt: number = c.get("startedAt");
    const { remote } = getConnInfo(c);
    return value === null ? c.notFound() : c.json({ value, startedAt, ip: remote.address, same: ctx === sameContext });
  })
  .get("/visits", async (c) => {
    const row = await c.env.DB.prepare("SELECT count(*) AS count FROM visits").first<{ count: number }>();
    return c.json({ count: row?.count ?? 0 });
  });

// @ts-expect-error NOPE is not a declared binding
app.get("/nope", (c) => c.env.NOPE.get("k"));

// @ts-expect-error KV values are strings, not numbers
app.get("/wrong", async (c): Promise<Response> => c.json({ n: (await c.env.CACHE.get("k")) satisfies number | null }));

serve(handle(app));

// @ts-expect-error getContext(c) carries the app's bindings: NOPE is not one of them
app.get("/nope-ctx", (c) => getContext(c).env.NOPE.get("k"));
