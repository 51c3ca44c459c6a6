import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// `npm test` checks the tree the way CI must: Biome's formatter and linter (biome.jsonc), read-only.
it("the tree is formatted and lint-clean under biome.jsonc (fix with `npm run format`)", () => {
  const biome = spawnSync(`${ROOT}node_modules/.bin/biome`, ["ci", "--max-diagnostics=50", "."], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  const report = `${biome.stdout}\n${biome.stderr}`;
  expect(biome.status, report).toBe(0);
});
