/**
 * containerflare: run a fetch-style app in one container image on Cloudflare Containers and
 * Google Cloud Run, on Node.js, Bun or Deno.
 *
 * ## What a server imports at start-up (a deliberate list)
 *
 * A cold start pays for every module imported before the first response, so this entry point
 * and serve() import only what every server needs (test/integration/startup-imports.test.ts
 * keeps the list honest):
 *
 * - srvx (its adapter for the runtime);
 * - consola's core (`consola/core`);
 * - this package's serve() and its parts (src/serve/*.ts, not node.ts), config.ts, platform.ts,
 *   context.ts, trace.ts, log.ts, errors.ts (with protocol/errors.ts), drain.ts, exit.ts,
 *   metadata-header.ts (names and the trust rule only), bindings/registry.ts with the kinds'
 *   descriptors (config.ts checks `CONTAINERFLARE_BINDINGS` against them);
 * - valibot's functions that config.ts's schemas use.
 *
 * The published entry is a bundle of these (scripts/bundle-entries.mjs): Node and Deno pay about a
 * millisecond per module file, so they arrive in a few files, and each lazy part below is a chunk
 * of its own.
 *
 * Loaded when first needed, never at start-up:
 *
 * - on Node only, before it listens: src/serve/node.ts with the fast Response (src/node/*);
 * - the command client, the binding classes and their schemas (src/command/index.ts): when a
 *   request first touches `ctx.env` or `ctx.commands`, or after listening when a command host is
 *   configured (the `host.describe` preload);
 * - the metadata header's schema, HMAC key and replay cache (metadata-header-verifier.ts): after
 *   listening, only where the header can be trusted (a secret, Cloudflare, or
 *   `CONTAINERFLARE_TRUST_METADATA=1`);
 * - ofetch: for the Google metadata server, only on Cloud Run without `GOOGLE_CLOUD_PROJECT`;
 * - the structured console (src/serve/console.ts with `node:async_hooks`): before listening, only
 *   in the JSON log formats with `CONTAINERFLARE_CONSOLE=structured` or a process serve() owns;
 * - `node:util`: on the first log line with an object or a `%` placeholder;
 * - consola's fancy reporter: on the first pretty log line;
 * - the Cloud Run events receiver (src/events/cloud-run-receive.ts, cloud-run.ts): on the first
 *   request to a configured `CONTAINERFLARE_PUBSUB_PATH` or `CONTAINERFLARE_SCHEDULER_PATH`, and
 *   with it jose (src/events/oidc.ts) only when `CONTAINERFLARE_OIDC_AUDIENCE` is set.
 *
 * @module
 */

export type { ServerRequest } from "srvx";
export type { BindingKind } from "./bindings/registry.ts";
export type { Bindings, CommandClient } from "./command/index.ts";
export type {
  CloudRunEventsConfig,
  CloudRunEventsOptions,
  CommandEndpoint,
  ConsoleMode,
  LogFormat,
  PlatformKind,
  RuntimeConfig,
} from "./config.ts";
export { ConfigError, resolveConfig } from "./config.ts";
export type {
  ContainerContext,
  MetadataSource,
  RequestInfo,
  RequestInfoSource,
  RequestMetadata,
} from "./context.ts";
// From errors.ts, not command/index.ts: the command client is no start-up import (see above).
export { CommandError, ContainerflareError, type ErrorCode, isContainerflareError } from "./errors.ts";
export type {
  EventHandlers,
  Message,
  MessageBatch,
  QueueHandler,
  QueueRetryOptions,
  ScheduledController,
  ScheduledHandler,
} from "./events/types.ts";
export { FixedLengthStream } from "./fixed-length-stream.ts";
export type { CloudflarePlatformInfo, CloudRunPlatformInfo, PlatformInfo } from "./platform.ts";
export type { App, ContainerServer, Handler, ServeOptions, ShutdownHook } from "./serve.ts";
export { serve } from "./serve.ts";
export type { TraceContext } from "./trace.ts";
export {
  upgradeWebSocket,
  type WebSocketError,
  type WebSocketHooks,
  type WebSocketMessage,
  type WebSocketOptions,
  type WebSocketPeer,
  type WebSocketUpgradeResponse,
  type WebSocketUpgradeResult,
} from "./websocket.ts";
