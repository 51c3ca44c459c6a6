import * as v from "valibot";
import type { CommandErrorCode } from "./errors.ts";

/** The protocol version this code speaks; every frame carries it as `v`. */
export const PROTOCOL_VERSION = 1;

/** Default frame size limit, in bytes, in both directions: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Default per-command timeout (`CONTAINERFLARE_COMMAND_TIMEOUT_MS`). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

const requestIdSchema = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
// Answers may carry id 0: "a frame whose id could not be read" (see docs/protocol.md).
const responseIdSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

/** `{"v":1,"id":N,"command":"…","payload":…}`: what a client sends. */
export const RequestFrameSchema = v.object({
  v: v.literal(PROTOCOL_VERSION),
  id: requestIdSchema,
  command: v.pipe(v.string(), v.regex(/^[A-Za-z][\w.-]{0,127}$/)),
  payload: v.optional(v.unknown()),
});

/** The `error` member of a failed answer. */
export const ErrorBodySchema = v.object({
  code: v.string(),
  message: v.string(),
  retryable: v.optional(v.boolean(), false),
});

/**
 * `{"v":1,"id":N,"ok":true,"payload":…}` or `{"v":1,"id":N,"ok":false,"error":{…}}`: what a host
 * answers. One object schema with a check rather than a variant: it runs for every answer, and
 * this shape validates the same frames with far fewer allocations.
 */
export const ResponseFrameSchema = v.pipe(
  v.object({
    v: v.literal(PROTOCOL_VERSION),
    id: responseIdSchema,
    ok: v.boolean(),
    payload: v.optional(v.unknown()),
    error: v.optional(ErrorBodySchema),
  }),
  v.check((frame) => frame.ok || frame.error !== undefined, "a failed answer needs an error"),
);

/** A request frame, validated. */
export type RequestFrame = v.InferOutput<typeof RequestFrameSchema>;
/** A response frame, validated. */
export type ResponseFrame = v.InferOutput<typeof ResponseFrameSchema>;
/** The error member of a failed answer. */
export interface ErrorBody {
  code: CommandErrorCode;
  message: string;
  retryable: boolean;
}

/**
 * Encodes a request frame. `v` and `id` come first on purpose: a receiver that refuses an
 * oversized frame can still read its id from the first bytes and answer TOO_LARGE for it.
 * Throws a TypeError when the payload is not JSON-serialisable.
 */
export function encodeRequest(id: number, command: string, payload: unknown): string {
  const body = payload === undefined ? "null" : JSON.stringify(payload);
  if (body === undefined) throw new TypeError(`payload of ${command} is not JSON-serialisable`);
  return `{"v":1,"id":${id},"command":${JSON.stringify(command)},"payload":${body}}`;
}

/** Encodes a successful answer (same field order rule as {@link encodeRequest}). */
export function encodeSuccess(id: number, payload: unknown): string {
  const body = payload === undefined ? "null" : JSON.stringify(payload);
  if (body === undefined) throw new TypeError("result is not JSON-serialisable");
  return `{"v":1,"id":${id},"ok":true,"payload":${body}}`;
}

/**
 * The error of a host that cannot serve at all because its own configuration is invalid (the
 * Worker's `ContainerflareHost` with bad props). Not a command failure, so not one of the
 * protocol's codes: a client reads it as `INTERNAL` (docs/protocol.md, section 5), the reference
 * client with the code kept in the message.
 */
export interface HostConfigErrorBody {
  code: "INVALID_CONFIG";
  message: string;
  retryable: false;
}

/** Encodes a failed answer. */
export function encodeFailure(id: number, error: ErrorBody | HostConfigErrorBody): string {
  return `{"v":1,"id":${id},"ok":false,"error":${JSON.stringify({
    code: error.code,
    message: error.message,
    retryable: error.retryable,
  })}}`;
}

const LEADING_ID_RE = /^\s*\{\s*(?:"v"\s*:\s*\d+\s*,\s*)?"id"\s*:\s*(\d{1,16})\s*[,}]/;

/**
 * The id of a frame read from its first bytes, when the frame starts with `{"v":…,"id":N` or
 * `{"id":N`: enough to answer (or fail) an oversized frame without parsing it. Only the leading
 * keys are looked at, so an `"id"` nested inside a payload can never be mistaken for it.
 */
export function leadingFrameId(prefix: string): number | undefined {
  const match = LEADING_ID_RE.exec(prefix);
  if (!match) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}
