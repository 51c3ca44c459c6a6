import { CommandError } from "../../errors.ts";
import { backoffDelay } from "../../internal/backoff.ts";
import { sleep } from "../../internal/sleep.ts";
import {
  BATCH_CONTENT_TYPE,
  CLIENT_ID_HEADER,
  discardRest,
  FRAME_CONTENT_TYPE,
  frameRest,
  frameStream,
  HTTP_VERSION,
  HTTP_VERSION_HEADER,
  splitFrameLine,
} from "../../protocol/body.ts";
import { exceedsBytes, utf8Length } from "../../protocol/bytes.ts";
import { leadingFrameId } from "../../protocol/frames.ts";
import { createLineSplitter } from "../../protocol/lines.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../request-signature.ts";
import { fitsPending, hostNotReadingError, inlineFrame, maxPendingRequestChars } from "./framing.ts";
import type { HttpAnswer, nodePost as NodePost } from "./node-post.ts";
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
  /** POSTs in flight at once (batches and solo exchanges); default 8. Frames beyond wait and join the next batch. */
  maxPosts?: number;
}

/** Most frames in one batch POST: the host starts them all at once (its session caps in-flight at 1024). */
export const MAX_BATCH_FRAMES = 128;
/** Default {@link HttpTransportOptions.maxPosts}. */
export const DEFAULT_MAX_POSTS = 8;

const RETRY_STATUSES = new Set([502, 503, 504]);
/** Statuses of a host that refused the request itself (signature, browser origin): FORBIDDEN, not INTERNAL. */
const REFUSED_STATUSES = new Set([401, 403]);
/** A batched read answered TOO_LARGE is sent again alone, where its bytes can stream. */
const TOO_LARGE_ANSWER_RE = /^\{"v":1,"id":\d+,"ok":false,"error":\{"code":"TOO_LARGE"/;
const encoder = new TextEncoder();
/** Node itself (not Bun or Deno, which also report a Node version): its requests go through node:http (see node-post.ts). */
const IS_NODE =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string" &&
  !("Bun" in globalThis) &&
  !("Deno" in globalThis);
/** The frame that asks a host its version; its answer goes nowhere (no command has its id). */
const PROBE_FRAME = `{"v":1,"id":${Number.MAX_SAFE_INTEGER},"command":"host.ping","payload":null}`;

/** The endpoint as error messages show it: without credentials or query (they may hold a token). */
function displayUrl(url: string): string {
  const shown = new URL(url);
  shown.username = "";
  shown.password = "";
  shown.search = "";
  return shown.href;
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}

/** What the transport knows of one frame it was given. */
interface Tracked {
  frame: OutgoingFrame;
  attempt: number;
  /** Aborts the frame's own exchange (v1 or solo); batched frames share their POST's. */
  controller?: AbortController;
  /** Sent once alone after a TOO_LARGE batched answer. */
  resentAlone?: boolean;
}

/**
 * The HTTP transport (docs/protocol.md, section 2.2). Version 2 with a host that answers
 * `x-containerflare-http: 2`: frames queued in the same turn of the event loop travel in one
 * POST as JSON lines and the answers stream back in completion order; a frame with bytes (or
 * whose answer may carry bytes) travels alone with the bytes raw after its line. Until the host
 * has said it speaks v2, and with a v1 host, one POST per frame. At most `maxPosts` POSTs are in
 * flight (the runtime's fetch keeps their connections alive); frames beyond them wait, up to
 * twice the frame limit of text, and leave in the next batch. Only read commands are sent again
 * (after a network error, a 502/503/504, or an answer missing when a batch's answers ended), with
 * backoff and jitter: a write is never sent twice. `cancel` aborts a frame's own exchange or
 * drops a queued one; a frame in a batch in flight is left to `host.cancel`.
 *
 * The runtime's `fetch` (node:http on Node, see node-post.ts) rather than ofetch: a batch is one
 * request whose retries are decided per frame (reads again, writes never), and request bodies
 * stream, neither of which ofetch's request-level retry models.
 */
export function createHttpTransport(
  url: string,
  context: TransportContext,
  options: HttpTransportOptions = {},
): Transport {
  const shownUrl = displayUrl(url);
  const { sink, logger, maxFrameBytes } = context;
  const retries = options.retries ?? 2;
  const maxPosts = options.maxPosts ?? DEFAULT_MAX_POSTS;
  const backoff = { baseMs: options.retryBaseMs ?? 50, maxMs: options.retryMaxMs ?? 1_000 };
  const { secret } = options;
  const target = new URL(url);
  const signedPath = target.pathname + target.search;
  const clientId = randomId();
  const pendingLimit = maxPendingRequestChars(maxFrameBytes);
  const tracked = new Map<number, Tracked>();
  /** Frames waiting for a batch, in order. */
  let queue: Tracked[] = [];
  let queuedChars = 0;
  let flushScheduled = false;
  let posts = 0;
  /** The host's HTTP transport version: unknown until its first answer. */
  let hostVersion: "unknown" | "1" | "2" = "unknown";
  let closed = false;
  const inFlight = new Set<AbortController>();
  let nodePost: typeof NodePost | undefined;

  const baseHeaders = (contentType: string): Record<string, string> => ({
    "content-type": contentType,
    accept: contentType,
    [HTTP_VERSION_HEADER]: HTTP_VERSION,
    [CLIENT_ID_HEADER]: clientId,
  });

  /** Sends one POST; the signature covers `signed` (the whole body, or a solo frame's line). */
  const post = async (
    contentType: string,
    body: Uint8Array | ReadableStream<Uint8Array> | string,
    signed: Uint8Array | string,
    signal: AbortSignal,
  ): Promise<HttpAnswer> => {
    const headers = baseHeaders(contentType);
    if (secret) {
      // Encoded once: the bytes signed are the bytes sent (a batch or a v1 frame is both).
      const signedBytes = typeof signed === "string" ? encoder.encode(signed) : signed;
      if (signed === body) body = signedBytes;
      headers[REQUEST_SIGNATURE_HEADER] = await signCommandRequest(secret, {
        method: "POST",
        path: signedPath,
        body: signedBytes,
      });
    }
    if (IS_NODE) {
      nodePost ??= (await import("./node-post.ts")).nodePost;
      return nodePost(url, headers, body, signal);
    }
    const init: RequestInit & { duplex?: "half" } = {
      method: "POST",
      headers,
      body: body as RequestInit["body"],
      signal,
    };
    if (body instanceof ReadableStream) init.duplex = "half";
    return fetch(url, init);
  };

  const learnVersion = (response: HttpAnswer) => {
    const spoken = response.headers.get(HTTP_VERSION_HEADER) === HTTP_VERSION ? "2" : "1";
    if (hostVersion !== spoken) {
      if (hostVersion !== "unknown") logger.debug(`the command host at ${shownUrl} now speaks HTTP v${spoken}`);
      hostVersion = spoken;
    }
  };

  const transportFailure = (frame: OutgoingFrame, reason: string) =>
    new CommandError("TRANSPORT_CLOSED", `cannot reach the command host at ${shownUrl}: ${reason}`, {
      retryable: true,
      command: frame.command,
    });

  const statusFailure = (frame: OutgoingFrame, status: number) => {
    const code = RETRY_STATUSES.has(status)
      ? "UNAVAILABLE"
      : status === 413
        ? "TOO_LARGE"
        : REFUSED_STATUSES.has(status)
          ? "FORBIDDEN"
          : "INTERNAL";
    return new CommandError(code, `command host at ${shownUrl} answered HTTP ${status} without a valid answer frame`, {
      retryable: code === "UNAVAILABLE",
      command: frame.command,
    });
  };

  /** Done with a frame: forget it; a frame still pending fails with `error`. */
  const finish = (entry: Tracked, error?: CommandError) => {
    tracked.delete(entry.frame.id);
    if (error && sink.isPending(entry.frame.id)) sink.fail(entry.frame.id, error);
  };

  /** Sends a read again after backoff, or fails it: the only second chance any frame gets. */
  const retryOrFail = async (entry: Tracked, error: CommandError, why: string) => {
    if (closed || !sink.isPending(entry.frame.id)) return finish(entry);
    if (!entry.frame.read || entry.attempt >= retries) return finish(entry, error);
    entry.attempt++;
    logger.debug(`${entry.frame.command} #${entry.frame.id}: ${why}; retrying`);
    await sleep(backoffDelay(entry.attempt, backoff));
    if (closed || !sink.isPending(entry.frame.id)) return finish(entry);
    dispatch(entry);
  };

  const startPost = () => {
    posts++;
    const controller = new AbortController();
    inFlight.add(controller);
    return controller;
  };
  const endPost = (controller: AbortController) => {
    posts--;
    inFlight.delete(controller);
    if (queue.length > 0) scheduleFlush();
  };

  /** One `host.ping` to learn the host's version before a frame whose bytes depend on it. */
  let probing: Promise<void> | undefined;
  const probe = () =>
    (probing ??= (async () => {
      const controller = new AbortController();
      inFlight.add(controller);
      try {
        const response = await post("application/json", PROBE_FRAME, PROBE_FRAME, controller.signal);
        learnVersion(response);
        // Read to its end, so that the connection is kept for the frame that waited.
        await response.text().catch(() => "");
      } catch {
        // The frame itself will meet the same failure and report it.
      } finally {
        inFlight.delete(controller);
        probing = undefined;
      }
    })());

  /** v1, or a solo exchange: one frame, one POST. */
  const sendAlone = async (entry: Tracked) => {
    if (hostVersion === "unknown" && (entry.frame.body !== undefined || entry.frame.streamed)) await probe();
    if (entry.frame.body !== undefined && hostVersion !== "2") {
      // A host without raw bodies gets them inline, within the frame limit.
      try {
        entry.frame = await inlineFrame(entry.frame, maxFrameBytes);
      } catch (error) {
        return finish(entry, error as CommandError);
      }
    }
    if (closed || !sink.isPending(entry.frame.id)) return finish(entry);
    const { frame } = entry;
    const controller = startPost();
    entry.controller = controller;
    const solo = hostVersion === "2" && (frame.body !== undefined || frame.streamed === true || entry.resentAlone);
    let resend = false;
    try {
      let response: HttpAnswer;
      try {
        if (solo) {
          const line = `${frame.text}\n`;
          response = await post(
            FRAME_CONTENT_TYPE,
            frameStream(frame.text, frame.body ?? null),
            line,
            controller.signal,
          );
        } else response = await post("application/json", frame.text, frame.text, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) return finish(entry);
        // A streamed body cannot be sent twice: only frames without one are reads worth a retry.
        if (frame.body instanceof ReadableStream) return finish(entry, transportFailure(frame, reasonOf(error)));
        return void retryOrFail(entry, transportFailure(frame, reasonOf(error)), reasonOf(error));
      }
      learnVersion(response);
      if (RETRY_STATUSES.has(response.status) && !(frame.body instanceof ReadableStream)) {
        void response.body?.cancel().catch(() => undefined);
        return void retryOrFail(entry, statusFailure(frame, response.status), `HTTP ${response.status}`);
      }
      const type = response.headers.get("content-type") ?? "";
      if (type.startsWith(FRAME_CONTENT_TYPE) && response.body) {
        const split = await splitFrameLine(response.body, maxFrameBytes);
        if (split.ok) {
          // The bytes after the line belong to the result's body marker; a result without one has none.
          if (split.line.includes('"encoding":"body"')) sink.receive(split.line, frame.id, frameRest(split));
          else {
            discardRest(split);
            sink.receive(split.line, frame.id);
          }
        } else if (split.reason === "too-large") sink.oversized(frame.id, maxFrameBytes + 1);
      } else {
        const text = await response.text();
        if (hostVersion === "2" && frame.read && !entry.resentAlone && TOO_LARGE_ANSWER_RE.test(text)) {
          entry.resentAlone = true;
          entry.frame = { ...frame, streamed: true };
          resend = true;
          return;
        }
        if (text.length > 0) {
          if (exceedsBytes(text, maxFrameBytes)) sink.oversized(frame.id, utf8Length(text));
          else sink.receive(text, frame.id);
        }
      }
      finish(entry, statusFailure(frame, response.status));
    } catch (error) {
      finish(entry, controller.signal.aborted ? undefined : transportFailure(frame, reasonOf(error)));
    } finally {
      entry.controller = undefined;
      endPost(controller);
      if (resend) dispatch(entry);
    }
  };

  /** A v2 batch: the frames' lines in one POST, the answers read as they arrive. */
  const sendBatch = async (batch: Tracked[]) => {
    const controller = startPost();
    const text = batch.map((entry) => `${entry.frame.text}\n`).join("");
    const ids = new Map(batch.map((entry) => [entry.frame.id, entry]));
    let answered = false;
    try {
      let response: HttpAnswer;
      try {
        response = await post(BATCH_CONTENT_TYPE, text, text, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) {
          for (const entry of batch) finish(entry);
          return;
        }
        // Whether the host ran them is unknown: reads go again, writes fail.
        for (const entry of batch)
          void retryOrFail(entry, transportFailure(entry.frame, reasonOf(error)), reasonOf(error));
        return;
      }
      learnVersion(response);
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith(BATCH_CONTENT_TYPE)) {
        void response.body?.cancel().catch(() => undefined);
        if (hostVersion === "1" && response.status === 400) {
          // A v1 host read the batch as one frame and refused it unread: every frame is sent again, alone.
          for (const entry of batch) dispatch(entry);
          return;
        }
        for (const entry of batch) {
          const error = statusFailure(entry.frame, response.status);
          if (RETRY_STATUSES.has(response.status)) void retryOrFail(entry, error, `HTTP ${response.status}`);
          else finish(entry, error);
        }
        return;
      }
      answered = true;
      const splitter = createLineSplitter({
        maxLineBytes: maxFrameBytes,
        onLine: (line) => {
          const id = leadingFrameId(line.slice(0, 40));
          const entry = id === undefined ? undefined : ids.get(id);
          if (entry?.frame.read && !entry.resentAlone && TOO_LARGE_ANSWER_RE.test(line)) {
            ids.delete(id!);
            entry.resentAlone = true;
            entry.frame = { ...entry.frame, streamed: true };
            return void sendAlone(entry);
          }
          sink.receive(line);
          if (entry) {
            ids.delete(id!);
            finish(entry);
          }
        },
        onOversized: (prefix, bytes) => sink.oversized(leadingFrameId(prefix), bytes),
      });
      const reader = response.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        splitter.push(value);
      }
      splitter.release();
    } catch (error) {
      if (controller.signal.aborted) {
        for (const entry of ids.values()) finish(entry);
        ids.clear();
        return;
      }
      const reason = reasonOf(error);
      for (const entry of ids.values())
        void retryOrFail(entry, transportFailure(entry.frame, reason), `batch answers broke off: ${reason}`);
      ids.clear();
    } finally {
      endPost(controller);
      if (answered) {
        // The answers ended without these: reads go again, writes fail.
        for (const entry of ids.values()) {
          const error = new CommandError(
            "TRANSPORT_CLOSED",
            `the command host at ${shownUrl} ended a batch without answering ${entry.frame.command} #${entry.frame.id}`,
            { retryable: true, command: entry.frame.command },
          );
          void retryOrFail(entry, error, "no answer in the batch");
        }
      }
    }
  };

  /** Frames that travel in a POST of their own: with bytes, with bytes to come back, or any while the host is v1. */
  const alone = (entry: Tracked) =>
    hostVersion !== "2" ||
    entry.frame.body !== undefined ||
    entry.frame.streamed === true ||
    entry.resentAlone === true;

  const flush = () => {
    flushScheduled = false;
    let head = 0;
    while (head < queue.length && posts < maxPosts && !closed) {
      const batch: Tracked[] = [];
      let chars = 0;
      while (head < queue.length && batch.length < MAX_BATCH_FRAMES) {
        const next = queue[head]!;
        const size = next.frame.text.length + 1;
        if (alone(next) ? batch.length > 0 : batch.length > 0 && chars + size > maxFrameBytes) break;
        head++;
        queuedChars -= size;
        if (!sink.isPending(next.frame.id)) {
          tracked.delete(next.frame.id);
          continue;
        }
        chars += size;
        batch.push(next);
        if (alone(next)) break;
      }
      // One frame needs no batch: the v1 shape is also v2's, and the cheapest for the host.
      if (batch.length === 1) void sendAlone(batch[0]!);
      else if (batch.length > 1) void sendBatch(batch);
    }
    queue = head === queue.length ? [] : queue.slice(head);
  };

  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    // After the current turn's commands are queued: what a loop or a Promise.all sends leaves together.
    if (typeof setImmediate === "function") setImmediate(flush);
    else setTimeout(flush, 0);
  };

  const dispatch = (entry: Tracked) => {
    if (alone(entry) && posts < maxPosts && queue.length === 0) return void sendAlone(entry);
    if (!fitsPending(queuedChars, entry.frame.text.length, pendingLimit)) {
      return finish(entry, hostNotReadingError(entry.frame, queuedChars, pendingLimit));
    }
    queue.push(entry);
    queuedChars += entry.frame.text.length + 1;
    scheduleFlush();
  };

  return {
    carriesBodies: true,
    send(frame) {
      if (closed) {
        sink.fail(
          frame.id,
          new CommandError("TRANSPORT_CLOSED", "the command client is closed", { command: frame.command }),
        );
        return;
      }
      const entry: Tracked = { frame, attempt: 0 };
      tracked.set(frame.id, entry);
      dispatch(entry);
    },
    cancel(id) {
      const entry = tracked.get(id);
      if (!entry) return true;
      if (entry.controller) {
        entry.controller.abort();
        tracked.delete(id);
        return true;
      }
      const index = queue.indexOf(entry);
      if (index !== -1) {
        queue.splice(index, 1);
        queuedChars -= entry.frame.text.length + 1;
        tracked.delete(id);
        return true;
      }
      // In a batch in flight: the host is asked to stop it.
      return false;
    },
    async close() {
      closed = true;
      for (const controller of inFlight) controller.abort();
      inFlight.clear();
      queue = [];
      tracked.clear();
    },
  };
}

/** A random client id for `x-containerflare-client`: 16 hex digits. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (const byte of bytes) id += byte.toString(16).padStart(2, "0");
  return id;
}
