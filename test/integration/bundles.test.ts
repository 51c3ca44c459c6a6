// Issue 11's lean-bundle rule, checked on esbuild's metafile of the real entries: the container
// bundles (serve, command client) hold no host handler, the Worker bundle no client class.
import { describe, expect, it } from "vitest";
import { type BundleMeasurement, describeViolations, measureBundles } from "../../bench/bundles.ts";

const groupBytes = (measurement: BundleMeasurement, group: string) =>
  measurement.groups.find((share) => share.group === group)?.bytes ?? 0;

describe("bundles", () => {
  it("container bundles hold no host handlers and the Worker bundle no client classes", async () => {
    const measurements = await measureBundles();
    const offending = measurements.flatMap(describeViolations);
    expect(offending, `forbidden inputs in bundles:\n${offending.join("\n")}`).toEqual([]);

    // The rule only means something while its globs match the tree: each side holds its own half.
    for (const m of measurements) {
      if (m.side === "container") {
        expect(groupBytes(m, "src/bindings/*/client.ts"), `${m.entry} holds no client class`).toBeGreaterThan(0);
      } else {
        expect(groupBytes(m, "src/bindings/*/host.ts"), `${m.entry} holds no host handler`).toBeGreaterThan(0);
      }
    }
  });

  it("names the file and the import chain when a side imports the other side's half", async () => {
    const probes = await measureBundles({
      entries: [
        {
          name: "probe: container importing a handler",
          entry: "container-probe.ts",
          side: "container",
          contents: 'import * as handlers from "./src/bindings/kv/host.ts";\nexport { handlers };\n',
        },
        {
          name: "probe: worker importing a client",
          entry: "worker-probe.ts",
          side: "worker",
          contents: 'import * as client from "./src/bindings/kv/client.ts";\nexport { client };\n',
        },
        {
          name: "probe: container importing a handler it does not use",
          entry: "unused-probe.ts",
          side: "container",
          contents: 'import "./src/bindings/kv/host.ts";\n',
        },
      ],
    });
    const [container, worker, shaken] = probes.map((probe) => ({ paths: probe.violations.map((v) => v.path), probe }));
    expect(container?.paths).toContain("src/bindings/kv/host.ts");
    expect(container?.probe.violations.find((v) => v.path === "src/bindings/kv/host.ts")?.chain).toEqual([
      "container-probe.ts",
      "src/bindings/kv/host.ts",
    ]);
    expect(worker?.paths).toContain("src/bindings/kv/client.ts");
    expect(probes.flatMap(describeViolations).join("\n")).toContain("worker-probe.ts -> src/bindings/kv/client.ts");
    // Not in the bundle, yet loaded by Node when dist/ runs unbundled: still a broken rule.
    expect(shaken?.paths).toEqual([]);
    expect(shaken && describeViolations(shaken.probe).join("\n")).toContain(
      "unused-probe.ts imports src/bindings/kv/host.ts",
    );
  });
});
