import { ofetch } from "ofetch";
import { CommandError } from "../../errors.ts";
import { backoffDelay } from "../../internal/backoff.ts";
import { sleep } from "../../internal/sleep.ts";
import { exceedsBytes, utf8Length } from "../../protocol/bytes.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../request-signature.ts";
import type { OutgoingFrame, Transport, TransportContext } from "./types.ts";

/** Options of the HTTP transport. */
export interface HttpTransportOptions {
  /** Extra attempts for read commands after a network error or a 502/503/504; default 2. */
  retries?: number;
  /** Backoff between those attempts. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Shared secret (`CONTAINERFLARE_SECRET`): with it every POST carries an
   * `x-containerflare-signature` of its method, path and body (docs/protocol.md, "Signed HTTP
   * requests"), which a host that requires signatures checks. Each attempt is signed anew.
   */
  secret?: string;
}

const RETRY_STATUSES = new Set([502, 503, 504]);
/** Statuses of a host that refused the request itself (signature, browser origin): FORBIDDEN, not INTERNAL. */
const REFUSED_STATUSES = new Set([401, 403]);
const encoder = new TextEncoder();

/** The endpoint as error messages show it: without credentials or query (they may hold a token). */
function displayUrl(url: string): string {
  const shown = new URL(url);
  shown.username = "";
  shown.password = "";
  shown.search = "";
  return shown.href;
}

/**
 * One `POST` per frame to an HTTP(S) command host (on Cloudflare: the Worker intercepts
 * `http://containerflare.internal/v1/commands`); the answer's body is the response frame.
 * Connections are kept alive by the runtime's fetch. Only read commands are retried, after a
 * network error or a 502/503/504, with backoff and jitter: a write is never sent twice. With
 * `options.secret` each request is signed (see {@link HttpTransportOptions.secret}).
 */
export function createHttpTransport(
  url: string,
  context: TransportContext,
  options: HttpTransportOptions = {},
): Transport {
  const shownUrl = displayUrl(url);
  const { sink, logger, maxFrameBytes } = context;
  const retries = options.retries ?? 2;
  const backoff = { baseMs: options.retryBaseMs ?? 50, maxMs: options.retryMaxMs ?? 1_000 };
  const { secret } = options;
  const target = new URL(url);
  const signedPath = target.pathname + target.search;
  const inFlight = new Map<number, AbortController>();
  let closed = false;

  /** The body and headers of one attempt: signed anew each time, so a retry is no replay. */
  const attemptRequest = async (text: string, bytes: Uint8Array | undefined) => {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (!secret || !bytes) return { body: text, headers };
    headers[REQUEST_SIGNATURE_HEADER] = await signCommandRequest(secret, {
      method: "POST",
      path: signedPath,
      body: bytes,
    });
    return { body: bytes, headers };
  };

  const post = async (frame: OutgoingFrame, signal: AbortSignal) => {
    // The signed bytes are the bytes sent; encoded once per frame, whatever the retries.
    const bytes = secret ? encoder.encode(frame.text) : undefined;
    for (let attempt = 0; ; attempt++) {
      const mayRetry = frame.read && attempt < retries;
      let status: number;
      let body: unknown;
      try {
        const outgoing = await attemptRequest(frame.text, bytes);
        const response = await ofetch.raw<string, "text">(url, {
          method: "POST",
          body: outgoing.body,
          headers: outgoing.headers,
          responseType: "text",
          retry: false,
          ignoreResponseError: true,
          signal,
        });
        status = response.status;
        body = response._data;
      } catch (error) {
        if (signal.aborted || !sink.isPending(frame.id)) return;
        const reason =
          error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        if (mayRetry) {
          logger.debug(`${frame.command} #${frame.id}: ${reason}; retrying`);
          await sleep(backoffDelay(attempt + 1, backoff), signal);
          continue;
        }
        sink.fail(
          frame.id,
          new CommandError("TRANSPORT_CLOSED", `cannot reach the command host at ${shownUrl}: ${reason}`, {
            retryable: true,
            command: frame.command,
          }),
        );
        return;
      }
      if (RETRY_STATUSES.has(status) && mayRetry && sink.isPending(frame.id)) {
        logger.debug(`${frame.command} #${frame.id}: HTTP ${status}; retrying`);
        await sleep(backoffDelay(attempt + 1, backoff), signal);
        if (signal.aborted) return;
        continue;
      }
      if (typeof body === "string" && body.length > 0) {
        if (exceedsBytes(body, maxFrameBytes)) sink.oversized(frame.id, utf8Length(body));
        else sink.receive(body, frame.id);
      }
      if (sink.isPending(frame.id)) {
        const code = RETRY_STATUSES.has(status)
          ? "UNAVAILABLE"
          : status === 413
            ? "TOO_LARGE"
            : REFUSED_STATUSES.has(status)
              ? "FORBIDDEN"
              : "INTERNAL";
        sink.fail(
          frame.id,
          new CommandError(code, `command host at ${shownUrl} answered HTTP ${status} without a valid answer frame`, {
            retryable: code === "UNAVAILABLE",
            command: frame.command,
          }),
        );
      }
      return;
    }
  };

  return {
    send(frame) {
      if (closed) {
        sink.fail(
          frame.id,
          new CommandError("TRANSPORT_CLOSED", "the command client is closed", { command: frame.command }),
        );
        return;
      }
      const controller = new AbortController();
      inFlight.set(frame.id, controller);
      void post(frame, controller.signal).finally(() => inFlight.delete(frame.id));
    },
    cancel(id) {
      inFlight.get(id)?.abort();
    },
    async close() {
      closed = true;
      for (const controller of inFlight.values()) controller.abort();
      inFlight.clear();
    },
  };
}
