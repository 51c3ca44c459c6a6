import { type ContainerContext, serve } from "containerflare";
import { type ContainerflareArgs, getContext, handle } from "containerflare/itty";
import { AutoRouter, type IRequest, IttyRouter, Router } from "itty-router";
import type { Env } from "./env.ts";

const auto = AutoRouter<IRequest, ContainerflareArgs<Env>>();
auto.get("/kv/:key", async ({ params }, env, ctx) => {
  const key = params.key ?? "";
  ctx.waitUntil(env.JOBS.send({ read: key }));
  return (await env.CACHE.get(key)) ?? undefined;
});
// @ts-expect-error NOPE is not a declared binding
auto.get("/nope", (_request, env) => env.NOPE.get("k"));

const router = Router<IRequest, ContainerflareArgs<Env>>();
router.get("/", (request, _env, ctx) => ({ request: ctx.request, same: getContext<Env>(request) === ctx }));

const itty = IttyRouter<IRequest, ContainerflareArgs<Env>>();
itty.get("/", (_request, env: Env, ctx: ContainerContext<Env>) =>
  env.DB.prepare("SELECT 1")
    .first()
    .then((row) => ({ row, id: ctx.request.id })),
);

serve(handle(auto));
serve(handle(router));
serve(handle(itty));
