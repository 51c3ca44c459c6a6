/** docs/bench.md is written by several generators, each owning the part between its two markers. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * Replaces the part of `file` between `start` and `end` (markers included) with `markdown`
 * between the same markers; appends it when the markers are absent. The rest stays as it is.
 * With `before`, a missing section is inserted in front of that marker instead of at the end.
 */
export function writeMarkedSection(file: string, start: string, end: string, markdown: string, before?: string): void {
  const section = `${start}\n${markdown.trimEnd()}\n\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const from = current.indexOf(start);
  const to = current.indexOf(end, from + 1);
  let next: string;
  if (from >= 0 && to > from) next = `${current.slice(0, from)}${section}${current.slice(to + end.length)}`;
  else {
    const at = before ? current.indexOf(before) : -1;
    next =
      at >= 0 ? `${current.slice(0, at)}${section}\n\n${current.slice(at)}` : `${current.trimEnd()}\n\n${section}\n`;
  }
  writeFileSync(file, next);
}
