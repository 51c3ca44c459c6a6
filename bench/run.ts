/**
 * `npm run bench`: the HTTP benchmark (bench/http.ts), then the command-bus benchmark
 * (bench/commands.ts), then the `containerflare dev` benchmark (bench/dev.ts: a KV read against a
 * plain Worker, a 256 MiB R2 round trip), then the WebSocket benchmark (bench/websocket.ts: an
 * echo over 64 sockets against bare crossws on each runtime). Each runs in its own Node process,
 * one after the other, so they never load the machine at the same time and each writes its own
 * part of docs/bench.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const steps = ["http.ts", "commands.ts", "dev.ts", "websocket.ts"]
  .map((file) => join(here, file))
  .filter((file) => existsSync(file));

let failed = 0;
const started = performance.now();
for (const step of steps) {
  console.log(`bench: running ${step.slice(here.length + 1)} with node ${process.version}`);
  const run = spawnSync(process.execPath, [step, ...process.argv.slice(2)], { stdio: "inherit" });
  if (run.status !== 0) {
    failed++;
    console.error(
      `bench: ${step.slice(here.length + 1)} failed (${run.error?.message ?? run.signal ?? `exit ${run.status}`})`,
    );
  }
}
console.log(`bench: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = failed ? 1 : 0;
