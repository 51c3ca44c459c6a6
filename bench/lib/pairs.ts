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
 *
 * Every round gets two fresh processes, started and warmed up for it, and stopped after it: the
 * two servers of a round have the same age and the same history, and the rounds of a comparison
 * are independent draws. Two reasons. A long-lived Node process can step down by a quarter and
 * stay there: a full GC that clears objects embedded in optimized code deoptimizes most of it,
 * and after a few such GCs the code optimized again is slower (raw node:http measured 0.75x of a
 * copy of itself after three forced GCs); the servers of the interleaved rounds live through the
 * whole run, idle most of it, so which of two had such GCs decided their comparison by 20%. And
 * how fast a fresh process settles is itself a draw: two processes per comparison put the same
 * containerflare + Hono server at 1.058x and, in the next comparison, its plain-console twin at
 * 0.985x of @hono/node-server, each over 21 rounds with ranges of ±4% around those medians,
 * while the two twins side by side, fresh per round, measured 1.005x (rounds at 0.95x or 1.01x).
 * One pair of processes per comparison measured that pair's draw 21 times.
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

/** Where the paired rounds get their servers: a fresh process of a variant, and its end. */
export interface PairServers {
  /** The ids of the variants that can be started (those that did not fail before). */
  ids: ReadonlySet<string>;
  start(id: string): Promise<ServerProcess>;
  stop(server: ServerProcess): Promise<void>;
}

/**
 * Runs `settings.pairRounds` paired rounds of every comparison whose two variants can be started,
 * one comparison after the other, each round on two fresh processes warmed up alone first (see
 * the module comment); `log` gets one line per paired round.
 */
export async function measurePairs(
  servers: PairServers,
  wrk: string,
  settings: BenchSettings,
  loadCores: string | undefined,
  log: (line: string) => void,
): Promise<PairResult[]> {
  const results: PairResult[] = comparisons()
    .filter(({ subject, reference }) => servers.ids.has(subject) && servers.ids.has(reference))
    .map(({ subject, reference }) => ({ subject, reference, rounds: [] }));
  const load = (server: ServerProcess, durationSeconds = settings.durationSeconds) =>
    runWrk(wrk, {
      url: server.url,
      durationSeconds,
      connections: settings.connections,
      threads: settings.threads,
      cores: loadCores,
    });
  for (const pair of results) {
    for (let round = 0; round < settings.pairRounds && pair.failure === undefined; round++) {
      const started: ServerProcess[] = [];
      try {
        const subject = await servers.start(pair.subject);
        started.push(subject);
        const reference = await servers.start(pair.reference);
        started.push(reference);
        // Warmed up one after the other, each with the core to itself (as in the interleaved
        // rounds): shared, 2 s left the first rounds to the optimizing compiler (0.81x, 0.87x).
        // Which one is warmed last, closest to the round, alternates as the wrk order does.
        for (const server of round % 2 === 0 ? [subject, reference] : [reference, subject])
          await load(server, settings.warmupSeconds);
        await sleep(100);
        await measureRound(pair, subject, reference, load, round, settings.pairRounds, log);
      } catch (error) {
        pair.failure = `${started.length < 2 ? "failed to start" : "wrk failed"}: ${(error as Error).message}`;
        log(`${pair.subject} vs ${pair.reference}: ${pair.failure}`);
      } finally {
        await Promise.all(started.map((server) => servers.stop(server)));
      }
    }
  }
  return results;
}

/** One paired round of a comparison on its two running servers (round `round` of `rounds`). */
async function measureRound(
  pair: PairResult,
  subject: ServerProcess,
  reference: ServerProcess,
  load: (server: ServerProcess) => ReturnType<typeof runWrk>,
  round: number,
  rounds: number,
  log: (line: string) => void,
): Promise<void> {
  if (!alive(subject) || !alive(reference)) {
    pair.failure = `a server process died during the run (${alive(subject) ? pair.reference : pair.subject})`;
    return;
  }
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
    `paired round ${round + 1}/${rounds} ${pair.subject} vs ${pair.reference}: ` +
      `${(measured.subjectRequestsPerSecond / measured.referenceRequestsPerSecond).toFixed(3)}x req/s` +
      `${s.errors + r.errors ? `, ${s.errors + r.errors} errors` : ""}`,
  );
}
