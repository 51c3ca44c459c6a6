/**
 * Paired rounds: the ratios of the report (targets and the other ratios) measured with both
 * servers of a comparison under load at the same time, each from its own wrk, both servers on
 * one core (bench/lib/cores.ts). The scheduler gives each server half of that core, so the ratio
 * of their req/s is the ratio of the requests each completes per CPU second, and whatever slows
 * the machine down during a round slows both down alike.
 *
 * Why: on this kind of shared machine, the same server measured twice, 3 s apart, differs by
 * ±20% (A/A, raw node:http against a second copy of itself); run side by side at the same time it
 * differs by ±3%. Sequential rounds hid 5-7% gaps in that noise, or invented them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { cpuSeconds, type ServerProcess } from "./processes.ts";
import type { PairResult, PairRound } from "./results.ts";
import type { BenchSettings } from "./settings.ts";
import { EXTRA_RATIOS, TARGETS } from "./variants.ts";
import { runWrk } from "./wrk.ts";

/** Every comparison the report shows, targets first, each once, in that order. */
export function comparisons(): { subject: string; reference: string }[] {
  const all = [...TARGETS, ...EXTRA_RATIOS].map(({ subject, reference }) => ({ subject, reference }));
  return all.filter(
    (pair, index) => all.findIndex((p) => p.subject === pair.subject && p.reference === pair.reference) === index,
  );
}

/** A process that is no longer running cannot be measured. */
function alive(server: ServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

/**
 * Runs `settings.pairRounds` paired rounds of every comparison whose two servers are running, the
 * comparisons rotated each round; `log` gets one line per paired round.
 */
export async function measurePairs(
  servers: ReadonlyMap<string, ServerProcess>,
  wrk: string,
  settings: BenchSettings,
  loadCores: string | undefined,
  log: (line: string) => void,
): Promise<PairResult[]> {
  const results: PairResult[] = comparisons()
    .filter(({ subject, reference }) => servers.has(subject) && servers.has(reference))
    .map(({ subject, reference }) => ({ subject, reference, rounds: [] }));
  const load = (server: ServerProcess) =>
    runWrk(wrk, {
      url: server.url,
      durationSeconds: settings.durationSeconds,
      connections: settings.connections,
      threads: settings.threads,
      cores: loadCores,
    });
  for (let round = 0; round < settings.pairRounds; round++) {
    const order = results.map((_, i) => results[(i + round) % results.length]!);
    for (const pair of order) {
      if (pair.failure) continue;
      const subject = servers.get(pair.subject)!;
      const reference = servers.get(pair.reference)!;
      if (!alive(subject) || !alive(reference)) {
        pair.failure = `a server process died during the run (${alive(subject) ? pair.reference : pair.subject})`;
        continue;
      }
      try {
        const cpuBefore = [cpuSeconds(subject.pid), cpuSeconds(reference.pid)] as const;
        // Which wrk starts first alternates from round to round.
        const [s, r] =
          round % 2 === 0
            ? await Promise.all([load(subject), load(reference)])
            : await Promise.all([load(reference), load(subject)]).then(([b, a]) => [a, b] as const);
        const measured: PairRound = {
          subjectRequestsPerSecond: s.requestsPerSecond,
          referenceRequestsPerSecond: r.requestsPerSecond,
          subjectCpuUsPerRequest: ((cpuSeconds(subject.pid) - cpuBefore[0]) / s.requests) * 1e6,
          referenceCpuUsPerRequest: ((cpuSeconds(reference.pid) - cpuBefore[1]) / r.requests) * 1e6,
        };
        pair.rounds.push(measured);
        log(
          `paired round ${round + 1}/${settings.pairRounds} ${pair.subject} vs ${pair.reference}: ` +
            `${(measured.subjectRequestsPerSecond / measured.referenceRequestsPerSecond).toFixed(3)}x req/s` +
            `${s.errors + r.errors ? `, ${s.errors + r.errors} errors` : ""}`,
        );
      } catch (error) {
        pair.failure = `wrk failed: ${(error as Error).message}`;
        log(`${pair.subject} vs ${pair.reference}: ${pair.failure}`);
      }
      // Both servers finish what wrk left in flight before the next pair starts.
      await sleep(100);
    }
  }
  return results;
}
