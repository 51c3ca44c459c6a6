/**
 * `containerflare/worker`: the Cloudflare Worker in front of a containerflare container. It
 * forwards requests with a signed `x-containerflare-metadata` header and answers the
 * container's command bus with the Worker's bindings. Runs in workerd: Web APIs only, no `node:`
 * imports anywhere below this module. `@cloudflare/containers` is a peer: pass your `Container`
 * class in, and `export { ContainerProxy }` from it in your Worker.
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
export { containerRequest, forward, type ForwardOptions, type ForwardTarget } from "./forward.ts";
export { requestMetadata, type RequestMetadataOptions } from "./request-metadata.ts";
export {
  COMMAND_HOSTNAME,
  COMMAND_PATH,
  commandHandler,
  type CommandHandlerOptions,
  type CommandOutboundHandler,
} from "./commands.ts";
export {
  DEFAULT_INSTANCE,
  forwardTo,
  withContainerflare,
  type ContainerClass,
  type ContainerflareOptions,
  type ForwardToOptions,
} from "./container.ts";
export type { ContainerflareWorkerEnv, DurableObjectNamespaceLike, FetchTarget, OutboundContext, RequestCf, WorkerRequest } from "./types.ts";
export { METADATA_HEADER, SIGNATURE_HEADER, type ContainerflareMetadata } from "../metadata.ts";
