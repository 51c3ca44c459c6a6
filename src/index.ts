/**
 * containerflare: run a fetch-style app in one container image on Cloudflare Containers and
 * Google Cloud Run, on Node.js, Bun or Deno.
 *
 * @module
 */
export { serve } from "./serve.ts";
export type { App, ContainerServer, Handler, ServeOptions, ShutdownHook } from "./serve.ts";
export type { ContainerContext, MetadataSource, RequestMetadata } from "./context.ts";
export type { CloudflarePlatformInfo, CloudRunPlatformInfo, PlatformInfo } from "./platform.ts";
export type { TraceContext } from "./trace.ts";
export type { BindingKind, CommandEndpoint, LogFormat, PlatformKind, RuntimeConfig } from "./config.ts";
export { ConfigError, resolveConfig } from "./config.ts";
export { ContainerflareError, isContainerflareError, type ErrorCode } from "./errors.ts";
export { CommandError, type Bindings, type CommandClient } from "./command/index.ts";
export type { ServerRequest } from "srvx";
