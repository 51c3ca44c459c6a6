/**
 * The Worker that `containerflare dev` runs in workerd (Miniflare): the same forward and
 * command-host code a deployed Worker runs, in front of the app running as a local process.
 * Bundled with esbuild at start-up; Web APIs only, like everything under src/worker.
 *
 * - `default.fetch`: every request to the dev port, forwarded to the app with the signed
 *   metadata header, by the app's state that the CLI pushes (see app-state.ts): down → 502 at
 *   once with the reason; starting → wait (up to `waitMs`) until it is up; up → send once.
 *   A request is never sent twice: once sent, the app may have run it. Bodies stream through.
 *   Except `POST /__containerflare/v1/commands`: the public command route a deployed Worker
 *   offers with `remoteCommands` (src/worker/remote-route.ts), signed with the dev secret, so
 *   that a second process started as on Cloud Run reaches the same bindings; it never waits
 *   for the app.
 * - `commands.fetch`: the command host over HTTP (the app's `CF_CMD_ENDPOINT`), on its own
 *   loopback socket so that it is not reachable through the dev port, answering only requests
 *   signed with the dev secret and never a browser's; and the CLI's signed app-state route.
 * - `default.queue`: a batch of a queue wrangler.jsonc's `queues.consumers` lists goes to the
 *   app's `queue` handler (src/worker/events.ts: its acks and retries applied, a failure retried
 *   by Miniflare); a queue the app only produces to is logged and acked.
 * - `default.scheduled`: a Cron Trigger (`--trigger-cron`, or `/cdn-cgi/handler/scheduled` on the
 *   dev port) runs the app's `scheduled` handler.
 *
 * @module
 */
import * as v from "valibot";
import type { ObjectBindingKind } from "../../bindings/registry.ts";
import { errorResponse } from "../../errors.ts";
import type { MessageBatch, ScheduledController } from "../../events/types.ts";
import { readBodyLimited } from "../../protocol/bytes.ts";
import { createRequestVerifier, REQUEST_SIGNATURE_HEADER, type RequestVerifier } from "../../request-signature.ts";
import {
  type CommandOutboundHandler,
  commandHandler,
  forward,
  forwardQueue,
  forwardScheduled,
  type RemoteCommandRoute,
  remoteCommandRoute,
} from "../../worker/index.ts";
import { APP_STATE_PATH, type AppState, AppStateSchema, createAppStateBoard } from "./app-state.ts";

/** What the dev command passes to this Worker in the `CONTAINERFLARE_DEV` binding. */
export interface DevWorkerSettings {
  /** Base URL of the app process. */
  appUrl: string;
  /**
   * Bindings the app may use through the command bus, with their kinds from wrangler.jsonc (a
   * Fetcher cannot tell an assets binding from a service binding by its methods).
   */
  allow: readonly string[] | Readonly<Record<string, ObjectBindingKind>>;
  /** Vars the app may read through `env.get`. */
  vars: string[];
  /** `worker_name` of the metadata header. */
  workerName?: string;
  /** How long a request waits for an app that is (re)starting, in ms. */
  waitMs: number;
  /** Queues whose batches go to the app's `queue` handler (wrangler.jsonc's `queues.consumers`). */
  consumedQueues?: string[];
}

interface DevEnv {
  CONTAINERFLARE_SECRET: string;
  CONTAINERFLARE_DEV: DevWorkerSettings;
}

/**
 * How long a request whose send failed waits for the CLI to report the exit, in ms: enough for
 * the exit event and one loopback push, so that the client reads why the app went away.
 */
const EXIT_REPORT_WAIT_MS = 1_000;
/** Largest app-state push read, in bytes (a state is ~200 B). */
const MAX_STATE_BYTES = 4_096;

// The app's state lives in this isolate's memory: both entrypoints (the dev port and the
// commands socket) run in it, and the CLI is its only writer, through the signed route below.
const appState = createAppStateBoard();

/** Dev's own answer while the app cannot take the request: the local developer reads the reason. */
function unavailable(message: string): Response {
  return errorResponse(502, { code: "UNAVAILABLE", message, retryable: true });
}

const SEE_OUTPUT = "see the dev command's output";

/** Waits while the app is starting (up to `waitMs`); the state it is in then. */
function settledApp(settings: DevWorkerSettings): Promise<AppState> {
  return appState.waitFor((current) => current.status !== "starting", settings.waitMs);
}

/** Runs an event in the app once it is up; rejects (so that Miniflare retries a batch) when it is not. */
async function forwardEvent(env: DevEnv, what: string, send: (appUrl: string) => Promise<void>): Promise<void> {
  const settings = env.CONTAINERFLARE_DEV;
  const state = await settledApp(settings);
  if (state.status !== "up")
    throw new Error(`containerflare dev: the app is not running, so ${what} failed; ${SEE_OUTPUT}`);
  await send(settings.appUrl);
}

function forwardOptions(settings: DevWorkerSettings) {
  return settings.workerName ? { workerName: settings.workerName } : {};
}

async function forwardToApp(request: Request, env: DevEnv): Promise<Response> {
  const settings = env.CONTAINERFLARE_DEV;
  const options = forwardOptions(settings);
  const state = await settledApp(settings);
  if (state.status === "down") return unavailable(state.reason ?? `the app is not running; ${SEE_OUTPUT}`);
  if (state.status === "starting")
    return unavailable(`the app is still starting after ${settings.waitMs / 1000}s; ${SEE_OUTPUT}`);
  try {
    return await forward(request, settings.appUrl, env, options);
  } catch {
    // Not sent again: the app may have received the request (and run it) before it went away.
    const exitedSince = (current: AppState) => current.exitSeq !== undefined && current.exitSeq > state.seq;
    const after = await appState.waitFor(exitedSince, EXIT_REPORT_WAIT_MS);
    if (exitedSince(after) && after.reason) return unavailable(after.reason);
    return unavailable(`the app closed the connection without answering; ${SEE_OUTPUT}`);
  }
}

/** The CLI's app-state route: signed with the dev secret like a command request. */
async function receiveAppState(request: Request, verifier: RequestVerifier): Promise<Response> {
  if (request.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
  const read = await readBodyLimited(request, MAX_STATE_BYTES);
  if (read.tooLarge) return new Response(null, { status: 413 });
  const body = read.bytes;
  const url = new URL(request.url);
  const header = request.headers.get(REQUEST_SIGNATURE_HEADER);
  const verdict = await verifier.verify({ method: request.method, path: url.pathname + url.search, body, header });
  if (!verdict.ok) return new Response(null, { status: 401 });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return new Response(null, { status: 400 });
  }
  const parsed = v.safeParse(AppStateSchema, json);
  if (!parsed.success) return new Response(null, { status: 400 });
  appState.update(parsed.output);
  return new Response(null, { status: 204 });
}

interface CommandsSocket {
  commands: CommandOutboundHandler<DevEnv>;
  stateVerifier: RequestVerifier;
  /** The dev port's public command route: the same allowlist and secret, its own replay window. */
  remote: RemoteCommandRoute;
}

// One per env object (the same for every request of an isolate); its settings are in env.
const sockets = new WeakMap<object, CommandsSocket>();

function commandsSocket(env: DevEnv): CommandsSocket {
  let socket = sockets.get(env);
  if (!socket) {
    socket = {
      // The dev secret is env.CONTAINERFLARE_SECRET: the app signs with it, nothing else has it.
      commands: commandHandler<DevEnv>({
        allow: env.CONTAINERFLARE_DEV.allow,
        vars: env.CONTAINERFLARE_DEV.vars,
        requireSignature: true,
      }),
      stateVerifier: createRequestVerifier({ secret: env.CONTAINERFLARE_SECRET }),
      // Plain HTTP also off loopback: `--host 0.0.0.0` serves the LAN over http:// only.
      remote: remoteCommandRoute({
        allow: env.CONTAINERFLARE_DEV.allow,
        vars: env.CONTAINERFLARE_DEV.vars,
        allowPlainHttp: true,
      }),
    };
    sockets.set(env, socket);
  }
  return socket;
}

export default {
  async fetch(request: Request, env: DevEnv): Promise<Response> {
    return (await commandsSocket(env).remote(request, env)) ?? forwardToApp(request, env);
  },
  async queue(batch: MessageBatch, env: DevEnv): Promise<void> {
    const settings = env.CONTAINERFLARE_DEV;
    if (!settings.consumedQueues?.includes(batch.queue)) {
      for (const message of batch.messages) console.log(`queue ${batch.queue}: ${JSON.stringify(message.body)}`);
      batch.ackAll();
      return;
    }
    await forwardEvent(env, `queue ${batch.queue}'s batch`, (appUrl) =>
      forwardQueue(batch, appUrl, env, forwardOptions(settings)),
    );
  },
  scheduled(controller: ScheduledController, env: DevEnv): Promise<void> {
    return forwardEvent(env, `the Cron Trigger "${controller.cron}"`, (appUrl) =>
      forwardScheduled(controller, appUrl, env, forwardOptions(env.CONTAINERFLARE_DEV)),
    );
  },
};

/** The command host entrypoint (`unsafeDirectSockets` gives it its own port), and the app-state route. */
export const commandsEntrypoint = {
  fetch(request: Request, env: DevEnv): Promise<Response> {
    const socket = commandsSocket(env);
    if (new URL(request.url).pathname === APP_STATE_PATH) return receiveAppState(request, socket.stateVerifier);
    return socket.commands(request, env);
  },
};
