/**
 * containerflare: run a fetch-style app in one container image on Cloudflare Containers and
 * Google Cloud Run, on Node.js, Bun or Deno.
 *
 * @module
 */

export type { ServerRequest } from "srvx";
export { type Bindings, type CommandClient, CommandError } from "./command/index.ts";
export type { BindingKind } from "./bindings/registry.ts";
export type { CommandEndpoint, LogFormat, PlatformKind, RuntimeConfig } from "./config.ts";
export { ConfigError, resolveConfig } from "./config.ts";
export type { ContainerContext, MetadataSource, RequestMetadata } from "./context.ts";
export { ContainerflareError, type ErrorCode, isContainerflareError } from "./errors.ts";
export type { CloudflarePlatformInfo, CloudRunPlatformInfo, PlatformInfo } from "./platform.ts";
export type { App, ContainerServer, Handler, ServeOptions, ShutdownHook } from "./serve.ts";
export { serve } from "./serve.ts";
export type { TraceContext } from "./trace.ts";
