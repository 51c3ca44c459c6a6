/**
 * Process-tree helpers for the command-bus benchmarks (Linux /proc only): the descendants of a
 * process, their CPU time, and memory fields of /proc/<pid>/status (VmRSS, VmHWM), including a
 * reset of the peak (VmHWM) so that it covers one measured stretch only.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpuSeconds } from "./processes.ts";

/** A process as /proc/<pid>/stat shows it. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** `R`, `S`, … `Z` for a zombie. */
  state: string;
}

/** The process table, from /proc. */
export function processTable(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      entries.push({ pid: Number(name), state: fields[0]!, ppid: Number(fields[1]) });
    } catch {
      // It exited while we looked.
    }
  }
  return entries;
}

/** Live (not zombie) descendants of `pid`, parents before their children. */
export function descendants(pid: number): number[] {
  const entries = processTable();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const entry of entries) {
      if (entry.ppid === parent && entry.state !== "Z") {
        found.push(entry.pid);
        queue.push(entry.pid);
      }
    }
  }
  return found;
}

/** Whether `pid` is alive (not gone, not a zombie). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The command line of a process, arguments joined by spaces; "" when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** The deepest descendant of `pid` whose command line contains `text` (a wrapper's child wins). */
export function findDescendant(pid: number, text: string): number | undefined {
  return descendants(pid)
    .filter((child) => commandLine(child).includes(text))
    .at(-1);
}

/** CPU seconds (user + system) of `pid` and all its live descendants. */
export function treeCpuSeconds(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, each) => {
    const seconds = cpuSeconds(each);
    return Number.isFinite(seconds) ? sum + seconds : sum;
  }, 0);
}

/** A `kB` field of /proc/<pid>/status (VmRSS, VmHWM) in MiB; NaN when unreadable. */
export function statusMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1];
    return kib ? Number(kib) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets the process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/<pid>/clear_refs`,
 * Linux >= 4.0, for a process of the same user). False when the kernel refused.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples VmRSS of `pid` every `intervalMs` until stopped: the sampled peak, a cross-check of
 * VmHWM (which catches spikes between samples).
 */
export function sampleRss(pid: number, intervalMs = 20): { stop(): { peakMiB: number; samples: number } } {
  let peak = Number.NaN;
  let samples = 0;
  const take = () => {
    const rss = statusMiB(pid, "VmRSS");
    if (Number.isFinite(rss)) {
      samples++;
      if (!(rss <= peak)) peak = rss;
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakMiB: peak, samples };
    },
  };
}
