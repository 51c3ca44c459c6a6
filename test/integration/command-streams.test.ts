/**
 * The command bus over real processes: 1,000 concurrent commands per stream transport against a
 * host that answers in random order, a host killed with SIGKILL mid-flight, reconnection.
 * Needs `npm run build` (the child processes run dist/).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommandClient, type CommandClient, type CommandError } from "../../src/command/index.ts";
import { parseCommandEndpoint } from "../../src/config.ts";
import { serveNodeStream } from "../../src/host/node.ts";
import { CLIENT_SCRIPT, kill, NODE, reportingHost, ROOT, startHostProcess, type ClientReport } from "../fixtures/command/processes.ts";
import { freePort } from "./runtimes.ts";

const directory = mkdtempSync(join(tmpdir(), "cf-streams-"));
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  rmSync(directory, { recursive: true, force: true });
  expect(unhandled).toEqual([]);
});

async function endpointFor(kind: "unix" | "tcp", name: string): Promise<string> {
  return kind === "unix" ? `unix://${join(directory, `${name}.sock`)}` : `tcp://127.0.0.1:${await freePort()}`;
}

function clientFor(url: string): CommandClient {
  return createCommandClient({ endpoint: parseCommandEndpoint(url), timeoutMs: 20_000 });
}

describe.each(["unix", "tcp"] as const)("%s transport", (kind) => {
  it("carries 1,000 concurrent commands to a host answering in random order: each caller gets its own answer", async () => {
    const host = await startHostProcess(await endpointFor(kind, "concurrent"));
    const client = clientFor(host.url);
    try {
      const completion: number[] = [];
      const answers = await Promise.all(
        Array.from({ length: 1_000 }, (_, index) =>
          client.invoke<{ value: number }>("test.echo", { value: index, delayMs: Math.floor(Math.random() * 30) }).then((answer) => {
            completion.push(index);
            return answer.value;
          }),
        ),
      );
      expect(answers).toEqual(Array.from({ length: 1_000 }, (_, index) => index));
      // The host really answered out of order (random delays), and every answer was matched by id.
      expect(completion).not.toEqual([...completion].sort((a, b) => a - b));
      expect(client.inFlight).toBe(0);
    } finally {
      await client.close();
      await kill(host.child, host.exited);
    }
  });

  it("fails every pending call with TRANSPORT_CLOSED within 100 ms of a SIGKILL, then reconnects to a new host", async () => {
    const endpoint = await endpointFor(kind, "killed");
    const first = await startHostProcess(endpoint);
    const client = clientFor(first.url);
    try {
      const { pid: firstPid } = await client.invoke<{ pid: number }>("test.echo", { value: "warm" });
      const settled: { at: number; error: CommandError }[] = [];
      const pending = Array.from({ length: 200 }, () =>
        client.invoke("test.hold").then(
          () => expect.unreachable("test.hold never answers"),
          (error: CommandError) => void settled.push({ at: performance.now(), error }),
        ),
      );
      // Frames are in order on the connection: once this echo is answered, the host holds all 200.
      await client.invoke("test.echo", { value: "after the holds" });
      expect(client.inFlight).toBe(200);
      const killedAt = performance.now();
      first.child.kill("SIGKILL");
      await Promise.all(pending);
      expect(settled).toHaveLength(200);
      for (const { at, error } of settled) {
        expect(error.code).toBe("TRANSPORT_CLOSED");
        expect(error.retryable).toBe(true);
        expect(error.command).toBe("test.hold");
        expect(at - killedAt).toBeLessThan(100);
      }
      await first.exited;

      // With no host the client fails fast; when a host comes back it reconnects on its own.
      await expect(client.invoke("test.echo", { value: "nobody" })).rejects.toMatchObject({ code: "TRANSPORT_CLOSED" });
      const second = await startHostProcess(endpoint);
      try {
        let answer: { value: string; pid: number } | undefined;
        for (let attempt = 0; attempt < 50 && !answer; attempt++) {
          answer = await client.invoke<{ value: string; pid: number }>("test.echo", { value: "back" }).catch(async (error: CommandError) => {
            expect(error.code).toBe("TRANSPORT_CLOSED");
            await new Promise((resolve) => setTimeout(resolve, 50));
            return undefined;
          });
        }
        expect(answer?.value).toBe("back");
        expect(answer?.pid).not.toBe(firstPid);
        expect(answer?.pid).toBe(second.child.pid);
      } finally {
        await kill(second.child, second.exited);
      }
    } finally {
      await client.close();
      await kill(first.child, first.exited);
    }
  });
});

describe("stdio transport", () => {
  it("carries 1,000 concurrent commands from a child process to its parent host, answered in random order", async () => {
    let report: ClientReport | undefined;
    const host = reportingHost((received) => (report = received));
    const child = spawn(NODE, [CLIENT_SCRIPT], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, CF_CMD_ENDPOINT: "stdio", COUNT: "1000" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const served = serveNodeStream(host, child.stdout, child.stdin);
    const code = await exited;
    await served;
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(report).toMatchObject({ runtime: "node", count: 1000, mismatches: 0, outOfOrder: true, cached: "hello from the test host", greeting: "hi" });
  });

  it("fails pending calls with TRANSPORT_CLOSED when the host side of stdio goes away", async () => {
    const child = spawn(
      NODE,
      [
        "--input-type=module",
        "-e",
        `import { createCommandClient } from ${JSON.stringify(`${ROOT}dist/src/command/index.js`)};
         const client = createCommandClient({ endpoint: { kind: "stdio" } });
         const outcome = await Promise.allSettled([client.invoke("test.hold"), client.invoke("test.hold")]);
         const later = await client.invoke("host.ping").catch((error) => error.code);
         process.stderr.write(JSON.stringify({ outcome: outcome.map((result) => result.reason?.code), later }));`,
      ],
      { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let frames = "";
    await new Promise<void>((resolve) =>
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        frames += chunk;
        if (frames.split("\n").length > 2) resolve();
      }),
    );
    child.stdin.end();
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    expect(JSON.parse(stderr.slice(stderr.indexOf("{")))).toEqual({ outcome: ["TRANSPORT_CLOSED", "TRANSPORT_CLOSED"], later: "TRANSPORT_CLOSED" });
  });
});
