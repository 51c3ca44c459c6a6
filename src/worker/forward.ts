import { encodeMetadataHeader, METADATA_HEADER, SIGNATURE_HEADER } from "../metadata-header.ts";
import { signMetadataHeader } from "../metadata-header-verifier.ts";
import { metadataHeaderFields } from "./metadata-header.ts";
import type { ContainerflareWorkerEnv, FetchTarget, WorkerRequest } from "./types.ts";

/** Where {@link forward} sends a request: a Container (or any) stub, or a base URL (local dev). */
export type ForwardTarget = FetchTarget | string | URL;

/** Options of {@link forward} and {@link containerRequest}. */
export interface ForwardOptions {
  /** HMAC key; default `env.CONTAINERFLARE_SECRET`. Without one the header goes unsigned. */
  secret?: string;
  /** `worker_name`; default `env.CONTAINERFLARE_WORKER`. */
  workerName?: string;
  /** `request_id`; default `cf-ray`, else a random UUID. */
  requestId?: string;
  /** Signing time in ms (tests). */
  now?: number;
}

function isFetchTarget(target: ForwardTarget): target is FetchTarget {
  return typeof target === "object" && !(target instanceof URL) && typeof target.fetch === "function";
}

/**
 * The request as the container must receive it: any client-sent `x-containerflare-metadata` and
 * `x-containerflare-signature` removed, the Worker's own metadata header added and, with a
 * secret, signed. With `base` the URL is re-rooted there (same path and query) and redirects are
 * passed back to the client instead of being followed.
 */
export async function containerRequest(
  request: WorkerRequest,
  env: ContainerflareWorkerEnv = {},
  options: ForwardOptions = {},
  base?: string | URL,
): Promise<Request> {
  const secret = options.secret ?? env.CONTAINERFLARE_SECRET;
  const workerName = options.workerName ?? env.CONTAINERFLARE_WORKER;
  const fields = metadataHeaderFields(request, {
    ...(workerName ? { workerName } : {}),
    ...(options.requestId ? { requestId: options.requestId } : {}),
  });
  const now = options.now ?? Date.now();
  const signed = secret ? await signMetadataHeader(secret, fields, now) : undefined;

  let outgoing: Request;
  if (base === undefined) outgoing = new Request(request);
  else {
    const url = new URL(request.url);
    outgoing = new Request(new Request(new URL(url.pathname + url.search, base), request), { redirect: "manual" });
  }
  outgoing.headers.delete(METADATA_HEADER);
  outgoing.headers.delete(SIGNATURE_HEADER);
  outgoing.headers.set(METADATA_HEADER, signed?.metadata ?? encodeMetadataHeader({ ...fields, v: 1, ts: now }));
  if (signed) outgoing.headers.set(SIGNATURE_HEADER, signed.signature);
  return outgoing;
}

/**
 * Forwards a Worker request to the container with the signed metadata header (see
 * {@link containerRequest}). `target` is the Container's Durable Object stub (what
 * `getContainer(env.APP)` returns) or, in local development, the app's base URL.
 *
 * ```ts
 * export default {
 *   fetch: (request, env) => forward(request, getContainer(env.APP), env),
 * };
 * ```
 */
export async function forward(
  request: WorkerRequest,
  target: ForwardTarget,
  env: ContainerflareWorkerEnv = {},
  options: ForwardOptions = {},
): Promise<Response> {
  if (isFetchTarget(target)) return target.fetch(await containerRequest(request, env, options));
  return fetch(await containerRequest(request, env, options, target));
}
