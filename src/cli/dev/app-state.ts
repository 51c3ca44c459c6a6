/**
 * The app's state as `containerflare dev` tells it to the dev Worker: `starting`, `up` or `down`
 * (with the reason clients are shown). The CLI supervises the app and pushes every change, signed
 * with the dev secret, to `POST /__containerflare/dev/app-state` on the Worker's commands socket
 * (loopback, not the dev port); the Worker keeps the last one and decides by it how to forward a
 * request: down → 502 at once, starting → wait, up → send once. Web APIs only: the Worker bundles
 * this module too.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { errorMessage } from "../../internal/error-message.ts";
import { sleep } from "../../internal/sleep.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../request-signature.ts";

/** Path of the state route on the dev Worker's commands socket. */
export const APP_STATE_PATH = "/__containerflare/dev/app-state";

/** Longest reason accepted, in characters (it is shown to clients; the CLI's lines are short). */
const MAX_REASON_LENGTH = 512;

/** A change the supervisor reports: the app is starting, listening, or down for `reason`. */
export type AppStatus = { status: "starting" } | { status: "up" } | { status: "down"; reason: string };

/** Schema of the state the CLI pushes (validated by the Worker). */
export const AppStateSchema = v.object({
  /** Increases with every change: the Worker ignores a state older than the one it holds. */
  seq: v.pipe(v.number(), v.integer(), v.minValue(1)),
  status: v.picklist(["starting", "up", "down"]),
  /** Why the app is down; in later states, why it last went down. */
  reason: v.optional(v.pipe(v.string(), v.maxLength(MAX_REASON_LENGTH))),
  /** `seq` of the app's last exit: tells a request that failed whether the app exited after it was sent. */
  exitSeq: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/** The app's state as the Worker holds it. */
export type AppState = v.InferOutput<typeof AppStateSchema>;

/** The state before the CLI said anything: starting (the CLI starts the app right after the Worker). */
export const INITIAL_APP_STATE: AppState = { seq: 0, status: "starting" };

/**
 * The state after `change`: the next `seq`, and the last exit's reason and `seq` carried along,
 * so that a state that replaces a `down` before the Worker saw it still tells why the app went down.
 */
export function nextAppState(previous: AppState, change: AppStatus): AppState {
  const seq = previous.seq + 1;
  if (change.status === "down")
    return { seq, status: "down", reason: change.reason.slice(0, MAX_REASON_LENGTH), exitSeq: seq };
  return {
    seq,
    status: change.status,
    ...(previous.reason !== undefined ? { reason: previous.reason } : {}),
    ...(previous.exitSeq !== undefined ? { exitSeq: previous.exitSeq } : {}),
  };
}

/** Human form of a duration for the reasons: `250ms`, `2s`, `10s`. */
export function formatDelay(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)}ms` : `${Math.round(ms / 100) / 10}s`;
}

/** The reason a crashed app gives clients: `the app exited with code 1 (restarting in 2s)`. */
export function exitReason(code: number | null, signal: string | null, restartInMs: number | undefined): string {
  const how = signal ? `was stopped by ${signal}` : `exited with code ${code ?? "unknown"}`;
  return `the app ${how}${restartInMs === undefined ? "" : ` (restarting in ${formatDelay(restartInMs)})`}`;
}

/** Options of {@link createAppStatePusher}. */
export interface AppStatePusherOptions {
  /** The Worker's state route: {@link APP_STATE_PATH} on its commands socket. */
  url: URL;
  /** The dev secret: each push is signed like a command request. */
  secret: string;
  logger: ConsolaInstance;
  /** Attempts per state before the CLI gives up on telling it (default 5, 200 ms apart). */
  attempts?: number;
}

/** Tells the dev Worker about the app's state. */
export interface AppStatePusher {
  /** Reports a change; sent in the background, never concurrently with another. */
  push(change: AppStatus): void;
  /** Resolves once the last reported state was sent (or given up on). */
  flush(): Promise<void>;
}

/**
 * Pushes the app's state to the dev Worker, one request at a time. Only the newest unsent state
 * is kept (it carries the last exit, see {@link nextAppState}), so memory stays one state however
 * fast the app flaps. A push that fails is retried a few times unless a newer state replaces it.
 */
export function createAppStatePusher(options: AppStatePusherOptions): AppStatePusher {
  const attempts = options.attempts ?? 5;
  const path = options.url.pathname + options.url.search;
  let state = INITIAL_APP_STATE;
  let unsent: AppState | undefined;
  let sending: Promise<void> | undefined;

  async function send(next: AppState): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify(next));
    for (let attempt = 1; ; attempt++) {
      try {
        const signature = await signCommandRequest(options.secret, { method: "POST", path, body });
        const response = await fetch(options.url, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: signature },
          signal: AbortSignal.timeout(5_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        throw new Error(`HTTP ${response.status}`);
      } catch (error) {
        if (attempt >= attempts || unsent !== undefined) {
          options.logger.debug(`cannot tell the dev Worker that the app is ${next.status}: ${errorMessage(error)}`);
          return;
        }
        await sleep(200);
      }
    }
  }

  async function drain(): Promise<void> {
    while (unsent) {
      const next = unsent;
      unsent = undefined;
      await send(next);
    }
    sending = undefined;
  }

  return {
    push(change) {
      state = nextAppState(state, change);
      unsent = state;
      sending ??= drain();
    },
    async flush() {
      await sending;
    },
  };
}

/** What the dev Worker knows of the app: the last state and a way to wait for the next one. */
export interface AppStateBoard {
  /** The last state the CLI pushed. */
  readonly current: AppState;
  /** Takes a pushed state; false when it is older than the one held (and ignored). */
  update(state: AppState): boolean;
  /**
   * Resolves with the current state as soon as `done(state)` holds, or after `timeoutMs` with
   * whatever the state is then. Polls (25 ms): a workerd request must not wait on a promise that
   * another request settles.
   */
  waitFor(done: (state: AppState) => boolean, timeoutMs: number): Promise<AppState>;
}

/** How often a waiting request looks at the state again, in ms. */
const POLL_MS = 25;

/** Creates the dev Worker's {@link AppStateBoard}. */
export function createAppStateBoard(initial: AppState = INITIAL_APP_STATE): AppStateBoard {
  let current = initial;
  return {
    get current() {
      return current;
    },
    update(state) {
      if (state.seq <= current.seq) return false;
      current = state;
      return true;
    },
    async waitFor(done, timeoutMs) {
      // Bounded in count as well as in time: workerd's clock only moves across I/O.
      const polls = Math.ceil(timeoutMs / POLL_MS);
      for (let poll = 0; poll < polls && !done(current); poll++) await sleep(POLL_MS);
      return current;
    },
  };
}
