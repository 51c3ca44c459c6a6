import type { ContainerflareMetadata } from "../metadata.ts";
import type { WorkerRequest } from "./types.ts";

/** Longest value of one metadata field the container accepts (its schema's limit). */
const MAX_FIELD_LENGTH = 2048;

/** Options of {@link requestMetadata}. */
export interface RequestMetadataOptions {
  /** `worker_name`. */
  workerName?: string;
  /** `request_id`; default `cf-ray`, else a random UUID. */
  requestId?: string;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" && value.length <= MAX_FIELD_LENGTH ? value : undefined;
}

/**
 * What the Worker knows about a request, as the `x-containerflare-metadata` fields (the Rust
 * crate's shim's names and meanings: `path` keeps the query string). The client IP comes from
 * `cf-connecting-ip`, which Cloudflare's edge sets and a client cannot override. A field too
 * long for the container's schema is left out, so one long URL never voids the whole header.
 */
export function requestMetadata(request: WorkerRequest, options: RequestMetadataOptions = {}): ContainerflareMetadata {
  const url = new URL(request.url);
  const cf = request.cf;
  const metadata: ContainerflareMetadata = {
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
  for (const key of Object.keys(metadata) as (keyof ContainerflareMetadata)[]) {
    if (metadata[key] === undefined) delete metadata[key];
  }
  return metadata;
}
