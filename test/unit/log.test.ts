import { describe, expect, it } from "vitest";
import { createLogger, createRequestLogger, resolveLogFormat } from "../../src/log.ts";
import type { PlatformInfo } from "../../src/platform.ts";

function sink() {
  const lines: string[] = [];
  return { lines, write: (text: string) => lines.push(...text.split("\n").filter(Boolean)), isTTY: false };
}

const TRACE = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true };

describe("createLogger", () => {
  it("writes Cloud Logging JSON on Cloud Run, with trace fields once the project is known", () => {
    const out = sink();
    const platform: PlatformInfo = { kind: "cloud-run", cloudRun: { resource: "service" } };
    const logger = createLogger({ level: 3, format: "json", platform, sink: out });
    const request = createRequestLogger(logger, { requestId: "r1", trace: TRACE });
    request.info("before the project id is known");
    platform.cloudRun!.projectId = "demo";
    request.warn("after", { n: 1 });
    logger.error(new Error("kaput"));
    logger.debug("below the level");
    const [before, after, error] = out.lines.map((line) => JSON.parse(line));
    expect(out.lines).toHaveLength(3);
    expect(before).toMatchObject({ severity: "INFO", message: "before the project id is known", requestId: "r1" });
    expect(before["logging.googleapis.com/trace"]).toBeUndefined();
    expect(after).toMatchObject({
      severity: "WARNING",
      message: "after { n: 1 }",
      "logging.googleapis.com/trace": `projects/demo/traces/${TRACE.traceId}`,
      "logging.googleapis.com/spanId": TRACE.spanId,
      "logging.googleapis.com/trace_sampled": true,
    });
    expect(error.severity).toBe("ERROR");
    expect(error.message).toMatch(/^Error: kaput\n\s+at /);
  });

  it("writes level, message, time and request id elsewhere", () => {
    const out = sink();
    const logger = createLogger({ level: 3, format: "json", platform: { kind: "cloudflare" }, sink: out });
    createRequestLogger(logger, { requestId: "r2" }).info({ message: "structured", userId: 7 });
    const line = JSON.parse(out.lines[0]!);
    expect(line).toMatchObject({ level: "info", message: "structured", requestId: "r2", userId: 7 });
    expect(Date.parse(line.time)).not.toBeNaN();
  });

  it("prints pretty lines in order, including those logged before the pretty reporter loaded", async () => {
    const out = sink();
    const logger = createLogger({ level: 3, format: "pretty", platform: { kind: "generic" }, sink: out });
    logger.info("first");
    const child = createRequestLogger(logger, { requestId: "r3" });
    child.info("second");
    await expect.poll(() => out.lines.length).toBeGreaterThanOrEqual(2);
    child.info("third");
    expect(out.lines.join("\n")).toMatch(/first[\s\S]*second[\s\S]*third/);
    expect(out.lines.some((line) => line.startsWith("{"))).toBe(false);
  });

  it("resolves auto to pretty only on a terminal", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
  });
});
