/**
 * The Worker in front of the rooms' containers, on the Durable Object Container API
 * (`this.ctx.container`), without `@cloudflare/containers`:
 *
 * - `Room` is a plain Durable Object; `containerflareContainer` starts its container with the
 *   shared secret, answers the container's command bus with `ContainerflareHost` (the bindings in
 *   `allow`, the vars in `vars`, nothing else), and forwards each request with a signed
 *   `x-containerflare-metadata` header;
 * - `ContainerflareHost` is exported so that `ctx.exports.ContainerflareHost` exists
 *   (compatibility_date 2025-11-17 or later);
 * - the default export sends `/rooms/:name/…` to the Durable Object named `:name`: one container
 *   instance per room (up to `max_instances` in wrangler.jsonc), and each Cron Trigger to the
 *   lobby's container, whose `scheduled` handler runs it (forwardScheduled).
 */
import { DurableObject } from "cloudflare:workers";
import {
  type ContainerflareWorkerEnv,
  containerflareContainer,
  forwardScheduled,
  type ScheduledController,
} from "containerflare/worker";

export { ContainerflareHost } from "containerflare/worker";

/**
 * The bindings this Worker uses. With `wrangler types` (or @cloudflare/workers-types) write
 * `ROOMS: DurableObjectNamespace<Room>`; the structural type keeps this file checkable beside Node.
 */
interface Env extends ContainerflareWorkerEnv {
  ROOMS: { getByName(name: string): { fetch(request: Request): Promise<Response> } };
}

/** One room: its own Durable Object and its own container (`class_name` in wrangler.jsonc). */
export class Room extends DurableObject<Env> {
  readonly container = containerflareContainer(this.ctx, this.env, {
    // `?.`: a missing export then fails with containerflare's one-line hint, not a TypeError.
    host: this.ctx.exports.ContainerflareHost?.({ props: { allow: ["CACHE"], vars: ["GREETING"] } }),
    // The container outlives an idle room by 5 minutes (the default, written out here).
    inactivityTimeoutMs: 5 * 60_000,
  });

  override fetch(request: Request): Promise<Response> {
    return this.container.fetch(request);
  }
}

const ROOM_PATH = /^\/rooms\/([^/]+)(?:\/|$)/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const room = ROOM_PATH.exec(new URL(request.url).pathname);
    if (!room) {
      return Response.json(
        { error: { code: "NOT_FOUND", message: "rooms live under /rooms/:name/", retryable: false } },
        { status: 404 },
      );
    }
    return env.ROOMS.getByName(decodeURIComponent(room[1]!)).fetch(request);
  },
  // The lobby's container runs the Cron Triggers: a failing run fails the invocation.
  scheduled(controller: ScheduledController, env: Env): Promise<void> {
    return forwardScheduled(controller, env.ROOMS.getByName("lobby"), env);
  },
};
