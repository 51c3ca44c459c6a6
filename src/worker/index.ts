/**
 * `containerflare/worker`: the Cloudflare Worker in front of a containerflare container. It
 * forwards requests with a signed `x-containerflare-metadata` header and answers the
 * container's command bus with the Worker's bindings. Runs in workerd: Web APIs only, no `node:`
 * imports anywhere below this module. `@cloudflare/containers` is a peer: pass your `Container`
 * class in, and `export { ContainerProxy }` from it in your Worker. `ContainerflareHost` is the
 * command host as a named entrypoint, for a Durable Object on the Durable Object Container API
 * (`ctx.container.interceptOutboundHttp(…, ctx.exports.ContainerflareHost({ props }))`); this
 * module therefore imports `cloudflare:workers`, which exists in workerd only: Node-side code
 * imports the module it needs (`./commands.ts`, `./forward.ts`, …).
 *
 * ```ts
 * import { Container, ContainerProxy } from "@cloudflare/containers";
 * import { forwardTo, withContainerflare } from "containerflare/worker";
 *
 * class AppContainer extends Container {
 *   defaultPort = 8787;
 * }
 * export const App = withContainerflare(AppContainer, { allow: ["CACHE", "DB", "JOBS"] });
 * export default forwardTo("APP");
 * export { ContainerProxy };
 * ```
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
  DurableObjectNamespaceLike,
  FetchTarget,
  OutboundContext,
  RequestCf,
  WorkerRequest,
} from "./types.ts";
