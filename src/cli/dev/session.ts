import { randomBytes } from "node:crypto";
import { dirname, relative, resolve } from "node:path";
import { type ConsolaInstance, consola } from "consola";
import { resolveEntry } from "../entry.ts";
import { CliError } from "../errors.ts";
import { findRuntimeBinary, type RuntimeName } from "../runtime.ts";
import { type AppProcess, createAppProcess } from "./app-process.ts";
import { APP_STATE_PATH, createAppStatePusher } from "./app-state.ts";
import { bundleWorker } from "./bundle.ts";
import { type DevWorker, startDevWorker } from "./miniflare.ts";
import { freePort } from "./ports.ts";
import { bridgeStdio } from "./stdio-bridge.ts";
import { watchDirectory } from "./watch.ts";
import { type DevBindings, declaredBindingKinds, readDevBindings } from "./wrangler.ts";

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
   * else a random one per session.
   */
  secret?: string;
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
  /** The app's own loopback address. */
  appUrl: string;
  /** The bindings read from the app's configuration. */
  bindings: DevBindings;
  /** The running app process. */
  app: AppProcess;
  /** Resolves once the app first listens (true), or with false when it did not start. */
  ready: Promise<boolean>;
  /** Stops the watcher, the app and workerd. */
  close(): Promise<void>;
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
  secret: string;
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
    CF_CMD_ENDPOINT: options.commandEndpoint,
    CONTAINERFLARE_SECRET: options.secret,
    ...options.extra,
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
 * Starts `containerflare dev`: the app's bindings in workerd (Miniflare), the containerflare
 * Worker in front of the app, and the app under its runtime as a child process that restarts
 * when its files change.
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

  let closing: Promise<void> | undefined;
  return {
    url: worker.url,
    commandsUrl: worker.commandsUrl,
    remoteCommandsUrl,
    appUrl,
    bindings,
    app,
    ready,
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
