#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
/**
 * The `containerflare` command line: `serve`, `build` (and `dev`). Each subcommand lives in its
 * own module and is loaded only when it runs.
 *
 * @module
 */
import { type CommandDef, defineCommand, runCommand, runMain, type SubCommandsDef } from "citty";
import { exitWithError } from "./errors.ts";

/** containerflare's version, from the package.json above this file (src/cli or dist/src/cli). */
function packageVersion(): string {
  for (let directory = dirname(fileURLToPath(import.meta.url)); ; directory = dirname(directory)) {
    const file = join(directory, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "containerflare" && pkg.version) return pkg.version;
    }
    if (dirname(directory) === directory) return "0.0.0";
  }
}

// Subcommands, each in its own module and loaded only when it runs: register new ones here.
const subCommands: SubCommandsDef = {
  serve: () => import("./serve.ts").then((module) => module.serveCommand),
  build: () => import("./build.ts").then((module) => module.buildCommand),
  dev: () => import("./dev.ts").then((module) => module.devCommand),
};

const main: CommandDef = defineCommand({
  meta: {
    name: "containerflare",
    version: packageVersion(),
    description:
      "Run a fetch-style app in one container image on Cloudflare Containers and Cloud Run (node, bun or deno)",
  },
  subCommands,
});

const HELP_FLAGS = new Set(["--help", "-h"]);
const VERSION_FLAGS = new Set(["--version", "-v"]);

/**
 * Runs the CLI with `rawArgs`. Help and version go through citty; every failure prints a single
 * `containerflare: <what went wrong>` line and exits with status 1.
 */
async function runCli(rawArgs: string[] = process.argv.slice(2)): Promise<void> {
  const wantsHelp = rawArgs.length === 0 || rawArgs.some((arg) => HELP_FLAGS.has(arg));
  if (wantsHelp || (rawArgs.length === 1 && VERSION_FLAGS.has(rawArgs[0]!))) {
    await runMain(main, { rawArgs: wantsHelp && rawArgs.length === 0 ? ["--help"] : rawArgs });
    return;
  }
  try {
    await runCommand(main, { rawArgs });
  } catch (error) {
    exitWithError(error);
  }
}

await runCli();
