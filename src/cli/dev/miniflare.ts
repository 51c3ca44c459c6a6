import { relative } from "node:path";
import { build } from "esbuild";
import type { Miniflare, MiniflareOptions, WorkerOptions } from "miniflare";
import { firstBuildError } from "../entry.ts";
import { CliError, errorLine } from "../errors.ts";
import { WORKER_BUILD_OPTIONS } from "./bundle.ts";
import { type DevContainerSettings, SETTINGS_BINDING, SUPERVISOR_BINDING } from "./container-stand-in.ts";
import { MODULES_ROOT, OUTBOUND_ENTRYPOINT, type UserWorkerBundle } from "./user-worker.ts";
import type { DevWorkerSettings } from "./worker.ts";
import { type DevBindings, type DevWorkerScript, devMiniflareOptions, type UserWorker } from "./wrangler.ts";

/** Compatibility date used when the app's configuration has none. */
export const DEFAULT_COMPATIBILITY_DATE = "2025-09-01";

/** Name of the dev Worker's entrypoint that serves the command host. */
export const COMMANDS_ENTRYPOINT = "commandsEntrypoint";

/** Options of {@link startDevWorker}: dev's own Worker (`script`, `settings`), or the app's (`userWorker`). */
export type DevWorkerOptions = CommonDevWorkerOptions &
  (
    | {
        /** The bundled dev Worker (see `bundleWorker`). */
        script: string;
        settings: DevWorkerSettings;
        userWorker?: undefined;
      }
    | { userWorker: UserWorkerMain; script?: undefined; settings?: undefined }
  );

/** The app's own Worker, as dev runs it in place of its built-in one. */
export interface UserWorkerMain {
  bundle: UserWorkerBundle;
  /** Its `containers` classes. */
  containers: UserWorker["containers"];
  /** Its own Durable Object namespaces (see {@link UserWorker.objects}). */
  objects: UserWorker["objects"];
  /** What the stand-ins and the outbound entrypoint read. */
  settings: DevContainerSettings;
  /** Answers the stand-ins' process requests (runs in Node: a Miniflare service function). */
  supervise(request: Request): Promise<Response>;
}

/** What both kinds of dev Worker take. */
interface CommonDevWorkerOptions {
  /** The app's bindings, from its wrangler.jsonc. */
  bindings: DevBindings;
  /** Address and port of the dev server. */
  host: string;
  port: number;
  /** Absolute directory under which KV, D1 and R2 data persist. */
  persist: string;
  /** The secret shared with the app. */
  secret: string;
  /**
   * The Workers that run beside the dev Worker (`bindings.workers`: services, homes of Durable
   * Object classes), bundled; {@link startDevWorker} bundles them when absent.
   */
  workers?: BundledWorker[];
}

/** A Worker of `containerflare.workers`, bundled into one module. */
export interface BundledWorker extends Omit<DevWorkerScript, "script"> {
  /** The bundled module's text. */
  code: string;
}

/** A running dev Worker. */
export interface DevWorker {
  /** Where requests to the app go in. */
  url: URL;
  /**
   * The command host: `CF_CMD_ENDPOINT` of the app. With the app's own Worker, the outbound
   * socket the instances' command routes are under.
   */
  commandsUrl: URL;
  miniflare: Miniflare;
  /** The Workers beside it, bundled (a reload with `setOptions` passes them again). */
  workers: BundledWorker[];
  dispose(): Promise<void>;
}

/**
 * Miniflare options for the dev Worker: each binding kind's options from its wrangler.jsonc
 * section (the registry's dev sections: vars, KV, D1, Queues with a consumer that logs every
 * queue the app produces to, R2, assets; persisted under `persist`, like `wrangler dev` does under
 * .wrangler/state), and the command host on a socket of its own. When bindings name other
 * Workers (services, Durable Object classes of `script_name`), those run beside it from
 * `containerflare.workers`, and Durable Objects persist under `persist` too.
 */
export function devWorkerOptions(options: DevWorkerOptions): MiniflareOptions {
  const single = options.userWorker
    ? userWorkerOnlyOptions(options, options.userWorker)
    : devWorkerOnlyOptions(options);
  const workers = options.workers ?? [];
  if (workers.length === 0) return single;
  // Several Workers: the options every Worker shares go on top, each Worker's in `workers`, the
  // dev Worker first (it owns the dev port).
  const shared: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(single)) (isSharedOption(key) ? shared : own)[key] = value;
  const compatibilityDate = options.bindings.compatibilityDate ?? DEFAULT_COMPATIBILITY_DATE;
  return {
    ...shared,
    workers: [
      own as WorkerOptions,
      ...workers.map(
        (worker): WorkerOptions => ({
          name: worker.name,
          modules: true,
          script: worker.code,
          compatibilityDate: worker.compatibilityDate ?? compatibilityDate,
          compatibilityFlags: worker.compatibilityFlags ?? [],
        }),
      ),
    ],
  } as MiniflareOptions;
}

/** Miniflare options shared by every Worker rather than given per Worker: the server's and where each store persists. */
function isSharedOption(key: string): boolean {
  return key === "host" || key === "port" || key === "cf" || key.endsWith("Persist");
}

/** The dev Worker's options, alone: what dev runs when no binding names another Worker. */
function devWorkerOnlyOptions(
  options: DevWorkerOptions & { script: string; settings: DevWorkerSettings },
): MiniflareOptions {
  const { bindings } = options;
  const kinds = devMiniflareOptions(bindings, options.persist);
  return {
    host: options.host,
    port: options.port,
    // Miniflare's placeholder `request.cf` (colo DFW, country US, …) instead of a download.
    cf: false,
    modules: true,
    script: options.script,
    compatibilityDate: bindings.compatibilityDate ?? DEFAULT_COMPATIBILITY_DATE,
    compatibilityFlags: bindings.compatibilityFlags,
    ...kinds,
    bindings: {
      ...(kinds.bindings as Record<string, never>),
      CONTAINERFLARE_SECRET: options.secret,
      CONTAINERFLARE_DEV: options.settings as unknown as never,
    },
    // `/cdn-cgi/handler/scheduled?cron=…` on the dev port runs `scheduled`, as with wrangler dev.
    unsafeTriggerHandlers: true,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0, entrypoint: COMMANDS_ENTRYPOINT }],
  };
}

/**
 * The app's own Worker's options, alone: its bindings as dev provides them, its own Durable
 * Object classes (SQLite-backed, like `new_sqlite_classes`; a container class without a binding
 * gets one of dev's, so that a namespace reaches it), the dev secret as `CONTAINERFLARE_SECRET`
 * unless the configuration sets one, the process supervisor, and the outbound socket.
 */
function userWorkerOnlyOptions(options: DevWorkerOptions, user: UserWorkerMain): MiniflareOptions {
  const { bindings } = options;
  const kinds = devMiniflareOptions(bindings, options.persist);
  const own = Object.fromEntries(
    user.objects.map((entry) => [entry.binding, { className: entry.className, useSQLite: true }]),
  );
  const values = (kinds.bindings ?? {}) as Record<string, unknown>;
  return {
    host: options.host,
    port: options.port,
    cf: false,
    modules: user.bundle.modules,
    modulesRoot: MODULES_ROOT,
    compatibilityDate: bindings.compatibilityDate ?? DEFAULT_COMPATIBILITY_DATE,
    compatibilityFlags: bindings.compatibilityFlags,
    ...kinds,
    durableObjects: { ...(kinds.durableObjects as Record<string, unknown>), ...own },
    durableObjectsPersist: `${options.persist}/do`,
    bindings: {
      ...(values as Record<string, never>),
      ...("CONTAINERFLARE_SECRET" in values ? {} : { CONTAINERFLARE_SECRET: options.secret }),
      [SETTINGS_BINDING]: user.settings as unknown as never,
    },
    serviceBindings: {
      ...(kinds.serviceBindings as Record<string, never>),
      [SUPERVISOR_BINDING]: (request: Request) => user.supervise(request),
    },
    // `/cdn-cgi/handler/scheduled?cron=…` on the dev port runs `scheduled`, as with wrangler dev.
    unsafeTriggerHandlers: true,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0, entrypoint: OUTBOUND_ENTRYPOINT }],
  } as MiniflareOptions;
}

async function loadMiniflare(): Promise<typeof import("miniflare")> {
  try {
    return await import("miniflare");
  } catch (error) {
    throw new CliError(
      `containerflare dev needs the miniflare package (npm install -D miniflare): ${errorLine(error)}`,
    );
  }
}

const EXIT_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Runs `start` and removes the SIGINT/SIGTERM listeners it added. Miniflare's exit hook calls
 * `process.exit()` on those signals at once, before the app child could be stopped; the dev
 * command handles them itself and disposes Miniflare (whose `exit` listener, which kills
 * workerd, stays as a safety net).
 */
async function withoutSignalExits<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(EXIT_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  try {
    return await start();
  } finally {
    for (const signal of EXIT_SIGNALS) {
      for (const listener of process.listeners(signal))
        if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
}

/**
 * Bundles a Worker of `containerflare.workers` into one ES module for workerd: `cloudflare:*`
 * and `node:*` imports left to workerd (the latter work with the Worker's `nodejs_compat` flag).
 */
export async function bundleDevWorker(worker: DevWorkerScript): Promise<BundledWorker> {
  const result = await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [worker.script] }).catch((error: unknown) => {
    throw new CliError(
      `cannot bundle the Worker "${worker.name}" (${relative(process.cwd(), worker.script) || worker.script}): ${firstBuildError(error)}`,
    );
  });
  const { script: _script, ...rest } = worker;
  return { ...rest, code: result.outputFiles[0]!.text };
}

/** Starts the dev Worker in workerd; a port in use or a bad binding is one {@link CliError} line. */
export async function startDevWorker(options: DevWorkerOptions): Promise<DevWorker> {
  const { Miniflare } = await loadMiniflare();
  const workers = options.workers ?? (await Promise.all((options.bindings.workers ?? []).map(bundleDevWorker)));
  let miniflare: Miniflare | undefined;
  try {
    const url = await withoutSignalExits(() => {
      miniflare = new Miniflare(devWorkerOptions({ ...options, workers }));
      return miniflare.ready;
    });
    const running = miniflare!;
    const commandsUrl = options.userWorker
      ? await running.unsafeGetDirectURL(undefined, OUTBOUND_ENTRYPOINT)
      : new URL("/v1/commands", await running.unsafeGetDirectURL(undefined, COMMANDS_ENTRYPOINT));
    return { url, commandsUrl, miniflare: running, workers, dispose: () => running.dispose() };
  } catch (error) {
    await miniflare?.dispose().catch(() => {});
    const line = errorLine(error);
    if (/EADDRINUSE|address already in use/i.test(line)) {
      throw new CliError(`port ${options.port} on ${options.host} is in use: pass --port to pick another`);
    }
    throw new CliError(`cannot start workerd (Miniflare): ${line}`);
  }
}
