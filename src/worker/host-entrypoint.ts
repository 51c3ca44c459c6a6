/**
 * `ContainerflareHost`: the command host as a named Worker entrypoint, for the Durable Object
 * Container API. A Durable Object hands its container's requests to `containerflare.internal` to
 * it with `ctx.container.interceptOutboundHttp(…, ctx.exports.ContainerflareHost({ props }))`
 * (`containerflareContainer` does). Imports `cloudflare:workers`, so this module loads in
 * workerd only; everything it does lives in host-props.ts, which loads anywhere.
 *
 * @module
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { type ContainerflareHostProps, commandHostForProps } from "./host-props.ts";

/**
 * The command host (`commandHandler`) over the Worker's `env`, configured by the props of the
 * Fetcher that reaches it: `allow` (required), `vars` and `maxFrameBytes`, the shapes of
 * `CommandHandlerOptions`. Answers `POST /v1/commands` with the response frame, 404 elsewhere.
 * Props are validated once per distinct props (a bounded cache, see `commandHostForProps`);
 * invalid or missing props answer every frame with an `INVALID_CONFIG` error frame, HTTP 500,
 * that names what is wrong, and log that line once.
 *
 * Export it from the Worker's main module (`ctx.exports` lists the main module's exports; needs
 * compatibility date 2025-11-17 or later), or a subclass of it under a name of your own:
 *
 * ```ts
 * // worker.ts
 * import { DurableObject } from "cloudflare:workers";
 * import { containerflareContainer } from "containerflare/worker";
 * export { ContainerflareHost } from "containerflare/worker";
 *
 * export class Room extends DurableObject<Env> {
 *   container = containerflareContainer(this.ctx, this.env, {
 *     host: this.ctx.exports.ContainerflareHost?.({ props: { allow: ["CACHE"], vars: ["GREETING"] } }),
 *   });
 *   fetch(request: Request) {
 *     return this.container.fetch(request);
 *   }
 * }
 * ```
 */
export class ContainerflareHost<Env = unknown> extends WorkerEntrypoint<Env, ContainerflareHostProps> {
  /** One command-bus request from the container: answered by the host for this Fetcher's props. */
  override fetch(request: Request): Promise<Response> {
    // ctx.exports: where host.keepalive finds the Durable Object of `props.object`.
    return commandHostForProps(this.ctx.props, undefined, this.ctx.exports)(request, this.env);
  }
}
