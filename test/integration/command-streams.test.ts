/**
 * The command bus over real processes: 1,000 concurrent commands per stream transport against a
 * host that answers in random order, a host killed with SIGKILL mid-flight, reconnection; and
 * hostile clients (issue 9, items 4 and 5): one that never reads, thousands of slow commands on
 * one connection, more connections than allowed, partial lines on many connections, and a
 * client whose host does not read. Needs `npm run build` (the child processes run dist/).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandClient, type CommandError, createCommandClient } from "../../src/command/index.ts";
import { parseCommandEndpoint } from "../../src/config.ts";
import { serveNodeStream } from "../../src/host/node.ts";
import {
  CLIENT_SCRIPT,
  type ClientReport,
  FLOOD_SCRIPT,
  type HostProcess,
  kill,
  NODE,
  ROOT,
  reportingHost,
  startHostProcess,
} from "../fixtures/command/processes.ts";
import { freePort, RUNTIMES, type Runtime } from "./runtimes.ts";

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
          client
            .invoke<{ value: number }>("test.echo", { value: index, delayMs: Math.floor(Math.random() * 30) })
            .then((answer) => {
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
          answer = await client
            .invoke<{ value: string; pid: number }>("test.echo", { value: "back" })
            .catch(async (error: CommandError) => {
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
    expect(report).toMatchObject({
      runtime: "node",
      count: 1000,
      mismatches: 0,
      outOfOrder: true,
      cached: "hello from the test host",
      greeting: "hi",
    });
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
    expect(JSON.parse(stderr.slice(stderr.indexOf("{")))).toEqual({
      outcome: ["TRANSPORT_CLOSED", "TRANSPORT_CLOSED"],
      later: "TRANSPORT_CLOSED",
    });
  });
});

const MiB = 1024 * 1024;

/** The in-process memory a host reports, after a GC: heap plus array buffers. */
interface HostStats {
  started: number;
  finished: number;
  aborted: number;
  memory: { heapUsed: number; arrayBuffers: number };
}
const held = (stats: HostStats) => stats.memory.heapUsed + stats.memory.arrayBuffers;

async function statsOf(host: HostProcess): Promise<HostStats> {
  const client = clientFor(host.url);
  try {
    return await client.invoke<HostStats>("test.stats");
  } finally {
    await client.close();
  }
}

/** Waits, bounded, until `done()`; returns whether it happened. */
async function waitFor(done: () => boolean | Promise<boolean>, ms: number, step = 50): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await new Promise((resolve) => setTimeout(resolve, step));
  }
  return done();
}

/** A raw tcp connection to a host: frames out, answer lines in (when it reads at all). */
function rawConnection(url: string) {
  const { port } = new URL(url.replace(/^tcp:/, "http:"));
  const socket = createConnection({ host: "127.0.0.1", port: Number(port) });
  const answers: { id: number; ok: boolean; error?: { code: string; message: string; retryable: boolean } }[] = [];
  let closed = false;
  let text = "";
  socket.on("error", () => undefined);
  socket.on("close", () => (closed = true));
  socket.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk;
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) answers.push(JSON.parse(line));
  });
  const opened = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    answers,
    opened,
    get closed() {
      return closed;
    },
    send: (frames: string) => new Promise<void>((resolve) => socket.write(frames, () => resolve())),
  };
}

const frameLine = (id: number, command: string, payload: unknown) =>
  `${JSON.stringify({ v: 1, id, command, payload })}\n`;

/** The host under `runtime`, with V8's GC exposed where test.stats can use it. */
function hostLauncher(runtime: Runtime): (script: string) => [string, string[]] {
  return (script) => {
    const [command, args] = runtime.command(script);
    if (runtime.name.startsWith("node")) return [command, ["--expose-gc", ...args]];
    if (runtime.name === "deno") return [command, [args[0]!, "--v8-flags=--expose-gc", ...args.slice(1)]];
    return [command, args];
  };
}

describe("a hostile client on a tcp host process", () => {
  it("never read: the host pauses it, keeps its finished answers unencoded, closes it (logged) once it stalls, and serves others", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, {
      memoryBindings: true,
      options: { host: { streams: { stalledOutputMs: 1500 } } },
      launch: hostLauncher(RUNTIMES[0]!),
    });
    const writer = clientFor(host.url);
    try {
      await writer.invoke("kv.put", { binding: "CACHE", key: "big", value: "x".repeat(MiB) });
      const before = held(await statsOf(host));
      const stuck = rawConnection(host.url);
      stuck.socket.pause();
      await stuck.opened;
      let frames = "";
      for (let id = 1; id <= 300; id++) frames += frameLine(id, "kv.get", { binding: "CACHE", key: "big" });
      await stuck.send(frames);
      // 300 answers of 1 MiB: before the fix the host kept them all encoded (+295 MiB) and the connection open.
      const logged = await waitFor(
        () => host.stderr().includes("closing the connection: the client took none"),
        20_000,
      );
      expect(logged, host.stderr()).toBe(true);
      expect(held(await statsOf(host)) - before).toBeLessThan(32 * MiB);
      expect(await writer.invoke("host.ping")).toMatchObject({ pong: true });
      // Once it reads again, the stuck client finds its connection closed.
      stuck.socket.resume();
      expect(await waitFor(() => stuck.closed, 10_000)).toBe(true);
    } finally {
      await writer.close();
      await kill(host.child, host.exited);
    }
  });

  it("a healthy client asking for 64 answers of 1 MiB at once gets all of them (a burst is no reason to close)", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, {
      memoryBindings: true,
      launch: hostLauncher(RUNTIMES[0]!),
    });
    const client = clientFor(host.url);
    try {
      await client.invoke("kv.put", { binding: "CACHE", key: "big", value: "x".repeat(MiB) });
      const sizes = await Promise.all(
        Array.from({ length: 64 }, () =>
          client.invoke("kv.get", { binding: "CACHE", key: "big" }).then((answer) => JSON.stringify(answer).length),
        ),
      );
      expect(sizes).toHaveLength(64);
      for (const size of sizes) expect(size).toBeGreaterThanOrEqual(MiB);
      expect(host.stderr()).not.toContain("closing the connection");
    } finally {
      await client.close();
      await kill(host.child, host.exited);
    }
  });

  it("5,000 slow commands on one connection: 1,024 run, the rest are answered UNAVAILABLE at once; a disconnect aborts them", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, { launch: hostLauncher(RUNTIMES[0]!) });
    try {
      const before = await statsOf(host);
      const client = rawConnection(host.url);
      await client.opened;
      let frames = "";
      for (let id = 1; id <= 5_000; id++) frames += frameLine(id, "test.slow", { ms: 120_000 });
      await client.send(frames);
      expect(await waitFor(() => client.answers.length >= 5_000 - 1_024, 15_000)).toBe(true);
      expect(client.answers).toHaveLength(5_000 - 1_024);
      for (const answer of client.answers) {
        expect(answer.error).toEqual({
          code: "UNAVAILABLE",
          message:
            "the host runs at most 1024 commands in flight per connection (maxInFlight); retry once some are answered",
          retryable: true,
        });
      }
      const during = await statsOf(host);
      expect(during.started - before.started).toBe(1_024);
      // Before the fix 100k slow commands kept running after the disconnect, holding +168 MB.
      client.socket.destroy();
      expect(await waitFor(async () => (await statsOf(host)).aborted === 1_024, 10_000, 200)).toBe(true);
      const after = await statsOf(host);
      expect(after.finished).toBe(0);
      expect(held(after) - held(before)).toBeLessThan(8 * MiB);
    } finally {
      await kill(host.child, host.exited);
    }
  });

  it("16 connections with 4 MiB partial lines share a 16 MiB buffer budget; lines that find it used are answered UNAVAILABLE", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, {
      options: { host: { maxFrameBytes: 4 * MiB }, listener: { maxBufferedBytes: 16 * MiB } },
      launch: hostLauncher(RUNTIMES[0]!),
    });
    const connections: ReturnType<typeof rawConnection>[] = [];
    try {
      const before = held(await statsOf(host));
      const head = '{"v":1,"id":1,"command":"test.echo","payload":{"value":"';
      const body = Buffer.alloc(4 * MiB - head.length - 64, "x");
      for (let index = 0; index < 16; index++) connections.push(rawConnection(host.url));
      await Promise.all(
        connections.map(async (connection) => {
          await connection.opened;
          return connection.send(`${head}${body}`);
        }),
      );
      // Sampled while the lines are partial: 16 × 4 MiB (+64 MiB) before the fix.
      let highest = 0;
      for (let sample = 0; sample < 10; sample++) {
        highest = Math.max(highest, held(await statsOf(host)) - before);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(highest).toBeLessThan(16 * MiB + 16 * 64 * 1024 + 8 * MiB);
      await Promise.all(connections.map((connection) => connection.send('"}}\n')));
      expect(await waitFor(() => connections.every((connection) => connection.answers.length === 1), 20_000)).toBe(
        true,
      );
      const answers = connections.map((connection) => connection.answers[0]!);
      const refused = answers.filter((answer) => !answer.ok);
      expect(answers.filter((answer) => answer.ok).length).toBeGreaterThanOrEqual(1);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const answer of refused) {
        expect(answer).toMatchObject({ id: 1, error: { code: "UNAVAILABLE", retryable: true } });
        expect(answer.error!.message).toMatch(
          /not read: the host's 16 MiB buffer for partial frames, shared by all connections, is in use; retry$/,
        );
      }
    } finally {
      for (const connection of connections) connection.socket.destroy();
      await kill(host.child, host.exited);
    }
  });
});

describe.each(RUNTIMES)("a tcp host process on $name", (runtime) => {
  it("closes a connection whose client stopped reading for stalledOutputMs (logged) and serves the others", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, {
      options: { host: { streams: { stalledOutputMs: 300 } } },
      launch: hostLauncher(runtime),
    });
    const other = clientFor(host.url);
    try {
      const stuck = rawConnection(host.url);
      stuck.socket.pause();
      await stuck.opened;
      let frames = "";
      for (let id = 1; id <= 40; id++) frames += frameLine(id, "test.blob", { chars: 256 * 1024 });
      await stuck.send(frames);
      expect(
        await waitFor(() => host.stderr().includes("closing the connection: the client took none"), 15_000),
        host.stderr(),
      ).toBe(true);
      expect(await other.invoke("host.ping")).toMatchObject({ pong: true });
      stuck.socket.resume();
      expect(await waitFor(() => stuck.closed, 10_000)).toBe(true);
    } finally {
      await other.close();
      await kill(host.child, host.exited);
    }
  });

  it("closes connections beyond maxConnections at once (logged) and keeps serving the first ones", async () => {
    const host = await startHostProcess(`tcp://127.0.0.1:${await freePort()}`, {
      options: { listener: { maxConnections: 3 } },
      launch: hostLauncher(runtime),
    });
    const clients = [clientFor(host.url), clientFor(host.url), clientFor(host.url)];
    try {
      for (const client of clients) expect(await client.invoke("host.ping")).toMatchObject({ pong: true });
      const extra = [rawConnection(host.url), rawConnection(host.url)];
      expect(await waitFor(() => extra.every((connection) => connection.closed), 10_000)).toBe(true);
      expect(extra.flatMap((connection) => connection.answers)).toEqual([]);
      expect(host.stderr()).toMatch(/warn: command host: 1 connection refused: 3 are open \(maxConnections\)/);
      for (const client of clients) expect(await client.invoke("host.ping")).toMatchObject({ pong: true });
      // A freed place is taken again.
      await clients.pop()!.close();
      const later = clientFor(host.url);
      clients.push(later);
      expect(
        await waitFor(async () => (await later.invoke("host.ping").catch(() => undefined)) !== undefined, 10_000, 100),
      ).toBe(true);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await kill(host.child, host.exited);
    }
  });
});

/** Runs flood-client.mjs under `runtime` against `endpoint`, returning the report it prints on stderr. */
async function flood(
  runtime: Runtime,
  endpoint: string,
): Promise<{ codes: Record<string, number>; message?: { text: string; retryable: boolean } }> {
  const [command, args] = runtime.command(FLOOD_SCRIPT);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CF_CMD_ENDPOINT: endpoint,
      COUNT: "200",
      CHARS: String(256 * 1024),
      MAX_FRAME_BYTES: String(MiB),
    },
    // stdin stays open (the stdio transport must not end) and stdout is never read.
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdout.pause();
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (exitCode, signal) => {
      clearTimeout(timer);
      resolve(exitCode ?? signal);
    });
  });
  expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(stderr.trim().split("\n").at(-1)!);
}

describe.each(RUNTIMES)("a client on $name whose host does not read", (runtime) => {
  // 200 requests of 256 KiB (50 MiB) with a 1 MiB frame limit: at most 2 MiB may wait unsent.
  const expectRefusals = (report: Awaited<ReturnType<typeof flood>>) => {
    expect(report.codes.UNAVAILABLE ?? 0).toBeGreaterThanOrEqual(100);
    expect(report.message).toEqual({
      text: expect.stringMatching(
        /^test\.echo: the command host is not reading: .* of requests wait to be sent \(limit 2 MiB\)$/,
      ),
      retryable: true,
    });
  };

  it("over tcp refuses requests beyond its pending-write bound at once, retryable", async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.pause();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as { port: number };
      expectRefusals(await flood(runtime, `tcp://127.0.0.1:${port}`));
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // Deno's stdout blocks on a full pipe (the kernel's 64 KiB bound it): nothing piles up to refuse.
  it.runIf(runtime.name !== "deno")(
    "over stdio refuses requests beyond its pending-write bound at once, retryable",
    async () => {
      expectRefusals(await flood(runtime, "stdio"));
    },
  );
});
