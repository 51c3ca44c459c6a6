/**
 * `containerflare/worker` without `ContainerflareHost`: everything of it that runs outside
 * workerd too (Node, Bun and Deno get this module through the package's `node` export
 * condition), since only that class needs workerd's own `cloudflare:workers`. See index.ts.
 *
 * @module
 */

// The Workers shapes forwardScheduled and forwardQueue take (@cloudflare/workers-types' fit them).
export type { Message, MessageBatch, QueueRetryOptions, ScheduledController } from "../events/types.ts";
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
  type ForwardingWorker,
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
export {
  DEFAULT_EVENT_TIMEOUT_MS,
  type ForwardEventOptions,
  forwardQueue,
  forwardScheduled,
} from "./events.ts";
export { containerRequest, type ForwardOptions, type ForwardTarget, forward } from "./forward.ts";
export { type ContainerflareHostProps, HOST_PROPS_CACHE_SIZE } from "./host-props.ts";
export { KEEPALIVE_PATH } from "./keep-alive.ts";
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
