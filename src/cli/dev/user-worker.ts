/**
 * The app's own Worker under `containerflare dev`: its `main` bundled as it is, and an entry module
 * around it that exports everything it exports, with each `containers` class replaced by the same
 * class on dev's `ctx.container` (container-stand-in.ts), plus the loopback entrypoint the app
 * processes' command bus arrives at.
 *
 * @module
 */
import { relative, resolve } from "node:path";
import { build } from "esbuild";
import { firstBuildError, siblingModule } from "../entry.ts";
import { CliError } from "../errors.ts";
import { bundleWorker, WORKER_BUILD_OPTIONS } from "./bundle.ts";
import type { UserWorker } from "./wrangler.ts";

/** The entrypoint name of the outbound socket (an export of the generated entry module). */
export const OUTBOUND_ENTRYPOINT = "__containerflareDevOutbound";

/** A module of the Worker as Miniflare takes it. */
export interface WorkerModule {
  type: "ESModule";
  /** Its path inside the Worker (the entry imports the others by these names). */
  path: string;
  contents: string;
}

/** The Worker as dev runs it. */
export interface UserWorkerBundle {
  /** The entry module first. */
  modules: WorkerModule[];
  /** Absolute paths of the files the Worker was built from: a change to one reloads it. */
  inputs: Set<string>;
}

/** Where the Worker's module paths start (Miniflare's `modulesRoot`): workerd resolves the entry's imports against them. */
export const MODULES_ROOT = "/containerflare-dev";
const ROOT = MODULES_ROOT;
const ENTRY_PATH = `${ROOT}/entry.mjs`;
const USER_PATH = `${ROOT}/worker.mjs`;
const STAND_IN_PATH = `${ROOT}/container-stand-in.mjs`;

/** The stand-in module, bundled once per process (it is containerflare's own code, not the user's). */
let standIn: Promise<string> | undefined;

function bundleStandIn(): Promise<string> {
  standIn ??= bundleWorker(siblingModule("./container-stand-in", import.meta.url)).catch((error: unknown) => {
    standIn = undefined;
    throw error;
  });
  return standIn;
}

/** `export { X } from …` is a valid identifier export: a class name of wrangler.jsonc may not be. */
function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][\w$]*$/.test(name);
}

/**
 * The entry module: every export of the Worker (`export *`), the default one with a queue logger
 * when it has no `queue` handler, and each container class wired to the stand-in (a local export
 * wins over `export *`).
 */
export function entryModule(worker: UserWorker, exports: readonly string[]): string {
  const lines = [
    `import * as user from "./worker.mjs";`,
    `import { devContainerClass, devOutbound, withQueueLog } from "./container-stand-in.mjs";`,
    `export * from "./worker.mjs";`,
  ];
  if (exports.includes("default")) lines.push("export default withQueueLog(user.default);");
  for (const { className } of worker.containers)
    lines.push(`export const ${className} = devContainerClass(user.${className}, ${JSON.stringify(className)});`);
  lines.push(`export const ${OUTBOUND_ENTRYPOINT} = devOutbound;`);
  return `${lines.join("\n")}\n`;
}

/**
 * Bundles the app's Worker for dev. A container class the Worker does not export, or a Worker on
 * `@cloudflare/containers` without `export { ContainerProxy }`, is one {@link CliError} line.
 */
export async function bundleUserWorker(worker: UserWorker, configFile: string): Promise<UserWorkerBundle> {
  const shown = relative(process.cwd(), worker.main) || worker.main;
  const result = await build({ ...WORKER_BUILD_OPTIONS, entryPoints: [worker.main], metafile: true }).catch(
    (error: unknown) => {
      throw new CliError(`cannot bundle the Worker ${shown}: ${firstBuildError(error)}`);
    },
  );
  const output = Object.values(result.metafile.outputs)[0];
  const exports = output?.exports ?? [];
  for (const { className } of worker.containers) {
    if (!isIdentifier(className) || !exports.includes(className)) {
      const named = exports.filter((name) => name !== "default");
      throw new CliError(
        `${configFile}: containers names the class "${className}", but ${shown} does not export it (it exports ${named.length > 0 ? named.join(", ") : "nothing by name"})`,
      );
    }
  }
  const inputs = new Set(Object.keys(result.metafile.inputs).map((path) => resolve(path)));
  const onContainersPackage = [...inputs].some((path) => path.includes("/node_modules/@cloudflare/containers/"));
  if (onContainersPackage && !exports.includes("ContainerProxy")) {
    throw new CliError(
      `${shown} uses @cloudflare/containers but does not export ContainerProxy: add \`export { ContainerProxy } from "@cloudflare/containers";\` (the container's outbound requests reach their handlers through it)`,
    );
  }
  return {
    modules: [
      { type: "ESModule", path: ENTRY_PATH, contents: entryModule(worker, exports) },
      { type: "ESModule", path: USER_PATH, contents: result.outputFiles[0]!.text },
      { type: "ESModule", path: STAND_IN_PATH, contents: await bundleStandIn() },
    ],
    inputs,
  };
}
