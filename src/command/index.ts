/**
 * `containerflare/command`: the command bus client, its transports, the typed helpers and the
 * Workers-compatible bindings. Standalone: it does not import srvx or the server runtime.
 */
export { CommandBusClient, createCommandClient, type CommandClient, type CommandClientOptions, type InvokeOptions } from "./client.ts";
export { CommandError, COMMAND_ERROR_CODES, isCommandErrorCode, type CommandErrorCode, type CommandErrorOptions } from "./errors.ts";
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  READ_COMMANDS,
  RequestFrameSchema,
  ResponseFrameSchema,
  isReadCommand,
  type RequestFrame,
  type ResponseFrame,
} from "./protocol.ts";
export type { CommandName, CommandPayloads, DescribeResult } from "./schemas.ts";
export type { EncodedBytes } from "./bytes.ts";
export type { BindingKind, CommandEndpoint } from "../config.ts";
export { createBindings, envGet, loadBindings, type Bindings, type BindingsOptions, type DefaultBindings } from "./bindings/index.ts";
export { kvGet, KvBinding, type KvGetOptions, type KvValueType } from "./bindings/kv.ts";
export { d1Query, D1Binding, D1Statement, type D1QueryMode } from "./bindings/d1.ts";
export { queueSend, QueueBinding } from "./bindings/queue.ts";
export { R2Binding, RemoteR2Object, RemoteR2ObjectBody } from "./bindings/r2.ts";
export { fetchAsset, AssetsBinding, type FetchAssetInit } from "./bindings/assets.ts";
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
