import { randomBytes } from "node:crypto";
import { dirname, relative, resolve } from "node:path";
import { type ConsolaInstance, consola } from "consola";
import { consumedQueues } from "../../bindings/queue/descriptor.ts";
import { resolveEntry } from "../entry.ts";
import { CliError, errorLine } from "../errors.ts";
import { findRuntimeBinary, type RuntimeName } from "../runtime.ts";
import { type AppProcess, createAppProcess } from "./app-process.ts";
import { APP_STATE_PATH, createAppStatePusher } from "./app-state.ts";
import { bundleWorker } from "./bundle.ts";
import { type ContainerInstances, createContainerInstances } from "./instances.ts";
import {
  type DevWorker,
  type DevWorkerOptions,
  devWorkerOptions,
  startDevWorker,
  type UserWorkerMain,
} from "./miniflare.ts";
import { freePort } from "./ports.ts";
import { bridgeStdio } from "./stdio-bridge.ts";
import { bundleUserWorker, OUTBOUND_ENTRYPOINT, type UserWorkerBundle } from "./user-worker.ts";
import { watchDirectory } from "./watch.ts";
import { type DevBindings, declaredBindingKinds, readDevBindings, type UserWorker } from "./wrangler.ts";

/**
 * The dev port's public command route: `REMOTE_COMMAND_PATH` of src/worker/remote-route.ts,
 * written out so that the CLI does not load the command host to learn a path.
 */
const REMOTE_COMMAND_PATH = "/__containerflare/v1/commands";

/** Lowest Node.js major version Miniflare runs on. */
export const MIN_NODE_MAJOR = 22;

/** Options of {@link startDev}. */
export interface DevOptions {
  /** The app's entry (its default export is served). */
  entry: string;
  runtime: RuntimeName;
  /** Dev server port (default 8787). */
  port?: number;
  /** Dev server address (default 127.0.0.1). */
  host?: string;
  /** Directory for KV, D1 and R2 data (default `.containerflare`). */
  persist?: string;
  /** How the app reaches the command host (default `http`). */
  commands?: "http" | "stdio";
  /** The app's wrangler.jsonc, when it is not next to the entry. */
  config?: string;
  /** Restart the app when files beside the entry change (default true). */
  watch?: boolean;
  /** Where relative paths start (default: the current directory). */
  cwd?: string;
  /** Extra environment for the app. */
  env?: Record<string, string>;
  /**
   * The secret shared by the app and the dev Worker: it signs the metadata header and every
   * request to the command host. Default: `CONTAINERFLARE_SECRET` of this process's environment,
   * else a random one per session. The app's own Worker gets it as `CONTAINERFLARE_SECRET`
   * (unless its configuration sets that var) and passes it on as it does in production.
   */
  secret?: string;
  /**
   * Which Worker runs in front of the app: `main` (default) is the configuration's own Worker
   * when it names one with `containers`, else dev's built-in Worker; `builtin` is always dev's.
   */
  worker?: "main" | "builtin";
  /** A cron expression to run the Worker's `scheduled` handler with once the app is ready (`--trigger-cron`). */
  triggerCron?: string;
  logger?: ConsolaInstance;
}

/** A running `containerflare dev`. */
export interface DevSession {
  /** The dev server: every request goes through the Worker into the app. */
  url: URL;
  /** The command host the app talks to (over HTTP, or bridged from stdio). */
  commandsUrl: URL;
  /**
   * The public command route on the dev port (`/__containerflare/v1/commands`), as a deployed
   * Worker offers it with `remoteCommands`: another process started with a Cloud Run environment
   * (`K_SERVICE`, this as `CF_CMD_ENDPOINT`, the same `CONTAINERFLARE_SECRET`) uses the same
   * bindings as the app.
   */
  remoteCommandsUrl: URL;
  /** The app's own loopback address (dev's built-in Worker: one app process). */
  appUrl?: string;
  /** The bindings read from the app's configuration. */
  bindings: DevBindings;
  /** The app process (dev's built-in Worker). */
  app?: AppProcess;
  /** The container instances, each an app process (the app's own Worker). */
  instances?: ContainerInstances;
  /**
   * Resolves once the app first listens (true), or with false when it did not start. With the
   * app's own Worker, once the Worker runs: its containers start on their first request.
   */
  ready: Promise<boolean>;
  /**
   * Runs the Worker's `scheduled` handler as a Cron Trigger with `cron` would (what
   * `--trigger-cron` and `/cdn-cgi/handler/scheduled?cron=…` on the dev port do); resolves with
   * whether it succeeded, after logging the outcome.
   */
  scheduled(cron: string): Promise<boolean>;
  /** Stops the watcher, the app and workerd. */
  close(): Promise<void>;
}

/** Runs the entry Worker's `scheduled` handler in Miniflare and logs its outcome in one line. */
async function runScheduled(worker: DevWorker, cron: string, logger: ConsolaInstance): Promise<boolean> {
  try {
    const fetcher = await worker.miniflare.getWorker();
    const result = await fetcher.scheduled({ cron, scheduledTime: new Date() });
    if (result.outcome === "ok") logger.success(`scheduled "${cron}": ok`);
    else
      logger.error(
        `scheduled "${cron}": ${result.outcome}${result.noRetry ? " (no retry)" : ""}; see the output above`,
      );
    return result.outcome === "ok";
  } catch (error) {
    logger.error(`scheduled "${cron}" could not run: ${errorLine(error)}`);
    return false;
  }
}

/** Throws a one-line error on a Node.js too old for Miniflare. */
export function assertNodeVersion(version: string = process.versions.node): void {
  if ("Bun" in globalThis || "Deno" in globalThis) return;
  const major = Number(version.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    throw new CliError(
      `dev needs Node.js >= ${MIN_NODE_MAJOR} for Miniflare, this is Node.js ${version}: ` +
        "run it through npm scripts or npx (they use node_modules/.bin/node) or upgrade Node",
    );
  }
}

/**
 * The environment the app gets: what a Cloudflare Container sets (so platform detection says
 * `cloudflare`), the shared secret, the command endpoint, and a loopback listener.
 */
export function appEnvironment(options: {
  base: NodeJS.ProcessEnv;
  /** The shared secret; none when the app's own Worker did not pass one to its container. */
  secret: string | undefined;
  commandEndpoint: string;
  durableObjectId: string;
  extra?: Record<string, string>;
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...options.base };
  // A developer's shell may carry another platform's markers; the app runs "on Cloudflare" here.
  for (const name of [
    "K_SERVICE",
    "K_REVISION",
    "K_CONFIGURATION",
    "CLOUD_RUN_JOB",
    "CLOUD_RUN_WORKER_POOL",
    "PORT",
    "CF_CMD_SOCKET",
    "CONTAINERFLARE_SECRET",
  ]) {
    delete env[name];
  }
  return {
    ...env,
    CLOUDFLARE_APPLICATION_ID: "containerflare-dev",
    CLOUDFLARE_DEPLOYMENT_ID: "dev",
    CLOUDFLARE_DURABLE_OBJECT_ID: options.durableObjectId,
    CLOUDFLARE_LOCATION: "dev",
    CF_CONTAINER_ADDR: "127.0.0.1",
    ...(options.secret !== undefined ? { CONTAINERFLARE_SECRET: options.secret } : {}),
    ...options.extra,
    // After `extra`: a container's own env cannot point it at Cloudflare's made-up host, which
    // does not resolve here.
    CF_CMD_ENDPOINT: options.commandEndpoint,
  };
}

/** `path` relative to `cwd` when it lies inside it, else absolute. */
function shortPath(cwd: string, path: string): string {
  const inside = relative(cwd, path);
  return inside && !inside.startsWith("..") ? inside : path;
}

function describeBindings(bindings: DevBindings): string {
  const names = bindings.declared.map((entry) => `${entry.name} (${entry.kind})`);
  return names.length > 0 ? names.join(", ") : "none";
}

/**
 * Starts `containerflare dev`: the app's bindings in workerd (Miniflare) and, in front of the
 * app, either its own Worker (wrangler.jsonc's `main` with `containers`: see
 * {@link startWithUserWorker}) or dev's built-in one, with the app under its runtime as a child
 * process that restarts when its files change.
 */
export async function startDev(options: DevOptions): Promise<DevSession> {
  assertNodeVersion();
  const cwd = options.cwd ?? process.cwd();
  const logger = options.logger ?? consola.withTag("dev");
  const entryPath = resolveEntry(options.entry, cwd);
  const entryName = relative(cwd, entryPath) || entryPath;
  const bindings = readDevBindings(entryPath, options.config, cwd);
  const binary = findRuntimeBinary(options.runtime, cwd);
  const commands = options.commands ?? "http";
  const persist = resolve(cwd, options.persist ?? ".containerflare");
  const host = options.host ?? "127.0.0.1";
  const givenSecret = options.secret || process.env.CONTAINERFLARE_SECRET;
  const secret = givenSecret || randomBytes(32).toString("hex");
  const context: SessionContext = {
    options,
    cwd,
    logger,
    entryPath,
    entryName,
    bindings,
    binary,
    commands,
    persist,
    host,
    secret,
  };
  if (bindings.worker && options.worker !== "builtin") return startWithUserWorker(context, bindings.worker);
  const appPort = await freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;

  const worker: DevWorker = await startDevWorker({
    bindings,
    script: await bundleWorker(),
    host,
    port: options.port ?? 8787,
    persist,
    secret,
    settings: {
      appUrl,
      allow: declaredBindingKinds(bindings),
      vars: Object.keys(bindings.vars),
      waitMs: 10_000,
      consumedQueues: consumedQueues(bindings.sections.queues as Parameters<typeof consumedQueues>[0]),
      ...(bindings.workerName ? { workerName: bindings.workerName } : {}),
    },
  });

  // The app's state goes to the Worker over its commands socket, which the dev port does not reach.
  const appState = createAppStatePusher({ url: new URL(APP_STATE_PATH, worker.commandsUrl), secret, logger });
  let app: AppProcess;
  try {
    const env = appEnvironment({
      base: process.env,
      secret,
      commandEndpoint: commands === "stdio" ? "stdio" : worker.commandsUrl.href,
      durableObjectId: randomBytes(32).toString("hex"),
      ...(options.env ? { extra: options.env } : {}),
    });
    app = createAppProcess({
      runtime: options.runtime,
      binary,
      entryPath,
      entryName,
      port: appPort,
      env,
      commands,
      logger,
      onStatus: (change) => appState.push(change),
      ...(commands === "stdio"
        ? { onSpawn: (child) => bridgeStdio(child, { url: worker.commandsUrl.href, secret }) }
        : {}),
    });
  } catch (error) {
    await worker.dispose();
    throw error;
  }

  const stopWatching =
    options.watch === false
      ? () => {}
      : watchDirectory(
          dirname(entryPath),
          (paths) => {
            logger.info(`${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ", …" : ""} changed: restarting the app`);
            void app.restart().then((ready) => ready && logger.success("the app restarted"));
          },
          { ignore: [persist] },
        );

  logger.info(
    `${entryName} on ${options.runtime}, bindings: ${describeBindings(bindings)}` +
      `${bindings.file ? ` (from ${relative(cwd, bindings.file)})` : ""}, commands over ${commands}, state in ${shortPath(cwd, persist)}`,
  );
  const remoteCommandsUrl = new URL(REMOTE_COMMAND_PATH, worker.url);
  logger.info(
    `remote commands on ${remoteCommandsUrl.href}, signed with ${
      givenSecret
        ? "CONTAINERFLARE_SECRET"
        : "a secret made up for this session (set CONTAINERFLARE_SECRET to use them from another process)"
    }`,
  );
  const ready = app.start().then((started) => {
    if (started) logger.success(`ready on ${worker.url.href}`);
    else logger.warn(`listening on ${worker.url.href}, but the app is not running yet`);
    return started;
  });
  const triggerCron = options.triggerCron;
  if (triggerCron !== undefined) void ready.then((started) => started && runScheduled(worker, triggerCron, logger));

  let closing: Promise<void> | undefined;
  return {
    url: worker.url,
    commandsUrl: worker.commandsUrl,
    remoteCommandsUrl,
    appUrl,
    bindings,
    app,
    ready,
    scheduled: (cron) => runScheduled(worker, cron, logger),
    close() {
      return (closing ??= (async () => {
        stopWatching();
        await app.stop();
        await appState.flush();
        await worker.dispose();
        logger.info("stopped");
      })());
    },
  };
}

/** What {@link startDev} has worked out before it starts either kind of session. */
interface SessionContext {
  options: DevOptions;
  cwd: string;
  logger: ConsolaInstance;
  entryPath: string;
  entryName: string;
  bindings: DevBindings;
  binary: string;
  commands: "http" | "stdio";
  persist: string;
  host: string;
  secret: string;
}

/**
 * `containerflare dev` with the app's own Worker: its `main` in workerd with every container
 * class on dev's `ctx.container`, whose containers are app processes started on demand (one per
 * Durable Object, at most `max_instances` per class) and stopped when the Worker stops them or
 * they sit idle past their inactivity timeout. A change to a file the Worker is built from
 * reloads the Worker (and stops the instances, as a deploy would); any other change beside the
 * app restarts the running instances.
 */
async function startWithUserWorker(context: SessionContext, main: UserWorker): Promise<DevSession> {
  const { options, cwd, logger, bindings, secret, commands } = context;
  const configFile = bindings.file ? relative(cwd, bindings.file) || bindings.file : "wrangler.jsonc";
  const tokenKey = randomBytes(32);
  let outboundUrl: URL | undefined;
  const instances = createContainerInstances({
    classes: main.containers,
    tokenKey,
    outboundUrl: () => outboundUrl!,
    logger,
    spawn: (instance) =>
      createAppProcess({
        runtime: options.runtime,
        binary: context.binary,
        entryPath: context.entryPath,
        entryName: context.entryName,
        port: instance.port,
        env: appEnvironment({
          base: process.env,
          // The container has the secret only when the Worker passed it in `start({ env })`.
          secret: undefined,
          commandEndpoint: commands === "stdio" ? "stdio" : instance.commandEndpoint,
          durableObjectId: instance.id,
          extra: { ...options.env, ...instance.env },
        }),
        commands,
        logger: logger.withTag(instance.label),
        restartOnExit: false,
        onExit: instance.onExit,
        ...(commands === "stdio"
          ? { onSpawn: (child) => bridgeStdio(child, { url: instance.commandEndpoint, secret }) }
          : {}),
      }),
  });
  const userWorkerMain = (bundle: UserWorkerBundle): UserWorkerMain => ({
    bundle,
    containers: main.containers,
    objects: main.objects,
    settings: {
      tokenKey: tokenKey.toString("hex"),
      classes: Object.fromEntries(main.containers.map(({ className, binding }) => [className, { binding }])),
      consumedQueues: consumedQueues(bindings.sections.queues as Parameters<typeof consumedQueues>[0]),
    },
    supervise: (request) => instances.handle(request),
  });
  let bundle = await bundleUserWorker(main, configFile);
  const workerOptions = (current: UserWorkerBundle): DevWorkerOptions => ({
    bindings,
    host: context.host,
    port: options.port ?? 8787,
    persist: context.persist,
    secret,
    userWorker: userWorkerMain(current),
  });
  const worker = await startDevWorker(workerOptions(bundle));
  outboundUrl = worker.commandsUrl;

  let reloading: Promise<void> = Promise.resolve();
  const reloadWorker = () =>
    (reloading = reloading.then(async () => {
      let next: UserWorkerBundle;
      try {
        next = await bundleUserWorker(main, configFile);
      } catch (error) {
        logger.error(`${errorLine(error)}; the Worker keeps running as it was`);
        return;
      }
      // No new instance until the new Worker runs: the old one's would be unknown to it.
      instances.holdStarts(true);
      try {
        await instances.stopAll();
        await worker.miniflare.setOptions(devWorkerOptions({ ...workerOptions(next), workers: worker.workers }));
        bundle = next;
        outboundUrl = await worker.miniflare.unsafeGetDirectURL(undefined, OUTBOUND_ENTRYPOINT);
        logger.success("the Worker reloaded");
      } catch (error) {
        logger.error(`cannot reload the Worker: ${errorLine(error)}`);
      } finally {
        instances.holdStarts(false);
      }
    }));

  const watched = [...new Set([dirname(context.entryPath), dirname(main.main)])];
  const stopWatching =
    options.watch === false
      ? () => {}
      : watchAll(watched, context.persist, (paths) => {
          const shown = `${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ", …" : ""}`;
          if (paths.some((path) => bundle.inputs.has(resolve(path)))) {
            logger.info(`${shown} changed: reloading the Worker`);
            void reloadWorker();
          } else if (instances.list().length > 0) {
            logger.info(`${shown} changed: restarting the app's instances`);
            void instances.restartAll();
          }
        });

  const workerName = relative(cwd, main.main) || main.main;
  const classes = main.containers.map((entry) => `${entry.className} (max ${entry.maxInstances})`).join(", ");
  logger.info(
    `${workerName} (your Worker) in workerd, bindings: ${describeBindings(bindings)}` +
      `${bindings.file ? ` (from ${configFile})` : ""}, state in ${shortPath(cwd, context.persist)}`,
  );
  logger.info(
    `containers ${classes}: ${context.entryName} on ${options.runtime}, one process per instance, started on its first request`,
  );
  logger.success(`ready on ${worker.url.href}`);
  if (options.triggerCron !== undefined) void runScheduled(worker, options.triggerCron, logger);

  let closing: Promise<void> | undefined;
  return {
    url: worker.url,
    commandsUrl: worker.commandsUrl,
    remoteCommandsUrl: new URL(REMOTE_COMMAND_PATH, worker.url),
    bindings,
    instances,
    ready: Promise.resolve(true),
    scheduled: (cron) => runScheduled(worker, cron, logger),
    close() {
      return (closing ??= (async () => {
        stopWatching();
        await reloading;
        await instances.stopAll();
        await worker.dispose();
        logger.info("stopped");
      })());
    },
  };
}

/** Watches every directory of `directories`, as one watcher: changed paths are absolute. */
function watchAll(directories: string[], ignore: string, onChange: (paths: string[]) => void): () => void {
  const stops = directories.map((directory) =>
    watchDirectory(directory, (paths) => onChange(paths.map((path) => resolve(directory, path))), { ignore: [ignore] }),
  );
  return () => {
    for (const stop of stops) stop();
  };
}
