/**
 * `containerflare/command`: the command bus client, its transports, the typed helpers and the
 * Workers-compatible bindings. Standalone: it does not import srvx or the server runtime.
 */

export type {
  D1Database,
  D1PreparedStatement,
  D1Result,
  Fetcher,
  KVNamespace,
  Queue,
  R2Bucket,
  R2Object,
  R2ObjectBody,
} from "@cloudflare/workers-types";
export { AssetsBinding, type FetchAssetInit, fetchAsset } from "../bindings/assets/client.ts";
export { D1Binding, type D1QueryMode, D1Statement, d1Query } from "../bindings/d1/client.ts";
export type { DescribeResult } from "../bindings/describe.ts";
export {
  type Bindings,
  type BindingsOptions,
  createBindings,
  type DefaultBindings,
  envGet,
  loadBindings,
} from "../bindings/env.ts";
export { KvBinding, type KvGetOptions, type KvValueType, kvGet } from "../bindings/kv/client.ts";
export { QueueBinding, queueSend } from "../bindings/queue/client.ts";
export { R2Binding, RemoteR2Object, RemoteR2ObjectBody } from "../bindings/r2/client.ts";
export type {
  BindingKind,
  CommandMap,
  CommandName,
  CommandPayload,
  CommandPayloads,
  CommandResult,
} from "../bindings/registry.ts";
export { isReadCommand, READ_COMMANDS } from "../bindings/registry.ts";
export type { CommandEndpoint } from "../config.ts";
export { CommandError, type CommandErrorOptions } from "../errors.ts";
export { FixedLengthStream } from "../fixed-length-stream.ts";
export { type BodyMarker, type BodySource, bodyMarker } from "../protocol/body.ts";
export type { EncodedBytes } from "../protocol/bytes.ts";
export { COMMAND_ERROR_CODES, type CommandErrorCode, isCommandErrorCode } from "../protocol/errors.ts";
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type RequestFrame,
  RequestFrameSchema,
  type ResponseFrame,
  ResponseFrameSchema,
} from "../protocol/frames.ts";
export type { StreamedAnswer } from "./client.ts";
export {
  CommandBusClient,
  type CommandClient,
  type CommandClientOptions,
  createCommandClient,
  type InvokeOptions,
} from "./client.ts";
