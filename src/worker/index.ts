/**
 * `containerflare/worker`: the Cloudflare Worker in front of a containerflare container. It
 * forwards requests with a signed `x-containerflare-metadata` header and answers the
 * container's command bus with the Worker's bindings. Runs in workerd: Web APIs only, no `node:`
 * imports anywhere below this module (`cloudflare:workers`, workerd's own, for
 * `ContainerflareHost`).
 *
 * Two ways to run the container, both supported:
 *
 * - the **Durable Object Container API** (`this.ctx.container`, recommended by Cloudflare):
 *   `containerflareContainer(ctx, env, { host })` in a plain `DurableObject`, and the command
 *   host as the named entrypoint `ContainerflareHost` (compatibility date 2025-11-17 or later):
 *
 *   ```ts
 *   import { DurableObject } from "cloudflare:workers";
 *   import { containerflareContainer } from "containerflare/worker";
 *   export { ContainerflareHost } from "containerflare/worker";
 *
 *   export class Room extends DurableObject<Env> {
 *     container = containerflareContainer(this.ctx, this.env, {
 *       host: this.ctx.exports.ContainerflareHost?.({ props: { allow: ["CACHE", "DB"] } }),
 *     });
 *     fetch(request: Request) {
 *       return this.container.fetch(request);
 *     }
 *   }
 *   export default { fetch: (request: Request, env: Env) => env.ROOMS.getByName("lobby").fetch(request) };
 *   ```
 *
 * - the deprecated `@cloudflare/containers` `Container` class, a peer: pass your class to
 *   `withContainerflare`, and `export { ContainerProxy }` from it in your Worker:
 *
 *   ```ts
 *   import { Container, ContainerProxy } from "@cloudflare/containers";
 *   import { forwardTo, withContainerflare } from "containerflare/worker";
 *
 *   class AppContainer extends Container {
 *     defaultPort = 8787;
 *   }
 *   export const App = withContainerflare(AppContainer, { allow: ["CACHE", "DB", "JOBS"] });
 *   export default forwardTo("APP");
 *   export { ContainerProxy };
 *   ```
 *
 * This module loads `cloudflare:workers`, which exists in workerd only, for `ContainerflareHost`.
 * Node, Bun and Deno get the rest of it (portable.ts) through the package's `node` export
 * condition, so that tests and tools outside workerd can import `containerflare/worker` too.
 *
 * @module
 */

export { ContainerflareHost } from "./host-entrypoint.ts";
export * from "./portable.ts";
