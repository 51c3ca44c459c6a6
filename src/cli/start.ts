import { exitProcess } from "../exit.ts";
import { type App, type ContainerServer, type ServeOptions, serve } from "../index.ts";

/** A one-line description of what an entry must export. */
const EXPECTED =
  'expected "export default (request, ctx) => Response" or "export default { fetch, scheduled, queue }" (any of the three)';

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return "an object without a fetch, scheduled or queue method";
  return typeof value;
}

/**
 * The app an entry module default-exports: a handler function or an object with `fetch`.
 * Throws a TypeError with a one-line message otherwise.
 */
export function appFromModule(module: Record<string, unknown>, entryName: string): App {
  const app = module.default;
  if (typeof app === "function") return app as App;
  if (typeof app === "object" && app !== null) {
    const { fetch, scheduled, queue } = app as Record<string, unknown>;
    if (typeof fetch === "function" || typeof scheduled === "function" || typeof queue === "function")
      return app as App;
  }
  if (app === undefined) throw new TypeError(`${entryName} has no default export: ${EXPECTED}`);
  throw new TypeError(`the default export of ${entryName} is ${describe(app)}: ${EXPECTED}`);
}

/**
 * Serves the default export of an entry module with containerflare's {@link serve}: what both
 * `containerflare serve` and the bundle from `containerflare build` run. An object's `websocket`
 * (crossws hooks, or `true`) is serve()'s `websocket` option. A bad export prints one line and
 * exits with status 1.
 */
export function startApp(
  module: Record<string, unknown>,
  entryName: string,
  options: ServeOptions = {},
): ContainerServer {
  let app: App;
  try {
    app = appFromModule(module, entryName);
  } catch (error) {
    // Not cli/errors.ts's exitWithError: bundles start here, and it imports node:util.
    exitProcess(1, (error as Error).message);
  }
  // `export default { fetch, websocket }` takes WebSocket upgrades, like `serve(app, { websocket })`.
  const websocket = (app as { websocket?: ServeOptions["websocket"] }).websocket;
  return serve(app, websocket !== undefined && options.websocket === undefined ? { ...options, websocket } : options);
}
