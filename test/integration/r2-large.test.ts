/**
 * A 256 MiB R2 object round-trips through `containerflare dev` (the real CLI from dist/, the app
 * on Node, R2 in workerd) while the app process's RSS grows by less than 64 MiB: the body is
 * streamed both ways, never held whole (issue 12, item 2). The app is the benchmark's
 * (bench/fixtures/r2/app.ts): it PUTs an object generated 1 MiB at a time, GETs it back as a
 * stream and compares SHA-256 digests. The peak is VmHWM of the app process, reset through
 * /proc/<pid>/clear_refs right before the round trip, cross-checked by sampling VmRSS.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyApp, type DevCli, startDevCli } from "../../bench/lib/dev-cli.ts";
import { resetPeakRss, sampleRss, statusMiB } from "../../bench/lib/proctree.ts";
import { ROOT } from "./runtimes.ts";

const MIB = 256;
const RSS_GROWTH_LIMIT_MIB = 64;

const created: string[] = [];
afterAll(() => {
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

describe.skipIf(process.platform !== "linux")("R2 through containerflare dev: a large object", () => {
  it(`round-trips ${MIB} MiB on node with the app's RSS growth < ${RSS_GROWTH_LIMIT_MIB} MiB`, async () => {
    const directory = copyApp(ROOT, join(ROOT, "bench", "fixtures", "r2"), `r2-large-${process.pid}`);
    created.push(directory);
    let dev: DevCli | undefined;
    try {
      dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", readyTimeoutMs: 30_000 });
      const pid = dev.appPid();
      expect(pid, dev.output.join("\n")).toBeTypeOf("number");

      // A small round trip first, so that the measured one starts from a warm app.
      const warm = await fetch(`${dev.url}/roundtrip?mib=1`, { method: "POST", signal: AbortSignal.timeout(15_000) });
      expect(warm.status, await warm.clone().text()).toBe(200);
      expect(await warm.json()).toMatchObject({ bytes: 2 ** 20, same: true });

      const before = statusMiB(pid!, "VmRSS");
      const reset = resetPeakRss(pid!);
      const sampler = sampleRss(pid!);
      let status = 0;
      let text = "";
      let sampled = Number.NaN;
      try {
        const response = await fetch(`${dev.url}/roundtrip?mib=${MIB}`, {
          method: "POST",
          signal: AbortSignal.timeout(40_000),
        });
        status = response.status;
        text = await response.text();
      } finally {
        sampled = sampler.stop().peakMiB;
      }
      const peak = Math.max(sampled, reset ? statusMiB(pid!, "VmHWM") : Number.NEGATIVE_INFINITY);
      const growth = peak - before;

      expect(status, text).toBe(200);
      expect(JSON.parse(text)).toMatchObject({ bytes: MIB * 2 ** 20, size: MIB * 2 ** 20, same: true });
      expect(growth, `RSS ${before.toFixed(1)} MiB before, peak ${peak.toFixed(1)} MiB`).toBeLessThan(
        RSS_GROWTH_LIMIT_MIB,
      );
    } finally {
      await dev?.stop();
    }
  }, 75_000);
});
