// What a server imports at start-up is a deliberate list (see src/index.ts): a hello-world server
// must not load the command client, the binding classes, the metadata verifier, the Google
// metadata server client or consola's fancy build. Checked on the repository's Node with a module
// hook that records every import; the import graph is the same JavaScript on Bun and Deno. The
// package's entries are bundles (scripts/bundle-entries.mjs): a loaded file of dist/ stands for
// the source files its source map names, so the checks below are about source files.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, ROOT } from "../fixtures/cli/harness.ts";

const HOOK = `${ROOT}test/fixtures/serve/record-imports.mjs`;
const APP = `${ROOT}test/fixtures/serve/hello.mjs`;

/** The modules of this package and of its dependencies that `hello.mjs` imported, relative to the root. */
function importsOf(args: string[] = [], env: Record<string, string> = {}): string[] {
  const run = spawnSync(`${BIN}/node`, ["--import", HOOK, APP, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CONTAINERFLARE_LOG_LEVEL: "warn", ...env },
  });
  expect(run.status, run.stderr).toBe(0);
  const line = run.stderr.split("\n").find((text) => text.startsWith('{"imports"'));
  const { imports } = JSON.parse(line ?? '{"imports":[]}') as { imports: string[] };
  const files = imports
    .filter((url) => url.startsWith(`file://${ROOT}`))
    .map((url) => url.slice(`file://${ROOT}`.length));
  return files.flatMap(sourcesOf);
}

/** The source files a loaded file holds: those its source map names, or the file itself. */
function sourcesOf(file: string): string[] {
  const map = `${ROOT}${file}.map`;
  if (!file.startsWith("dist/") || !existsSync(map)) return [file];
  const { sources } = JSON.parse(readFileSync(map, "utf8")) as { sources: string[] };
  return sources.map((source) => relative(ROOT, resolve(dirname(`${ROOT}${file}`), source)));
}

const NEVER_AT_START_UP = [
  /^src\/command\//,
  /^src\/bindings\/[^/]+\/client\.ts$/,
  /^src\/bindings\/env\.ts$/,
  /^src\/metadata-header-verifier\.ts$/,
  /^src\/hmac\.ts$/,
  /^src\/replay-cache\.ts$/,
  /^src\/gcp-metadata-server\.ts$/,
  /^src\/internal\/(backoff|sleep)\.ts$/,
  /^node_modules\/ofetch\//,
  // Cloud Run events: the receiver and jose load on the first Pub/Sub or Scheduler request.
  /^src\/events\/(cloud-run|cloud-run-receive|oidc)\.ts$/,
  /^node_modules\/jose\//,
  /^node_modules\/consola\/dist\/index\.mjs$/,
];

describe("start-up imports", () => {
  it("a hello-world server loads none of the command bus, the verifier, ofetch or consola's fancy build", () => {
    const imports = importsOf();
    expect(imports).toContain("src/serve.ts");
    // Node's runtime part loads before the server listens.
    expect(imports).toContain("src/serve/node.ts");
    expect(imports.filter((path) => NEVER_AT_START_UP.some((pattern) => pattern.test(path)))).toEqual([]);
  });

  // Deliberate: the structured console must be in place before the first request, so in the JSON
  // formats its module (and node:async_hooks) loads before listening, as a chunk of its own; a
  // server that wants neither it nor the uncaught-error lines (plain console, process not owned)
  // never loads it.
  it("the structured console loads before listening in JSON mode, and not with CONTAINERFLARE_CONSOLE=plain", () => {
    expect(importsOf([], { CONTAINERFLARE_LOG_FORMAT: "json" })).toContain("src/serve/console.ts");
    expect(importsOf([], { CONTAINERFLARE_LOG_FORMAT: "json", CONTAINERFLARE_CONSOLE: "plain" })).not.toContain(
      "src/serve/console.ts",
    );
    expect(importsOf([], { CONTAINERFLARE_LOG_FORMAT: "pretty" })).not.toContain("src/serve/console.ts");
  });

  it("the command bus loads once a request touches ctx.env (so the check above can fail)", () => {
    const imports = importsOf(["touch-env"]);
    expect(imports).toContain("src/command/client.ts");
    expect(imports).toContain("src/bindings/kv/client.ts");
  });
});
