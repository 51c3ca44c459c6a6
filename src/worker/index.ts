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
 * Node-side code (tests, tools) imports the module it needs (`./commands.ts`, `./forward.ts`, …):
 * this one loads `cloudflare:workers`, which exists in workerd only.
 *
 * @module
 */

export {
  METADATA_HEADER,
  /** @deprecated The first name of {@link MetadataHeaderFields}. */
  type MetadataHeaderFields as ContainerflareMetadata,
  type MetadataHeaderFields,
  SIGNATURE_HEADER,
} from "../metadata-header.ts";
export {
  COMMAND_HOSTNAME,
  COMMAND_PATH,
  type CommandHandlerOptions,
  type CommandOutboundHandler,
  commandHandler,
} from "./commands.ts";
export {
  type ContainerClass,
  type ContainerflareOptions,
  DEFAULT_INSTANCE,
  type ForwardToOptions,
  forwardTo,
  withContainerflare,
} from "./container.ts";
export {
  type ContainerflareContainer,
  type ContainerflareContainerOptions,
  containerflareContainer,
  DEFAULT_CONTAINER_PORT,
  DEFAULT_INACTIVITY_TIMEOUT_MS,
  DEFAULT_START_TIMEOUT_MS,
} from "./container-api.ts";
export { containerRequest, type ForwardOptions, type ForwardTarget, forward } from "./forward.ts";
export { ContainerflareHost } from "./host-entrypoint.ts";
export { type ContainerflareHostProps, HOST_PROPS_CACHE_SIZE } from "./host-props.ts";
export {
  type MetadataHeaderFieldsOptions,
  metadataHeaderFields,
  type RequestMetadataOptions,
  requestMetadata,
} from "./metadata-header.ts";
export {
  REMOTE_COMMAND_PATH,
  type RemoteCommandRoute,
  type RemoteCommandRouteOptions,
  remoteCommandRoute,
} from "./remote-route.ts";
export type {
  ContainerflareWorkerEnv,
  ContainerLike,
  ContainerStartOptionsLike,
  DurableObjectNamespaceLike,
  DurableObjectStateLike,
  FetcherLike,
  FetchTarget,
  OutboundContext,
  RequestCf,
  WorkerRequest,
} from "./types.ts";
