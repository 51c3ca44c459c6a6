/** Hand-written SVG bar chart of the throughput results (no chart library). */
import type { VariantResult } from "./results.ts";
import type { RuntimeName } from "./runtimes.ts";
import { formatInt } from "./stats.ts";
import { TARGETS } from "./variants.ts";

const WIDTH = 900;
const LABEL_WIDTH = 250;
const BAR_AREA = 470;
const BAR_HEIGHT = 20;
const BAR_GAP = 6;
const GROUP_GAP = 18;
const HEADER_HEIGHT = 22;
const TOP = 44;

/** The charts' colours (bench/lib/bars.ts draws with the same). */
export const COLORS = {
  baseline: "#8a94a6",
  containerflare: "#f38020",
  target: "#c62828",
  text: "#1f2328",
  muted: "#57606a",
};

/** Renders req/s bars grouped by runtime, with each runtime's target drawn as a dashed line. */
export function renderChart(results: readonly VariantResult[], runtimeTitles: Record<RuntimeName, string>): string {
  const max = Math.max(1, ...results.map((r) => (Number.isFinite(r.requestsPerSecond) ? r.requestsPerSecond : 0)));
  const scale = (rps: number) => (rps / (max * 1.05)) * BAR_AREA;
  const byId = new Map(results.map((r) => [r.variant.id, r]));
  const parts: string[] = [];
  let y = TOP;

  for (const runtime of ["node", "bun", "deno"] as const) {
    const group = results.filter((r) => r.variant.runtime === runtime);
    if (group.length === 0) continue;
    parts.push(text(12, y + 14, runtimeTitles[runtime], { weight: "bold" }));
    y += HEADER_HEIGHT;
    // Target lines first, so bars and labels paint over them: a bar that covers its line meets it.
    const groupBottom = y + group.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP;
    for (const target of TARGETS.filter((t) => t.runtime === runtime)) {
      const reference = byId.get(target.reference);
      if (!reference || !Number.isFinite(reference.requestsPerSecond)) continue;
      const x = (LABEL_WIDTH + scale(reference.requestsPerSecond * target.minRatio)).toFixed(1);
      parts.push(
        `<line x1="${x}" y1="${y - 4}" x2="${x}" y2="${groupBottom + 4}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="4 3">` +
          `<title>target: ${target.minRatio}x ${escapeXml(reference.variant.label)}</title></line>`,
      );
    }
    for (const result of group) {
      const color = result.variant.kind === "containerflare" ? COLORS.containerflare : COLORS.baseline;
      parts.push(text(LABEL_WIDTH - 8, y + 14, result.variant.label, { anchor: "end" }));
      if (result.failure || !Number.isFinite(result.requestsPerSecond)) {
        parts.push(text(LABEL_WIDTH + 4, y + 14, "no result (see table)", { color: COLORS.muted, italic: true }));
      } else {
        const width = Math.max(1, scale(result.requestsPerSecond));
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${color}"/>`,
        );
        const label = `${formatInt(result.requestsPerSecond)} req/s`;
        parts.push(
          `<rect x="${(LABEL_WIDTH + width + 3).toFixed(1)}" y="${y + 2}" width="${label.length * 7.5 + 6}" height="${BAR_HEIGHT - 4}" fill="#ffffff"/>`,
        );
        parts.push(text(LABEL_WIDTH + width + 6, y + 14, label));
      }
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += GROUP_GAP;
  }

  const height = y + 26;
  const legend = [
    `<rect x="12" y="${height - 22}" width="12" height="12" fill="${COLORS.baseline}"/>`,
    text(30, height - 12, "baseline", { color: COLORS.muted }),
    `<rect x="110" y="${height - 22}" width="12" height="12" fill="${COLORS.containerflare}"/>`,
    text(128, height - 12, "containerflare", { color: COLORS.muted }),
    `<line x1="250" y1="${height - 16}" x2="272" y2="${height - 16}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    text(278, height - 12, "target: ratio x the reference's median (verdicts: targets table)", { color: COLORS.muted }),
  ];
  return svgDocument(
    height,
    "Hello-world throughput per server and runtime",
    "Hello-world throughput (req/s, median of rounds, wrk on 127.0.0.1; higher is better)",
    [...parts, ...legend],
  );
}

/** A whole chart: `title` names it for screen readers (and Biome's a11y rule), `heading` is drawn on top. */
export function svgDocument(height: number, title: string, heading: string, parts: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    text(12, 24, heading, { weight: "bold", size: 15 }),
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}

/** How {@link text} sets a label. */
export interface TextStyle {
  anchor?: "start" | "end";
  weight?: "bold";
  italic?: boolean;
  color?: string;
  size?: number;
}

/** An SVG `<text>` at (x, y), escaped. */
export function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attrs = [
    `x="${x.toFixed(1)}"`,
    `y="${y}"`,
    `fill="${style.color ?? COLORS.text}"`,
    style.anchor === "end" ? `text-anchor="end"` : "",
    style.weight ? `font-weight="${style.weight}"` : "",
    style.italic ? `font-style="italic"` : "",
    style.size ? `font-size="${style.size}"` : "",
  ].filter(Boolean);
  return `<text ${attrs.join(" ")}>${escapeXml(content)}</text>`;
}

/** Escapes the five XML special characters. */
export function escapeXml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}
