/**
 * The Worker's half of the metadata header: the fields it sends for each request it forwards
 * (the header's contract is src/metadata-header.ts).
 *
 * @module
 */
import { MAX_METADATA_FIELD_LENGTH, type MetadataHeaderFields } from "../metadata-header.ts";
import type { WorkerRequest } from "./types.ts";

/** Options of {@link metadataHeaderFields}. */
export interface MetadataHeaderFieldsOptions {
  /** `worker_name`. */
  workerName?: string;
  /** `request_id`; default `cf-ray`, else a random UUID. */
  requestId?: string;
}

/** @deprecated The first name of {@link MetadataHeaderFieldsOptions}. */
export type RequestMetadataOptions = MetadataHeaderFieldsOptions;

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" && value.length <= MAX_METADATA_FIELD_LENGTH ? value : undefined;
}

/**
 * What the Worker knows about a request, as the `x-containerflare-metadata` fields (the Rust
 * crate's shim's names and meanings: `path` keeps the query string). The client IP comes from
 * `cf-connecting-ip`, which Cloudflare's edge sets and a client cannot override. A field too
 * long for the container's schema is left out, so one long URL never voids the whole header.
 */
export function metadataHeaderFields(
  request: WorkerRequest,
  options: MetadataHeaderFieldsOptions = {},
): MetadataHeaderFields {
  const url = new URL(request.url);
  const cf = request.cf;
  const fields: MetadataHeaderFields = {
    request_id: text(options.requestId) ?? text(request.headers.get("cf-ray")) ?? crypto.randomUUID(),
    colo: text(cf?.colo),
    region: text(cf?.region),
    country: text(cf?.country),
    city: text(cf?.city),
    client_ip: text(request.headers.get("cf-connecting-ip")?.trim()),
    host: text(url.host),
    scheme: url.protocol.slice(0, -1),
    worker_name: text(options.workerName),
    method: request.method,
    path: text(url.pathname + url.search),
    raw_url: text(url.href),
  };
  for (const key of Object.keys(fields) as (keyof MetadataHeaderFields)[]) {
    if (fields[key] === undefined) delete fields[key];
  }
  return fields;
}

/** @deprecated The first name of {@link metadataHeaderFields}. */
export const requestMetadata: typeof metadataHeaderFields = metadataHeaderFields;
