/**
 * A Worker on the Durable Object Container API, as a user writes it against
 * @cloudflare/workers-types: `this.ctx` and `this.ctx.container` of the real types fit
 * containerflareContainer, `ctx.exports.ContainerflareHost` takes the host's props (typed), and
 * ContainerflareHost is a WorkerEntrypoint that can be exported or subclassed.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type ContainerflareContainer,
  ContainerflareHost,
  containerflareContainer,
  DEFAULT_CONTAINER_PORT,
  forwardQueue,
  forwardScheduled,
  forwardTo,
} from "containerflare/worker";

export { ContainerflareHost };

interface Env {
  ROOMS: DurableObjectNamespace<Room>;
  CACHE: KVNamespace;
  GREETING: string;
  CONTAINERFLARE_SECRET?: string;
}

// What `wrangler types` generates: ctx.exports typed from this module's exports.
declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("./worker.ts");
      durableNamespaces: "Room";
    }
  }
}

export class Room extends DurableObject<Env> {
  readonly container: ContainerflareContainer = containerflareContainer(this.ctx, this.env, {
    host: this.ctx.exports.ContainerflareHost({ props: { allow: ["CACHE"], vars: ["GREETING"] } }),
    port: DEFAULT_CONTAINER_PORT,
    env: { LOG_LEVEL: "debug" },
    inactivityTimeoutMs: 60_000,
  });

  override fetch(request: Request): Promise<Response> {
    return this.container.fetch(request);
  }

  async restart(): Promise<boolean> {
    await this.container.stop();
    await this.container.start();
    return this.container.running;
  }

  wrongProps(): void {
    // @ts-expect-error the host's props are typed: `alow` is not one
    this.ctx.exports.ContainerflareHost({ props: { alow: ["CACHE"] } });
  }
}

/** A host of one's own: same props, a name of its own in ctx.exports. */
export class RoomHost extends ContainerflareHost<Env> {
  override async fetch(request: Request): Promise<Response> {
    const answer = await super.fetch(request);
    console.log(`command bus: ${answer.status}`, this.env.GREETING);
    return answer;
  }
}

// The platform's own event objects (workers-types' ScheduledController and MessageBatch) fit
// forwardScheduled and forwardQueue, and forwardTo's default export is a whole ExportedHandler.
export default {
  fetch(request, env) {
    const name = new URL(request.url).pathname.split("/")[2] ?? "lobby";
    return env.ROOMS.getByName(name).fetch(request);
  },
  scheduled: (controller, env) =>
    forwardScheduled(controller, env.ROOMS.getByName("lobby"), env, { timeoutMs: 60_000 }),
  queue: (batch: MessageBatch<{ url: string }>, env) => forwardQueue(batch, env.ROOMS.getByName("jobs"), env),
} satisfies ExportedHandler<Env, { url: string }>;

export const viaContainerClass = forwardTo("ROOMS", { eventInstance: "jobs" }) satisfies ExportedHandler<Env>;
