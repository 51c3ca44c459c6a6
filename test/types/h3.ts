import { type ContainerContext, serve } from "containerflare";
import { getContext, handle, onError } from "containerflare/h3";
import { getRouterParam, H3, readBody } from "h3";
import type { Env } from "./env.ts";

const app = new H3({ onError })
  .get("/", (event) => {
    const ctx: ContainerContext = event.context.containerflare;
    return { platform: ctx.platform.kind, request: ctx.request };
  })
  .put("/kv/:key", async (event) => {
    const { env, waitUntil } = getContext<Env>(event);
    await env.CACHE.put(getRouterParam(event, "key")!, (await readBody<string>(event)) ?? "");
    waitUntil(Promise.resolve());
    return { stored: true };
  });

// @ts-expect-error NOPE is not a declared binding
app.get("/nope", (event) => getContext<Env>(event).env.NOPE.get("k"));

serve(handle(app));
