/**
 * The Worker that `containerflare dev` runs in workerd (Miniflare): the same forward and
 * command-host code a deployed Worker runs, in front of the app running as a local process.
 * Bundled with esbuild at start-up; Web APIs only, like everything under src/worker.
 *
 * - `default.fetch`: every request to the dev port, forwarded to the app with the signed
 *   metadata header. While the app restarts, a request waits for it (up to `waitMs`).
 * - `commands.fetch`: the command host over HTTP (the app's `CF_CMD_ENDPOINT`), on its own
 *   loopback socket so that it is not reachable through the dev port.
 * - `default.queue`: consumes what the app sends to its queues and logs it, since the Worker
 *   that consumes them in production is not running here.
 *
 * @module
 */
import { commandHandler, forward, type CommandOutboundHandler } from "../../worker/index.ts";

/** What the dev command passes to this Worker in the `CONTAINERFLARE_DEV` binding. */
export interface DevWorkerSettings {
  /** Base URL of the app process. */
  appUrl: string;
  /** Bindings the app may use through the command bus. */
  allow: string[];
  /** Vars the app may read through `env.get`. */
  vars: string[];
  /** `worker_name` of the metadata header. */
  workerName?: string;
  /** How long a request waits for an app that is (re)starting, in ms. */
  waitMs: number;
}

interface DevEnv {
  CONTAINERFLARE_SECRET?: string;
  CONTAINERFLARE_DEV: DevWorkerSettings;
}

interface QueueBatch {
  queue: string;
  messages: readonly { body: unknown }[];
  ackAll(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function unavailable(message: string): Response {
  return Response.json({ error: { code: "UNAVAILABLE", message, retryable: true } }, { status: 502 });
}

async function forwardToApp(request: Request, env: DevEnv): Promise<Response> {
  const settings = env.CONTAINERFLARE_DEV;
  const options = settings.workerName ? { workerName: settings.workerName } : {};
  // Buffered so that the request can be sent again after the app refused the connection.
  const body = request.body ? await request.arrayBuffer() : null;
  const deadline = Date.now() + settings.waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await forward(new Request(request, { body }), settings.appUrl, env, options);
    } catch (error) {
      if (Date.now() >= deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        return unavailable(`the app at ${settings.appUrl} is not answering (${reason}); see the dev command's output`);
      }
      await sleep(Math.min(50 * 2 ** attempt, 250));
    }
  }
}

// One host per env object (the same for every request of an isolate); its settings are in env.
const commandHosts = new WeakMap<object, CommandOutboundHandler<DevEnv>>();

function commands(env: DevEnv): CommandOutboundHandler<DevEnv> {
  let handler = commandHosts.get(env);
  if (!handler) {
    handler = commandHandler<DevEnv>({ allow: env.CONTAINERFLARE_DEV.allow, vars: env.CONTAINERFLARE_DEV.vars });
    commandHosts.set(env, handler);
  }
  return handler;
}

export default {
  fetch: forwardToApp,
  queue(batch: QueueBatch): void {
    for (const message of batch.messages) console.log(`queue ${batch.queue}: ${JSON.stringify(message.body)}`);
    batch.ackAll();
  },
};

/** The command host entrypoint (`unsafeDirectSockets` gives it its own port). */
export const commandsEntrypoint = {
  fetch(request: Request, env: DevEnv): Promise<Response> {
    return commands(env)(request, env);
  },
};
