/**
 * The container instances of `containerflare dev` when it runs the app's own Worker: one app
 * process per Durable Object that starts its container, each on a loopback port of its own,
 * at most `max_instances` per class. The Worker's `ctx.container` stand-ins
 * (container-stand-in.ts) ask for processes through {@link ContainerInstances.handle}, a
 * Miniflare service binding that runs here in Node: `start` spawns, `wait` answers when the
 * process ends, `signal`, `destroy`, `inactivity` and `touch` do what the platform does, and
 * `settled` lets a request that failed during a file change's restart wait for the new process.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import type { ConsolaInstance } from "consola";
import * as v from "valibot";
import { issueLine } from "../../internal/issues.ts";
import type { AppExit, AppProcess } from "./app-process.ts";
import { formatDelay } from "./app-state.ts";
import { freePort } from "./ports.ts";

/** What {@link ContainerInstancesOptions.spawn} needs to run one instance. */
export interface InstanceSpawn {
  className: string;
  /** The Durable Object id (64 hex digits): the app's `CLOUDFLARE_DURABLE_OBJECT_ID`. */
  id: string;
  /** The object's name, when it was made by name. */
  name?: string;
  /** Loopback port the app listens on. */
  port: number;
  /** The app's `CF_CMD_ENDPOINT`: this instance's command route on the outbound socket. */
  commandEndpoint: string;
  /** What the Worker passed to `ctx.container.start({ env })`. */
  env: Record<string, string>;
  /** How the instance is named in dev's output: `Room "lobby"`. */
  label: string;
  onExit(exit: AppExit): void;
}

/** Options of {@link createContainerInstances}. */
export interface ContainerInstancesOptions {
  /** The `containers` classes and their bound on running instances. */
  classes: readonly { className: string; maxInstances: number }[];
  /** HMAC key of the instances' command URLs (the Worker verifies them with the same key). */
  tokenKey: Buffer;
  /** The outbound socket's base URL (known once workerd is up; it changes when the Worker reloads). */
  outboundUrl(): URL;
  /** Makes (does not start) the app process of an instance. */
  spawn(instance: InstanceSpawn): AppProcess;
  logger: ConsolaInstance;
}

/** A running instance, as {@link ContainerInstances.list} shows it. */
export interface InstanceInfo {
  className: string;
  id: string;
  name?: string;
  port: number;
  pid: number | undefined;
}

/** The instances, and the service binding through which the Worker drives them. */
export interface ContainerInstances {
  /** Answers the stand-ins' requests (the Miniflare service binding). */
  handle(request: Request): Promise<Response>;
  /** The running instances. */
  list(): InstanceInfo[];
  /** Restarts every running instance at once (the app's files changed); each keeps its port. */
  restartAll(): Promise<void>;
  /** Stops every instance: SIGTERM, then SIGKILL after the app process's stop timeout. */
  stopAll(): Promise<void>;
  /**
   * Refuses (true) or allows again (false) new instances: while the Worker reloads, a start from
   * the old Worker would leave a process the new one does not know.
   */
  holdStarts(hold: boolean): void;
}

/** Exits kept for a `wait` that arrives after its process ended: a few per class is plenty. */
const MAX_REMEMBERED_EXITS = 64;

/** The platform's error when it has no instance to give, which @cloudflare/containers answers with a 503. */
const NO_INSTANCE = "there is no container instance that can be provided to this durable object";

/** How long `destroy` waits for the killed process to be reported before it stops the instance itself, in ms. */
const DESTROY_WAIT_MS = 2_000;

/** How an instance ended, as the stand-in reads it. */
interface ExitReport extends AppExit {
  /** The runtime asked it to stop (`signal()`, `destroy()`, the inactivity timeout, dev stopping). */
  signalled: boolean;
}

interface Instance {
  info: InstanceInfo;
  label: string;
  app: AppProcess;
  signalled: boolean;
  exit: Promise<ExitReport>;
  /** Settles `exit` (once: later calls are ignored). */
  ended(exit: ExitReport): void;
  inactivityMs?: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** While a file change restarts the app: resolves once it listens again (true) or did not start. */
  restarting?: Promise<boolean>;
}

const hexId = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "a Durable Object id of 64 hex digits"));
const key = v.pipe(v.string(), v.maxLength(512));
const StartSchema = v.object({
  className: v.pipe(v.string(), v.maxLength(256)),
  id: hexId,
  name: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  env: v.record(v.string(), v.string()),
  entrypoint: v.optional(v.array(v.string())),
  inactivityMs: v.optional(v.pipe(v.number(), v.minValue(0))),
});
const KeySchema = v.object({ key });
const SignalSchema = v.object({ key, signo: v.pipe(v.number(), v.integer()) });
const InactivitySchema = v.object({ key, ms: v.pipe(v.number(), v.minValue(0)) });

/** Names of the signals `ctx.container.signal()` may send (others are refused). */
const SIGNALS: Record<number, NodeJS.Signals> = {
  1: "SIGHUP",
  2: "SIGINT",
  9: "SIGKILL",
  10: "SIGUSR1",
  12: "SIGUSR2",
  15: "SIGTERM",
};

function answer(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

/** The token of an instance's command URL: HMAC-SHA256(key, `class/id`), hex. */
export function instanceToken(tokenKey: Buffer, className: string, id: string): string {
  return createHmac("sha256", tokenKey).update(`${className}/${id}`).digest("hex");
}

/** `Room "lobby"`, or `Room 1a2b3c4d…` for an object without a name. */
function instanceLabel(className: string, id: string, name: string | undefined): string {
  return name !== undefined ? `${className} ${JSON.stringify(name)}` : `${className} ${id.slice(0, 8)}…`;
}

function describeExit(exit: ExitReport): string {
  if (exit.failure) return exit.failure;
  return exit.signal ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** Creates the instances of a dev session (none run until a Durable Object starts its container). */
export function createContainerInstances(options: ContainerInstancesOptions): ContainerInstances {
  const { logger } = options;
  const limits = new Map(options.classes.map((entry) => [entry.className, entry.maxInstances]));
  const instances = new Map<string, Instance>();
  const exits = new Map<string, ExitReport>();
  let holding = false;

  function remember(instanceKey: string, exit: ExitReport): void {
    exits.delete(instanceKey);
    exits.set(instanceKey, exit);
    if (exits.size > MAX_REMEMBERED_EXITS) exits.delete(exits.keys().next().value!);
  }

  /** The instance ended: it leaves the table, its exit is kept for a late `wait` and settles the waiting ones. */
  function finish(instanceKey: string, instance: Instance, report: ExitReport): void {
    if (instances.get(instanceKey) === instance) instances.delete(instanceKey);
    clearTimeout(instance.idleTimer);
    remember(instanceKey, report);
    instance.ended(report);
  }

  function armIdleTimer(instance: Instance): void {
    clearTimeout(instance.idleTimer);
    if (instance.inactivityMs === undefined || instance.inactivityMs <= 0) return;
    instance.idleTimer = setTimeout(() => {
      logger.info(`${instance.label} idle for ${formatDelay(instance.inactivityMs!)}: stopping it (SIGTERM)`);
      instance.signalled = true;
      instance.app.signal("SIGTERM");
    }, instance.inactivityMs);
    instance.idleTimer.unref?.();
  }

  async function start(body: v.InferOutput<typeof StartSchema>): Promise<Response> {
    // The platform's words for "not now", which @cloudflare/containers answers with a 503.
    if (holding) return answer(503, { error: NO_INSTANCE });
    const limit = limits.get(body.className);
    if (limit === undefined)
      return answer(400, {
        error: `containerflare dev: ${body.className} is not a class of wrangler.jsonc's containers`,
      });
    const instanceKey = `${body.className}/${body.id}`;
    if (instances.has(instanceKey)) return answer(409, { error: "the container is already running" });
    const running = [...instances.values()].filter((instance) => instance.info.className === body.className).length;
    if (running >= limit) {
      logger.warn(`${body.className}: ${running} instances run, max_instances is ${limit}: the new one is refused`);
      return answer(503, { error: NO_INSTANCE });
    }
    if (body.entrypoint)
      logger.debug(`${body.className}: dev runs the app, not the entrypoint ${body.entrypoint.join(" ")}`);
    const port = await freePort();
    const token = instanceToken(options.tokenKey, body.className, body.id);
    const commandEndpoint = new URL(`${body.className}/${body.id}/${token}/v1/commands`, options.outboundUrl()).href;
    const label = instanceLabel(body.className, body.id, body.name);
    let ended: (exit: ExitReport) => void = () => {};
    const exit = new Promise<ExitReport>((resolve) => {
      ended = resolve;
    });
    const info: InstanceInfo = {
      className: body.className,
      id: body.id,
      ...(body.name !== undefined ? { name: body.name } : {}),
      port,
      pid: undefined,
    };
    const instance: Instance = {
      info,
      label,
      signalled: false,
      exit,
      ended,
      ...(body.inactivityMs !== undefined ? { inactivityMs: body.inactivityMs } : {}),
      app: options.spawn({
        className: body.className,
        id: body.id,
        ...(body.name !== undefined ? { name: body.name } : {}),
        port,
        commandEndpoint,
        env: body.env,
        label,
        onExit: (appExit) => {
          const report = { ...appExit, signalled: instance.signalled };
          (report.code === 0 || report.signalled ? logger.info : logger.warn)(`${label} ${describeExit(report)}`);
          finish(instanceKey, instance, report);
          void instance.app.stop();
        },
      }),
    };
    instances.set(instanceKey, instance);
    armIdleTimer(instance);
    logger.info(`${label}: starting the app on 127.0.0.1:${port}`);
    void instance.app.start().then((ready) => {
      if (ready && instances.get(instanceKey) === instance) {
        info.pid = instance.app.pid;
        logger.success(`${label} is listening`);
      }
    });
    return answer(200, { port });
  }

  async function wait(instanceKey: string): Promise<Response> {
    const instance = instances.get(instanceKey);
    const exit = instance ? await instance.exit : exits.get(instanceKey);
    return answer(200, { exit: exit ?? { code: null, signal: null, signalled: true, failure: "the process is gone" } });
  }

  async function destroy(instanceKey: string): Promise<Response> {
    const instance = instances.get(instanceKey);
    if (instance) {
      instance.signalled = true;
      instance.app.signal("SIGKILL");
      // Between two processes of a restart there is nothing to kill: stop the instance instead.
      const timer = setTimeout(() => {
        void instance.app
          .stop()
          .then(() => finish(instanceKey, instance, { code: null, signal: "SIGKILL", signalled: true }));
      }, DESTROY_WAIT_MS);
      await instance.exit;
      clearTimeout(timer);
    }
    return answer(200, {});
  }

  async function dispatch(operation: string, json: unknown): Promise<Response> {
    switch (operation) {
      case "start": {
        const body = v.safeParse(StartSchema, json);
        return body.success ? start(body.output) : invalid(body.issues);
      }
      case "wait":
      case "destroy":
      case "settled":
      case "touch": {
        const body = v.safeParse(KeySchema, json);
        if (!body.success) return invalid(body.issues);
        if (operation === "wait") return wait(body.output.key);
        if (operation === "destroy") return destroy(body.output.key);
        if (operation === "settled") {
          // A request that failed while a file change restarted the app waits for it, then is sent again.
          const restarting = instances.get(body.output.key)?.restarting;
          return answer(200, { restarted: restarting ? await restarting : false });
        }
        const instance = instances.get(body.output.key);
        if (instance) armIdleTimer(instance);
        return answer(200, {});
      }
      case "signal": {
        const body = v.safeParse(SignalSchema, json);
        if (!body.success) return invalid(body.issues);
        const signal = SIGNALS[body.output.signo];
        if (!signal) return answer(400, { error: `containerflare dev cannot send signal ${body.output.signo}` });
        const instance = instances.get(body.output.key);
        if (instance) {
          instance.signalled = true;
          instance.app.signal(signal);
        }
        return answer(200, {});
      }
      case "inactivity": {
        const body = v.safeParse(InactivitySchema, json);
        if (!body.success) return invalid(body.issues);
        const instance = instances.get(body.output.key);
        if (instance) {
          instance.inactivityMs = body.output.ms;
          armIdleTimer(instance);
        }
        return answer(200, {});
      }
      default:
        return answer(404, { error: `containerflare dev: unknown container operation ${operation}` });
    }
  }

  return {
    async handle(request) {
      const operation = new URL(request.url).pathname.slice(1);
      let json: unknown;
      try {
        json = await request.json();
      } catch {
        return answer(400, { error: "containerflare dev: a container operation takes a JSON body" });
      }
      return dispatch(operation, json);
    },
    holdStarts(hold) {
      holding = hold;
    },
    list: () => [...instances.values()].map((instance) => ({ ...instance.info, pid: instance.app.pid })),
    async restartAll() {
      await Promise.all(
        [...instances.values()].map((instance) => {
          const restarting = instance.app.restart();
          instance.restarting = restarting;
          return restarting.finally(() => {
            if (instance.restarting === restarting) instance.restarting = undefined;
          });
        }),
      );
    },
    async stopAll() {
      const stopping = [...instances.values()];
      for (const instance of stopping) {
        instance.signalled = true;
        clearTimeout(instance.idleTimer);
      }
      await Promise.all(stopping.map((instance) => instance.app.stop()));
      // Stopped on purpose, so the processes' own exits are not reported: the waiting stand-ins learn them here.
      for (const instance of stopping)
        finish(`${instance.info.className}/${instance.info.id}`, instance, {
          code: null,
          signal: "SIGTERM",
          signalled: true,
        });
    },
  };
}

function invalid(issues: readonly v.BaseIssue<unknown>[]): Response {
  return answer(400, { error: `containerflare dev: invalid container operation: ${issueLine(issues)}` });
}
