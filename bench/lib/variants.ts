/** The servers compared by the HTTP benchmark: one hello-world app per file in bench/apps/. */
import type { RuntimeName } from "./runtimes.ts";

/** What a variant is in the comparison. */
export type VariantKind = "baseline" | "containerflare";

/** One server to measure. */
export interface Variant {
  /** Stable id, also accepted by BENCH_ONLY. */
  id: string;
  label: string;
  runtime: RuntimeName;
  /** File under bench/apps/. */
  app: string;
  kind: VariantKind;
  /** Environment the server gets on top of the harness's (e.g. a setting whose cost is shown). */
  env?: Record<string, string>;
}

/** The setting that turns the structured console off: its rows show what correlated console lines cost. */
const PLAIN_CONSOLE = { CONTAINERFLARE_CONSOLE: "plain" };

/**
 * Every variant, grouped by runtime; the order of the chart, the table and each round. Each
 * containerflare variant sits next to the servers it is compared with, so that the two halves of
 * a comparison are measured seconds apart in every round.
 */
export const VARIANTS: readonly Variant[] = [
  { id: "node-http", label: "raw node:http", runtime: "node", app: "node-http.js", kind: "baseline" },
  {
    // The control: the same server twice. Its ratio to node-http is what the method shows when
    // there is no difference to find (bias and noise), sequential and paired.
    id: "node-http-twin",
    label: "raw node:http, a second process",
    runtime: "node",
    app: "node-http.js",
    kind: "baseline",
  },
  { id: "node-cf", label: "containerflare serve()", runtime: "node", app: "containerflare.js", kind: "containerflare" },
  {
    id: "node-cf-plain",
    label: "containerflare serve(), plain console",
    runtime: "node",
    app: "containerflare.js",
    kind: "containerflare",
    env: PLAIN_CONSOLE,
  },
  { id: "node-hono", label: "@hono/node-server + Hono", runtime: "node", app: "hono-node-server.js", kind: "baseline" },
  {
    id: "node-cf-hono",
    label: "containerflare + Hono",
    runtime: "node",
    app: "containerflare-hono.js",
    kind: "containerflare",
  },
  {
    id: "node-cf-hono-plain",
    label: "containerflare + Hono, plain console",
    runtime: "node",
    app: "containerflare-hono.js",
    kind: "containerflare",
    env: PLAIN_CONSOLE,
  },
  { id: "node-srvx-fast", label: "srvx (FastResponse)", runtime: "node", app: "srvx-fast.js", kind: "baseline" },
  { id: "node-srvx", label: "srvx (global Response)", runtime: "node", app: "srvx.js", kind: "baseline" },
  { id: "bun-srvx", label: "srvx", runtime: "bun", app: "srvx.js", kind: "baseline" },
  { id: "bun-cf", label: "containerflare serve()", runtime: "bun", app: "containerflare.js", kind: "containerflare" },
  {
    id: "bun-cf-plain",
    label: "containerflare serve(), plain console",
    runtime: "bun",
    app: "containerflare.js",
    kind: "containerflare",
    env: PLAIN_CONSOLE,
  },
  {
    // With a secret the metadata header can be trusted, so Bun reads every request's Headers to
    // look for it (serve/deferred-metadata-removal.ts applies only where nothing can be trusted).
    id: "bun-cf-secret",
    label: "containerflare serve(), with a secret",
    runtime: "bun",
    app: "containerflare.js",
    kind: "containerflare",
    env: { CONTAINERFLARE_SECRET: "bench-secret-of-thirty-two-chars" },
  },
  { id: "deno-srvx", label: "srvx", runtime: "deno", app: "srvx.js", kind: "baseline" },
  { id: "deno-cf", label: "containerflare serve()", runtime: "deno", app: "containerflare.js", kind: "containerflare" },
  {
    id: "deno-cf-plain",
    label: "containerflare serve(), plain console",
    runtime: "deno",
    app: "containerflare.js",
    kind: "containerflare",
    env: PLAIN_CONSOLE,
  },
];

/** A throughput target of the issue: `subject` must reach `minRatio` x `reference`. */
export interface Target {
  runtime: RuntimeName;
  subject: string;
  reference: string;
  minRatio: number;
}

/** The targets of issue 2 (item 9), as issue 10 restates them: Hono on containerflare against Hono on its own Node adapter. */
export const TARGETS: readonly Target[] = [
  { runtime: "node", subject: "node-cf", reference: "node-http", minRatio: 0.85 },
  { runtime: "node", subject: "node-cf-hono", reference: "node-hono", minRatio: 1.0 },
  { runtime: "bun", subject: "bun-cf", reference: "bun-srvx", minRatio: 0.95 },
  { runtime: "deno", subject: "deno-cf", reference: "deno-srvx", minRatio: 0.95 },
];

/** Further ratios shown for context (not targets). */
export const EXTRA_RATIOS: readonly { subject: string; reference: string }[] = [
  // The control (A/A): two identical servers; anything but 1.00x is the method's own error.
  { subject: "node-http-twin", reference: "node-http" },
  // What the structured console costs plain serve() on Node.
  { subject: "node-cf-plain", reference: "node-http" },
  { subject: "node-cf", reference: "node-srvx-fast" },
  { subject: "node-cf", reference: "node-srvx" },
  { subject: "node-cf", reference: "node-hono" },
  { subject: "node-cf-hono", reference: "node-http" },
  // What the structured console (correlated console lines, the default) costs: the same server without it.
  { subject: "node-cf-hono-plain", reference: "node-hono" },
  { subject: "bun-cf-plain", reference: "bun-srvx" },
  // What reading every request's Headers costs Bun where the metadata header can be trusted.
  { subject: "bun-cf-secret", reference: "bun-srvx" },
  { subject: "deno-cf-plain", reference: "deno-srvx" },
];

/** Cold start and idle RSS are measured for these apps on each runtime. */
export const COLD_START_APPS: readonly { runtime: RuntimeName; app: string; label: string }[] = [
  { runtime: "node", app: "node-http.js", label: "raw node:http" },
  { runtime: "node", app: "srvx.js", label: "bare srvx" },
  { runtime: "node", app: "containerflare.js", label: "containerflare serve()" },
  { runtime: "bun", app: "srvx.js", label: "bare srvx" },
  { runtime: "bun", app: "containerflare.js", label: "containerflare serve()" },
  { runtime: "deno", app: "srvx.js", label: "bare srvx" },
  { runtime: "deno", app: "containerflare.js", label: "containerflare serve()" },
];
