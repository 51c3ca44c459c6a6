/**
 * One R2 round trip of bench/fixtures/r2/app.ts through `containerflare dev`, with the app
 * process's memory watched: a PUT of N generated MiB, then a GET that streams it back and hashes
 * it, then a DELETE, as three requests so that each phase gets its own peak. The peak of a phase
 * is VmHWM of the app process (reset through /proc/<pid>/clear_refs when the phase starts) or the
 * highest VmRSS sampled every 20 ms, whichever is higher. Shared by bench/dev.ts and
 * test/integration/r2-large.test.ts.
 */
import { resetPeakRss, sampleRss, statusMiB } from "./proctree.ts";

/** What one round trip measured; `failure` says which step went wrong. */
export interface RoundTrip {
  mib: number;
  failure?: string;
  bytesBack?: number;
  /** The SHA-256 of the bytes sent equals the one of the bytes read back. */
  same?: boolean;
  /** The app's own timings of its put and its get (ms). */
  putMs?: number;
  getMs?: number;
  /** Wall time of the two requests, seen from the harness (ms). */
  wallMs?: number;
  rssBeforeMiB: number;
  putPeakMiB?: number;
  rssBetweenMiB?: number;
  getPeakMiB?: number;
  /** Highest peak of either phase minus the RSS before the put: the bound of issue 12. */
  growthMiB?: number;
  /** Each phase's peak minus the RSS at its start. */
  putGrowthMiB?: number;
  getGrowthMiB?: number;
  /** Whether the kernel let us reset VmHWM (else the sampled peaks alone count). */
  hwmReset: boolean;
}

interface Answer {
  status: number;
  text: string;
}

/** One request to the app while watching `pid`: its answer (or error) and the phase's peak RSS. */
async function watched(
  pid: number,
  url: string,
  method: string,
  timeoutMs: number,
): Promise<{ answer?: Answer; error?: Error; peakMiB: number }> {
  const reset = resetPeakRss(pid);
  const sampler = sampleRss(pid);
  let answer: Answer | undefined;
  let error: Error | undefined;
  try {
    const response = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) });
    answer = { status: response.status, text: await response.text() };
  } catch (caught) {
    error = caught as Error;
  }
  const sampled = sampler.stop().peakMiB;
  return { answer, error, peakMiB: Math.max(sampled, reset ? statusMiB(pid, "VmHWM") : Number.NEGATIVE_INFINITY) };
}

/** The answer's JSON, or an error naming the step, its status and body. */
function answerOf<T>(step: string, phase: { answer?: Answer; error?: Error }): T {
  if (phase.error) throw new Error(`${step} failed: ${phase.error.message}`);
  const { status, text } = phase.answer!;
  if (status !== 200) throw new Error(`${step} answered ${status}: ${text.slice(0, 400)}`);
  return JSON.parse(text) as T;
}

/** One round trip of `mib` MiB against the app at `url` (the dev port), app process `pid`. */
export async function measureRoundTrip(url: string, pid: number, mib: number, timeoutMs: number): Promise<RoundTrip> {
  const key = `bench-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const result: RoundTrip = { mib, rssBeforeMiB: statusMiB(pid, "VmRSS"), hwmReset: resetPeakRss(pid) };
  const started = performance.now();
  try {
    const put = await watched(pid, `${url}/objects/${key}?mib=${mib}`, "PUT", timeoutMs);
    result.putPeakMiB = put.peakMiB;
    result.putGrowthMiB = put.peakMiB - result.rssBeforeMiB;
    const stored = answerOf<{ sha256: string; ms: number }>("PUT", put);
    result.putMs = stored.ms;

    result.rssBetweenMiB = statusMiB(pid, "VmRSS");
    const get = await watched(pid, `${url}/objects/${key}/digest`, "GET", timeoutMs);
    result.getPeakMiB = get.peakMiB;
    result.getGrowthMiB = get.peakMiB - result.rssBetweenMiB;
    const read = answerOf<{ bytes: number; sha256: string; ms: number }>("GET", get);
    result.getMs = read.ms;
    result.bytesBack = read.bytes;
    result.same = read.sha256 === stored.sha256 && read.bytes === mib * 2 ** 20;
    if (!result.same) throw new Error(`the object came back different: ${read.bytes} bytes, sha256 ${read.sha256}`);
  } catch (error) {
    result.failure = (error as Error).message;
  } finally {
    result.wallMs = performance.now() - started;
    const peaks = [result.putPeakMiB, result.getPeakMiB].filter((peak): peak is number => peak !== undefined);
    if (peaks.length > 0) result.growthMiB = Math.max(...peaks) - result.rssBeforeMiB;
    await fetch(`${url}/objects/${key}`, { method: "DELETE", signal: AbortSignal.timeout(30_000) }).catch(() => {});
  }
  return result;
}
