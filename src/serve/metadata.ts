/**
 * The metadata stage: the first step of every request, before its context exists (the context
 * is built from what this stage trusts). It verifies the `x-containerflare-metadata` header under
 * the process's one trust decision (metadataTrust in metadata-header.ts) and removes both
 * metadata headers before the app sees them, trusted or not. An untrusted, malformed or
 * oversized header is ignored (logged at debug), never a 5xx.
 *
 * The verifier (schema, HMAC key, replay cache) is imported only where a header can be trusted,
 * in the background once the server listens, so a request never waits for it but the first
 * signed one after a cold start.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { ServerRequest } from "srvx";
import {
  METADATA_HEADER,
  type MetadataHeaderFields,
  type MetadataTrust,
  SIGNATURE_HEADER,
} from "../metadata-header.ts";
import type { MetadataVerifier } from "../metadata-header-verifier.ts";
import { type MetadataPresence, metadataPresence } from "./metadata-presence.ts";
import { copyRequest } from "./request.ts";
import { RUNTIME } from "./runtime.ts";

/** What comes after the stage: the request without the metadata headers, and the trusted fields. */
export type MetadataNext = (
  request: ServerRequest,
  fields: MetadataHeaderFields | undefined,
) => Response | Promise<Response>;

/** Options of {@link createMetadataStage}. */
export interface MetadataStageOptions {
  trust: MetadataTrust;
  /** The shared secret when `trust` is `signed`. */
  secret?: string | undefined;
  logger: ConsolaInstance;
  /** Bun: the presence check of the server's request prototypes (src/bun/requests.ts). */
  bunPresence?: MetadataPresence | undefined;
}

/** The metadata stage of one server. */
export interface MetadataStage {
  /** Runs the stage for one request, then `next`. */
  run(request: ServerRequest, next: MetadataNext): Response | Promise<Response>;
  /** Loads the verifier in the background (a no-op where nothing is trusted). */
  preload(): void;
  /** Gives back what the stage holds of the process (Deno's deferred removal); when the server has closed. */
  release(): void;
}

/** Removes the metadata headers; an incoming request whose headers are immutable is copied. */
export function stripMetadataHeaders(request: ServerRequest): ServerRequest {
  try {
    request.headers.delete(METADATA_HEADER);
    request.headers.delete(SIGNATURE_HEADER);
    return request;
  } catch {
    const headers = new Headers(request.headers);
    headers.delete(METADATA_HEADER);
    headers.delete(SIGNATURE_HEADER);
    return copyRequest(request, { headers });
  }
}

/** Wraps `report` so that it runs at most once a minute: a warning under load must not flood the log. */
function onceAMinute<T>(report: (value: T) => void): (value: T) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (value) => {
    const now = Date.now();
    if (now - last < 60_000) return;
    last = now;
    report(value);
  };
}

/** Creates the stage; nothing is loaded until {@link MetadataStage.preload} or the first header. */
export function createMetadataStage({ trust, secret, logger, bunPresence }: MetadataStageOptions): MetadataStage {
  // Asked first, per request (metadata-presence.ts): most requests name neither header. On Bun
  // and Deno, where nothing can be trusted, the removal waits until the headers are read
  // (src/bun/requests.ts, deferred-metadata-removal.ts).
  const { presence, release } = metadataPresence(RUNTIME, trust, bunPresence);
  let verifier: Promise<MetadataVerifier> | undefined;
  const loadVerifier = () =>
    (verifier ??= import("../metadata-header-verifier.ts").then(({ createMetadataVerifier }) =>
      createMetadataVerifier({
        secret,
        trustUnsigned: trust === "unsigned",
        onReplayWindowNarrowed: onceAMinute((floor) =>
          logger.warn(
            `the replay cache is full: signed headers older than ${new Date(floor).toISOString()} are now refused`,
          ),
        ),
      }),
    ));

  async function verifyThenRun(request: ServerRequest, value: string, signature: string | null, next: MetadataNext) {
    const verdict = await (await loadVerifier()).verify(value, signature);
    if (!verdict.ok) logger.debug(`ignored ${METADATA_HEADER} header: ${verdict.reason}`);
    return next(stripMetadataHeaders(request), verdict.ok ? verdict.metadata : undefined);
  }

  return {
    run(request, next) {
      if (presence(request) === false) return next(request, undefined);
      const value = request.headers.get(METADATA_HEADER);
      const signature = request.headers.get(SIGNATURE_HEADER);
      if (value === null && signature === null) return next(request, undefined);
      // Where the header can never be trusted there is nothing to verify; it is still removed.
      if (value === null || trust === "none") return next(stripMetadataHeaders(request), undefined);
      return verifyThenRun(request, value, signature, next);
    },
    preload() {
      if (trust !== "none") void loadVerifier().catch((error: unknown) => logger.error(error));
    },
    release,
  };
}
