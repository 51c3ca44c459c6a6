import { serve } from "containerflare";
import type { Env } from "./env.ts";

// Plain handlers need no adapter: the context is the second argument.
serve<Env>(async (request, ctx) => {
  const value: string | null = await ctx.env.CACHE.get(new URL(request.url).pathname);
  ctx.waitUntil(ctx.env.JOBS.send({ seen: value !== null }));
  return Response.json({ value, id: ctx.request.id });
});
