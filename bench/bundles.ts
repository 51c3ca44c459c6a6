/**
 * Bundle sizes and the lean-bundle rule of issue 11: the container bundles (serve and the command
 * client) carry no host handlers, the Worker bundle no client classes. Each public entry is bundled
 * with esbuild (minified, in memory) and its metafile tells which source files ended up in the
 * output and with how many bytes; an offending file is reported with the import chain that pulls it
 * in from the entry. A forbidden file that is imported but tree-shaken to 0 bytes breaks the rule
 * too: Node loads it when it runs the package unbundled from dist/.
 *
 * Run: `npm run bundles` or `node bench/bundles.ts` with Node >= 22.18 (type stripping; `npm run`
 * finds the project's Node 24 in node_modules/.bin). Exits 1 when a bundle breaks the rule.
 * Options: `--root <dir>` measures another checkout (e.g. a git worktree of an older commit),
 * `--layout legacy` classifies files by the layout before issue 11 (src/command/bindings/*.ts
 * clients, src/host/commands/*.ts handlers), `--markdown` prints the tables of docs/bench.md,
 * `--json` the raw measurements.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Metafile } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Which side of the command bus a bundle runs on. */
export type BundleSide = "container" | "worker";

/** One public entry that is bundled on its own. */
export interface BundleEntry {
  name: string;
  /** Path relative to the measured root (with `contents`: the name the source is given). */
  entry: string;
  side: BundleSide;
  /** Source of the entry itself, resolved from the root; for probes that are not files of the tree. */
  contents?: string;
}

/** The measured entries: the two container-side ones and the Worker companion. */
export const BUNDLE_ENTRIES: readonly BundleEntry[] = [
  { name: "container: serve (src/index.ts)", entry: "src/index.ts", side: "container" },
  { name: "container: command client (src/command/index.ts)", entry: "src/command/index.ts", side: "container" },
  { name: "worker (src/worker/index.ts)", entry: "src/worker/index.ts", side: "worker" },
];

/** A named set of input files, by their path relative to the measured root. */
interface Group {
  name: string;
  test: (path: string) => boolean;
}

/** How the files of one version of the tree are grouped, and which groups a side must not hold. */
export interface Layout {
  name: "current" | "legacy";
  /** First match wins; files matching none fall into "other". */
  groups: readonly Group[];
  /** Per side: the group names whose files must contribute no bytes to that side's bundles. */
  forbidden: Record<BundleSide, readonly string[]>;
}

const under = (folder: string) => (path: string) => path.startsWith(`${folder}/`);
const kindFile = (folder: string, file: string) => {
  const pattern = new RegExp(`^${folder}/[^/]+/${file}$`);
  return (path: string) => pattern.test(path);
};
const fileIn = (folder: string) => {
  const pattern = new RegExp(`^${folder}/[^/]+\\.ts$`);
  return (path: string) => pattern.test(path);
};

/**
 * Groups of the tree as of issue 11: one folder per binding kind under src/bindings. The tables
 * keyed by kind belong to their side: handlers.ts (with handler.ts, its types) to the host,
 * clients.ts to the client.
 */
const CURRENT: Layout = {
  name: "current",
  groups: [
    { name: "src/bindings/*/client.ts", test: kindFile("src/bindings", "client\\.ts") },
    { name: "src/bindings/env.ts", test: (path) => path === "src/bindings/env.ts" },
    { name: "src/bindings/clients.ts", test: (path) => path === "src/bindings/clients.ts" },
    { name: "src/bindings/*/host.ts", test: kindFile("src/bindings", "host\\.ts") },
    { name: "src/bindings/handler(s).ts", test: (path) => /^src\/bindings\/handlers?\.ts$/.test(path) },
    { name: "src/bindings/** (shared)", test: under("src/bindings") },
    { name: "src/host/**", test: under("src/host") },
    { name: "src/command/**", test: under("src/command") },
    { name: "src/protocol/**", test: under("src/protocol") },
    { name: "src/worker/**", test: under("src/worker") },
    { name: "src/* (other)", test: under("src") },
  ],
  forbidden: {
    container: ["src/bindings/*/host.ts", "src/bindings/handler(s).ts", "src/host/**"],
    worker: ["src/bindings/*/client.ts", "src/bindings/env.ts", "src/bindings/clients.ts", "src/command/**"],
  },
};

/**
 * Groups of the tree before issue 11 (commit b96486f): clients in src/command/bindings, handlers in
 * src/host/commands, and the wire protocol inside src/command (protocol.ts, schemas.ts, bytes.ts,
 * errors.ts, lines.ts, logger.ts), which the host and the Worker imported. Only the clients and the
 * handlers are forbidden: in that layout src/command/** also held code both sides needed.
 */
const LEGACY: Layout = {
  name: "legacy",
  groups: [
    { name: "src/command/bindings/*.ts (clients)", test: fileIn("src/command/bindings") },
    { name: "src/host/commands/*.ts (handlers)", test: fileIn("src/host/commands") },
    { name: "src/host/** (other)", test: under("src/host") },
    { name: "src/command/** (other)", test: under("src/command") },
    { name: "src/worker/**", test: under("src/worker") },
    { name: "src/* (other)", test: under("src") },
  ],
  forbidden: {
    container: ["src/host/commands/*.ts (handlers)", "src/host/** (other)"],
    worker: ["src/command/bindings/*.ts (clients)"],
  },
};

/** The two layouts by name. */
export const LAYOUTS: Record<Layout["name"], Layout> = { current: CURRENT, legacy: LEGACY };

/** Bytes one group of inputs contributes to a bundle. */
export interface GroupShare {
  group: string;
  bytes: number;
  /** The group's files with their bytes in the output, largest first. */
  files: { path: string; bytes: number }[];
}

/** A forbidden file that contributes bytes to a bundle, and how the entry reaches it. */
export interface Violation {
  path: string;
  group: string;
  bytes: number;
  /** Shortest import chain from the entry to the file (entry first), by the metafile's `imports`. */
  chain: string[];
}

/** The measurements of one bundle. */
export interface BundleMeasurement {
  name: string;
  entry: string;
  side: BundleSide;
  /** Minified output size in bytes. */
  bytes: number;
  /** The same output gzipped (node:zlib, default level). */
  gzipBytes: number;
  /** Groups with bytes in the output, largest first. */
  groups: GroupShare[];
  /** Forbidden files with bytes in the output (empty when the bundle is lean). */
  violations: Violation[];
  /**
   * Forbidden files the entry imports whose code was tree-shaken away entirely (0 bytes): not in the
   * bundle, but loaded at start-up when the package runs unbundled from dist/.
   */
  reachable: Violation[];
}

/** Options of {@link measureBundles}. */
export interface MeasureOptions {
  /** Checkout to measure (default: this repository). */
  root?: string;
  /** How to group its files (default: "current"). */
  layout?: Layout["name"];
  /** Entries to bundle (default: {@link BUNDLE_ENTRIES}). */
  entries?: readonly BundleEntry[];
}

/** esbuild options per side, as the CLI bundles the container app and the dev Worker. */
function buildOptions(side: BundleSide): BuildOptions {
  const common: BuildOptions = {
    bundle: true,
    format: "esm",
    minify: true,
    metafile: true,
    write: false,
    mainFields: ["module", "main"],
    logLevel: "silent",
  };
  if (side === "container") {
    // srvx, valibot and the rest are bundled; only the runtime's built-ins stay outside.
    return { ...common, platform: "node", target: "node20", external: ["node:*"] };
  }
  return {
    ...common,
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser", "import"],
    external: ["cloudflare:*", "@cloudflare/containers"],
  };
}

/**
 * Bundles each entry of `options.root` with esbuild (minified, not written) and measures it: total
 * and gzip bytes, the bytes of each group of inputs, and the forbidden files its side holds.
 */
export async function measureBundles(options: MeasureOptions = {}): Promise<BundleMeasurement[]> {
  const root = resolve(options.root ?? ROOT);
  const layout = LAYOUTS[options.layout ?? "current"];
  return Promise.all(
    (options.entries ?? BUNDLE_ENTRIES).map(async (entry) => {
      const source =
        entry.contents === undefined
          ? { entryPoints: [entry.entry] }
          : { stdin: { contents: entry.contents, resolveDir: root, sourcefile: entry.entry, loader: "ts" as const } };
      const result = await build({ ...buildOptions(entry.side), ...source, absWorkingDir: root, outfile: "out.js" });
      const { metafile, outputFiles } = result;
      const file = outputFiles?.find((output) => output.path.endsWith(".js"));
      const output = Object.entries(metafile?.outputs ?? {}).find(([path]) => path.endsWith(".js"))?.[1];
      if (!metafile || !file || !output) throw new Error(`${entry.entry}: esbuild wrote no JavaScript output`);
      return measure(entry, layout, metafile, output, file.contents);
    }),
  );
}

function measure(
  entry: BundleEntry,
  layout: Layout,
  metafile: Metafile,
  output: Metafile["outputs"][string],
  contents: Uint8Array,
): BundleMeasurement {
  const shares = new Map<string, GroupShare>();
  for (const [path, input] of Object.entries(output.inputs)) {
    if (input.bytesInOutput === 0) continue;
    const group = groupOf(layout, path);
    const share = shares.get(group) ?? { group, bytes: 0, files: [] };
    share.bytes += input.bytesInOutput;
    share.files.push({ path: displayPath(path), bytes: input.bytesInOutput });
    shares.set(group, share);
  }
  const groups = [...shares.values()].sort((a, b) => b.bytes - a.bytes);
  for (const share of groups) share.files.sort((a, b) => b.bytes - a.bytes);

  const forbidden = new Set(layout.forbidden[entry.side]);
  const chains = importChains(metafile, entry.entry);
  const violations: Violation[] = [];
  const reachable: Violation[] = [];
  for (const path of Object.keys(metafile.inputs)) {
    const group = groupOf(layout, path);
    if (!forbidden.has(group)) continue;
    const bytes = output.inputs[path]?.bytesInOutput ?? 0;
    const found = { path, group, bytes, chain: chains.get(path) ?? [path] };
    (bytes > 0 ? violations : reachable).push(found);
  }
  return {
    name: entry.name,
    entry: entry.entry,
    side: entry.side,
    bytes: contents.byteLength,
    gzipBytes: gzipSync(contents).byteLength,
    groups,
    violations: violations.sort((a, b) => a.chain.length - b.chain.length || a.path.localeCompare(b.path)),
    reachable: reachable.sort((a, b) => a.chain.length - b.chain.length || a.path.localeCompare(b.path)),
  };
}

/** The group of a metafile input path: the layout's first match, `node_modules/<pkg>`, or "other". */
function groupOf(layout: Layout, path: string): string {
  const at = path.lastIndexOf("node_modules/");
  if (at !== -1) {
    const parts = path.slice(at + "node_modules/".length).split("/");
    return `node_modules/${parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return layout.groups.find((group) => group.test(path))?.name ?? "other";
}

/** A package file as `node_modules/<pkg>/...`, however the checkout links its node_modules. */
function displayPath(path: string): string {
  const at = path.lastIndexOf("node_modules/");
  return at === -1 ? path : path.slice(at);
}

/** Shortest import chain from `entry` to every input it reaches (breadth-first over `imports`). */
function importChains(metafile: Metafile, entry: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue: [string, string[]][] = [[entry, [entry]]];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [path, chain] = next;
    for (const imported of metafile.inputs[path]?.imports ?? []) {
      if (imported.external || chains.has(imported.path)) continue;
      const longer = [...chain, imported.path];
      chains.set(imported.path, longer);
      queue.push([imported.path, longer]);
    }
  }
  return chains;
}

/**
 * One line per broken rule: a forbidden file with bytes in the bundle, or one the entry imports
 * although its code is tree-shaken away (it is still loaded when dist/ runs unbundled); each with
 * the chain that pulls it in. Empty when the bundle is lean.
 */
export function describeViolations(measurement: BundleMeasurement): string[] {
  return [
    ...measurement.violations.map(
      (v) => `${measurement.entry} holds ${v.path} (${v.group}, ${v.bytes} B) via ${v.chain.join(" -> ")}`,
    ),
    ...measurement.reachable.map(
      (v) => `${measurement.entry} imports ${v.path} (${v.group}, tree-shaken to 0 B) via ${v.chain.join(" -> ")}`,
    ),
  ];
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}

function printReport(layout: Layout["name"], root: string, measurements: readonly BundleMeasurement[]): void {
  console.log(`bundles: ${root} (${layout} layout), esbuild ${esbuildVersion()}, minified`);
  for (const m of measurements) {
    console.log(`\n${m.name}: ${formatBytes(m.bytes)} minified, ${formatBytes(m.gzipBytes)} gzip`);
    for (const share of m.groups) {
      console.log(`  ${formatBytes(share.bytes).padStart(10)}  ${share.group} (${share.files.length} files)`);
    }
    for (const line of describeViolations(m)) console.log(`  FORBIDDEN ${line}`);
  }
}

/** The Markdown rows of docs/bench.md's "Bundle sizes" section: one per bundle and group. */
function markdownRows(measurements: readonly BundleMeasurement[]): string {
  const rows = ["| bundle | group | minified | share |", "| --- | --- | ---: | ---: |"];
  for (const m of measurements) {
    rows.push(`| ${m.name} | **total** (gzip ${formatBytes(m.gzipBytes)}) | ${formatBytes(m.bytes)} | 100% |`);
    for (const share of m.groups) {
      rows.push(`| | ${share.group} | ${formatBytes(share.bytes)} | ${((100 * share.bytes) / m.bytes).toFixed(1)}% |`);
    }
  }
  return rows.join("\n");
}

function esbuildVersion(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, "node_modules", "esbuild", "package.json"), "utf8"));
  return String(manifest.version);
}

async function main(argv: readonly string[]): Promise<void> {
  const option = (name: string) => {
    const at = argv.indexOf(name);
    return at === -1 ? undefined : argv[at + 1];
  };
  const layout = option("--layout") ?? "current";
  if (layout !== "current" && layout !== "legacy") throw new Error(`--layout ${layout}: expected current or legacy`);
  const root = resolve(option("--root") ?? ROOT);
  const measurements = await measureBundles({ root, layout });
  if (argv.includes("--json")) console.log(JSON.stringify(measurements, null, 2));
  else if (argv.includes("--markdown")) console.log(markdownRows(measurements));
  else printReport(layout, root, measurements);
  const broken = measurements.filter((m) => describeViolations(m).length > 0);
  if (broken.length > 0) {
    console.error(
      `\nbundles: ${broken.length} bundle(s) break the rule (container: no host handlers, worker: no clients)`,
    );
    for (const m of broken) for (const line of describeViolations(m)) console.error(`  ${line}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    console.error(`bundles: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
