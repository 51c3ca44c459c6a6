/**
 * The few members of workerd's built-in module `cloudflare:workers` that this repository uses,
 * for type checking only: the package is checked with Node's types, and the real declarations
 * (@cloudflare/workers-types) cannot be loaded beside them. tsc never emits a `.d.ts` source, so
 * the published declarations keep `import … from "cloudflare:workers"` and resolve it with the
 * user's @cloudflare/workers-types, whose classes have these members and more.
 *
 * Written structurally, like src/worker/types.ts; `any` where workerd's own types are generated
 * per project (`ctx.exports` from the Worker's exports).
 */
declare module "cloudflare:workers" {
  /** What workerd hands a named entrypoint: its props and the loopback bindings of the Worker's exports. */
  export interface ExecutionContextLike<Props> {
    readonly props: Props;
    // biome-ignore lint/suspicious/noExplicitAny: generated per project by `wrangler types`.
    readonly exports: Record<string, any>;
    waitUntil(promise: Promise<unknown>): void;
  }

  /** The members of a Durable Object's `ctx` that containerflare and its examples use. */
  export interface DurableObjectStateLike<Props> {
    readonly props: Props;
    // biome-ignore lint/suspicious/noExplicitAny: generated per project by `wrangler types`.
    readonly exports: Record<string, any>;
    readonly id: { toString(): string; readonly name?: string };
    readonly container?: import("./types.ts").ContainerLike;
    waitUntil(promise: Promise<unknown>): void;
    blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
  }

  /** A named entrypoint of a Worker: `ctx.exports.<Name>({ props })` returns a Fetcher to it. */
  export abstract class WorkerEntrypoint<Env = unknown, Props = unknown> {
    protected ctx: ExecutionContextLike<Props>;
    protected env: Env;
    constructor(ctx: ExecutionContextLike<Props>, env: Env);
    fetch?(request: Request): Response | Promise<Response>;
  }

  /** A Durable Object class; workerd's constructor accepts only the real `ctx`. */
  export abstract class DurableObject<Env = unknown, Props = unknown> {
    protected ctx: DurableObjectStateLike<Props>;
    protected env: Env;
    constructor(ctx: DurableObjectStateLike<Props>, env: Env);
    fetch?(request: Request): Response | Promise<Response>;
  }
}
