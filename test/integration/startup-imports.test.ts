// What a server imports at start-up is a deliberate list (see src/index.ts): a hello-world server
// must not load the command client, the binding classes, the metadata verifier, the Google
// metadata server client or consola's fancy build. Checked on the repository's Node with a module
// hook that records every import; the import graph is the same JavaScript on Bun and Deno.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN, ROOT } from "../fixtures/cli/harness.ts";

const HOOK = `${ROOT}test/fixtures/serve/record-imports.mjs`;
const APP = `${ROOT}test/fixtures/serve/hello.mjs`;

/** The modules of this package and of its dependencies that `hello.mjs` imported, relative to the root. */
function importsOf(...args: string[]): string[] {
  const run = spawnSync(`${BIN}/node`, ["--import", HOOK, APP, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CONTAINERFLARE_LOG_LEVEL: "warn" },
  });
  expect(run.status, run.stderr).toBe(0);
  const line = run.stderr.split("\n").find((text) => text.startsWith('{"imports"'));
  const { imports } = JSON.parse(line ?? '{"imports":[]}') as { imports: string[] };
  return imports.filter((url) => url.startsWith(`file://${ROOT}`)).map((url) => url.slice(`file://${ROOT}`.length));
}

const NEVER_AT_START_UP = [
  /^dist\/src\/command\//,
  /^dist\/src\/bindings\/[^/]+\/client\.js$/,
  /^dist\/src\/bindings\/env\.js$/,
  /^dist\/src\/metadata-header-verifier\.js$/,
  /^dist\/src\/hmac\.js$/,
  /^dist\/src\/replay-cache\.js$/,
  /^dist\/src\/gcp-metadata-server\.js$/,
  /^dist\/src\/internal\/(backoff|sleep)\.js$/,
  /^node_modules\/ofetch\//,
  /^node_modules\/consola\/dist\/index\.mjs$/,
];

describe("start-up imports", () => {
  it("a hello-world server loads none of the command bus, the verifier, ofetch or consola's fancy build", () => {
    const imports = importsOf();
    expect(imports).toContain("dist/src/serve.js");
    // Node's runtime part loads before the server listens.
    expect(imports).toContain("dist/src/serve/node.js");
    expect(imports.filter((path) => NEVER_AT_START_UP.some((pattern) => pattern.test(path)))).toEqual([]);
  });

  it("the command bus loads once a request touches ctx.env (so the check above can fail)", () => {
    const imports = importsOf("touch-env");
    expect(imports).toContain("dist/src/command/index.js");
    expect(imports.some((path) => /^dist\/src\/bindings\/kv\/client\.js$/.test(path))).toBe(true);
  });
});
