/**
 * The command host as production runs it: a Worker in workerd answering `POST /v1/commands`
 * with `createCommandHost(...).handle(request)` over its own KV binding. bench/commands.ts
 * bundles it (the dev CLI's `bundleWorker`) and runs it in Miniflare; the "http, workerd host"
 * rows measure the HTTP transport against it. No signature check, like a host without a secret.
 */
import { type CommandHost, createCommandHost } from "../../src/host/index.ts";

interface Env {
  CACHE: unknown;
}

let host: CommandHost | undefined;

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    host ??= createCommandHost({ bindings: { CACHE: env.CACHE }, allow: { CACHE: "kv" } });
    return host.handle(request);
  },
};
