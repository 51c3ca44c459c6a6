import { defineCommand } from "citty";
import * as v from "valibot";
import { exitProcess } from "../exit.ts";
import { type DevSession, startDev } from "./dev/session.ts";
import { CliError } from "./errors.ts";
import { parseRuntime, RUNTIMES } from "./runtime.ts";
import { ENTRY_ARG, parsePort } from "./serve.ts";

const commandsSchema = v.picklist(["http", "stdio"]);
const workerSchema = v.picklist(["main", "builtin"]);

/** Validates `--worker`. */
export function parseWorkerMode(value: string | undefined): "main" | "builtin" {
  if (value === undefined || value === "") return "main";
  const result = v.safeParse(workerSchema, value.trim().toLowerCase());
  if (!result.success) throw new CliError(`unknown --worker "${value}": expected main or builtin`);
  return result.output;
}

/** Validates `--commands`. */
export function parseCommandsMode(value: string | undefined): "http" | "stdio" {
  if (value === undefined || value === "") return "http";
  const result = v.safeParse(commandsSchema, value.trim().toLowerCase());
  if (!result.success) throw new CliError(`unknown --commands "${value}": expected http or stdio`);
  return result.output;
}

/**
 * Stops everything once on SIGINT/SIGTERM/SIGHUP, also while the session is still starting, then
 * exits; a second signal exits at once.
 */
function stopOnSignals(starting: Promise<DevSession>): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) exitProcess(1);
    stopping = true;
    starting
      .then((session) => session.close())
      .then(
        () => exitProcess(0),
        () => exitProcess(1),
      );
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
}

/**
 * `containerflare dev <entry> [--runtime node|bun|deno] [--port 8787] [--persist .containerflare]
 * [--commands http|stdio] [--config wrangler.jsonc] [--worker main|builtin]`
 */
export const devCommand = defineCommand({
  meta: {
    name: "dev",
    description:
      "Run the app locally behind the containerflare Worker in workerd, with the bindings of its wrangler.jsonc",
  },
  args: {
    entry: ENTRY_ARG,
    runtime: {
      type: "string",
      valueHint: RUNTIMES.join("|"),
      description: "Runtime to run the app with (default: node)",
    },
    port: { type: "string", default: "8787", valueHint: "N", description: "Port of the dev server" },
    persist: {
      type: "string",
      default: ".containerflare",
      valueHint: "dir",
      description: "Where KV, D1 and R2 data are kept",
    },
    commands: {
      type: "string",
      default: "http",
      valueHint: "http|stdio",
      description: "How the app reaches the command host",
    },
    config: { type: "string", valueHint: "file", description: "The app's wrangler.jsonc (default: next to the entry)" },
    worker: {
      type: "string",
      default: "main",
      valueHint: "main|builtin",
      description:
        "main: the Worker wrangler.jsonc names (`main` with `containers`), else dev's own; builtin: always dev's own Worker",
    },
    "trigger-cron": {
      type: "string",
      valueHint: "cron",
      description:
        'Run the Worker\'s scheduled handler once the app is ready, as the Cron Trigger "<cron>" would (also: /cdn-cgi/handler/scheduled?cron=… on the dev port)',
    },
    watch: {
      type: "boolean",
      default: true,
      description: "Restart the app when its files change",
      negativeDescription: "Do not watch files",
    },
  },
  async run({ args }) {
    const starting = startDev({
      entry: args.entry,
      runtime: args.runtime ? parseRuntime(args.runtime) : "node",
      port: parsePort(args.port) ?? 8787,
      persist: args.persist,
      commands: parseCommandsMode(args.commands),
      worker: parseWorkerMode(args.worker),
      watch: args.watch,
      ...(args["trigger-cron"] !== undefined ? { triggerCron: args["trigger-cron"] } : {}),
      ...(args.config ? { config: args.config } : {}),
    });
    stopOnSignals(starting);
    await (await starting).ready;
  },
});
