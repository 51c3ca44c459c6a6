/**
 * Hand-written SVG bar charts in panels (no chart library), in the style of bench/lib/svg.ts:
 * each panel has its own scale, its own bars and dashed target lines. Used by the command-bus
 * benchmarks, whose numbers differ by orders of magnitude between panels.
 */
import { formatInt } from "./stats.ts";
import { COLORS, escapeXml, svgDocument, text } from "./svg.ts";

const LABEL_WIDTH = 270;
const BAR_AREA = 450;
const BAR_HEIGHT = 20;
const BAR_GAP = 6;
const GROUP_GAP = 18;
const HEADER_HEIGHT = 22;
const TOP = 44;

/** One bar: a measured value, or a failure. */
export interface Bar {
  label: string;
  value: number;
  kind: "baseline" | "containerflare";
  failed?: boolean;
  /** Text after the value (default: the value with the chart's unit). */
  note?: string;
}

/** One panel: a heading, its bars and target lines, on a scale of its own. */
export interface Panel {
  title: string;
  bars: Bar[];
  targets?: { value: number; label: string }[];
  /** Unit of this panel's values (default: the chart's). */
  unit?: string;
}

/** A chart of panels. */
export interface PanelChart {
  title: string;
  unit: string;
  panels: Panel[];
  legend?: { baseline: string; containerflare: string };
}

/** Renders the panels top to bottom. */
export function renderPanels(chart: PanelChart): string {
  const parts: string[] = [];
  let y = TOP;
  for (const panel of chart.panels) {
    const unit = panel.unit ?? chart.unit;
    const values = [
      ...panel.bars.filter((bar) => !bar.failed).map((bar) => bar.value),
      ...(panel.targets ?? []).map((target) => target.value),
    ].filter(Number.isFinite);
    const max = Math.max(1, ...values);
    const scale = (value: number) => (value / (max * 1.05)) * BAR_AREA;
    parts.push(text(12, y + 14, panel.title, { weight: "bold" }));
    y += HEADER_HEIGHT;
    const bottom = y + panel.bars.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP;
    for (const target of panel.targets ?? []) {
      if (!Number.isFinite(target.value)) continue;
      const x = (LABEL_WIDTH + scale(target.value)).toFixed(1);
      parts.push(
        `<line x1="${x}" y1="${y - 4}" x2="${x}" y2="${bottom + 4}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="4 3">` +
          `<title>${escapeXml(target.label)}</title></line>`,
      );
    }
    for (const bar of panel.bars) {
      parts.push(text(LABEL_WIDTH - 8, y + 14, bar.label, { anchor: "end" }));
      if (bar.failed || !Number.isFinite(bar.value)) {
        parts.push(text(LABEL_WIDTH + 4, y + 14, "no result (see table)", { color: COLORS.muted, italic: true }));
      } else {
        const width = Math.max(1, scale(bar.value));
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${COLORS[bar.kind]}"/>`,
        );
        const label = bar.note ?? `${formatInt(bar.value)} ${unit}`;
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
  const legend = chart.legend ?? { baseline: "baseline", containerflare: "containerflare" };
  const second = 30 + legend.baseline.length * 7.5 + 24;
  const third = second + 18 + legend.containerflare.length * 7.5 + 24;
  parts.push(
    `<rect x="12" y="${height - 22}" width="12" height="12" fill="${COLORS.baseline}"/>`,
    text(30, height - 12, legend.baseline, { color: COLORS.muted }),
    `<rect x="${second.toFixed(1)}" y="${height - 22}" width="12" height="12" fill="${COLORS.containerflare}"/>`,
    text(second + 18, height - 12, legend.containerflare, { color: COLORS.muted }),
    `<line x1="${third.toFixed(1)}" y1="${height - 16}" x2="${(third + 22).toFixed(1)}" y2="${height - 16}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    text(third + 28, height - 12, "target (verdicts: targets table)", { color: COLORS.muted }),
  );
  return svgDocument(height, chart.title, chart.title, parts);
}
