import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola, type LogObject } from "consola";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type CommandClient, CommandError, createCommandClient } from "../../src/command/index.ts";

const directory = mkdtempSync(join(tmpdir(), "cf-client-"));
let sockets = 0;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface RequestFrame {
  v: number;
  id: number;
  command: string;
  payload: unknown;
}

/** A unix-socket host whose answers the test scripts frame by frame. */
async function scriptedHost(respond: (frame: RequestFrame, socket: Socket) => void) {
  const path = join(directory, `h${sockets++}.sock`);
  const frames: RequestFrame[] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.setEncoding("utf8");
    let buffered = "";
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const frame = JSON.parse(buffered.slice(0, newline)) as RequestFrame;
        buffered = buffered.slice(newline + 1);
        frames.push(frame);
        respond(frame, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of open) socket.destroy();
      server.close(() => resolve());
    });
  cleanups.push(close);
  return { path, frames, open, close };
}

function answer(socket: Socket, id: number, payload: unknown) {
  socket.write(`${JSON.stringify({ v: 1, id, ok: true, payload })}\n`);
}

function capturingLogger() {
  const logs: LogObject[] = [];
  const logger = createConsola({ level: 5, reporters: [{ log: (logObj) => void logs.push(logObj) }] });
  return { logger, logs, text: () => logs.map((log) => `${log.type}: ${log.args.join(" ")}`) };
}

function clientFor(
  path: string,
  options: { timeoutMs?: number; logger?: ReturnType<typeof capturingLogger>["logger"]; maxFrameBytes?: number } = {},
): CommandClient {
  const client = createCommandClient({ endpoint: { kind: "unix", path }, ...options });
  cleanups.push(() => client.close());
  return client;
}

describe("CommandClient over a stream", () => {
  it("costs nothing until the first command, then matches answers given in reverse order", async () => {
    const held: RequestFrame[] = [];
    const host = await scriptedHost((frame, socket) => {
      held.push(frame);
      if (held.length === 3)
        for (const pending of held.reverse()) answer(socket, pending.id, { echo: pending.payload });
    });
    const client = clientFor(host.path);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(host.open.size).toBe(0);
    const results = await Promise.all([client.invoke("a.b", 1), client.invoke("a.b", 2), client.invoke("a.b", 3)]);
    expect(results).toEqual([{ echo: 1 }, { echo: 2 }, { echo: 3 }]);
    expect(host.frames.map((frame) => frame.v)).toEqual([1, 1, 1]);
    expect(new Set(host.frames.map((frame) => frame.id)).size).toBe(3);
  });

  it("drops malformed lines, unknown ids and duplicate answers, logging each, and delivers only the right answer", async () => {
    const host = await scriptedHost((frame, socket) => {
      socket.write("this is not json\n");
      socket.write('{"v":1}\n');
      socket.write(`${JSON.stringify({ v: 2, id: frame.id, ok: true, payload: "wrong version" })}\n`);
      socket.write(`${JSON.stringify({ v: 1, id: frame.id, ok: "yes", payload: "wrong shape" })}\n`);
      socket.write("[1,2,3]\n");
      answer(socket, frame.id + 1000, "unknown id");
      answer(socket, frame.id, `right ${frame.payload}`);
      answer(socket, frame.id, "duplicate");
    });
    const { logger, text } = capturingLogger();
    const client = clientFor(host.path, { logger });
    expect(await client.invoke("x.y", 1)).toBe("right 1");
    expect(await client.invoke("x.y", 2)).toBe("right 2");
    const lines = text();
    expect(lines.filter((line) => line.startsWith("warn: dropped a malformed frame")).length).toBeGreaterThanOrEqual(5);
    expect(lines.some((line) => line.includes("nothing in flight with that id"))).toBe(true);
  });

  it("fails the caller with TOO_LARGE when its answer is a 20 MiB line, and keeps working", async () => {
    const host = await scriptedHost((frame, socket) => {
      if (frame.command === "big")
        socket.write(`{"v":1,"id":${frame.id},"ok":true,"payload":"${"x".repeat(20 * 1024 * 1024)}"}\n`);
      else answer(socket, frame.id, "small");
    });
    const { logger, text } = capturingLogger();
    const client = clientFor(host.path, { logger });
    const error = await client.invoke("big").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).code).toBe("TOO_LARGE");
    expect((error as CommandError).message).toMatch(/answer of 20 MiB exceeds the 16 MiB frame limit/);
    expect(await client.invoke("small")).toBe("small");
    expect(text().some((line) => line.includes("above the 16 MiB frame limit"))).toBe(true);
  });

  it("drops a 20 MiB line with no readable id and keeps working", async () => {
    const host = await scriptedHost((frame, socket) => {
      socket.write(`${"y".repeat(20 * 1024 * 1024)}\n`);
      answer(socket, frame.id, "after");
    });
    const client = clientFor(host.path);
    expect(await client.invoke("x.y")).toBe("after");
  });

  it("refuses to send a frame above the limit: TOO_LARGE, nothing sent", async () => {
    const host = await scriptedHost((frame, socket) => answer(socket, frame.id, "ok"));
    const client = clientFor(host.path, { maxFrameBytes: 1024 });
    const error = (await client
      .invoke("kv.put", { binding: "CACHE", key: "k", value: "z".repeat(2048) })
      .catch((caught: unknown) => caught)) as CommandError;
    expect(error.code).toBe("TOO_LARGE");
    expect(await client.invoke("x.y", "small")).toBe("ok");
    expect(host.frames.map((frame) => frame.command)).toEqual(["x.y"]);
  });

  it("times out a command the host never answers (TIMEOUT) and drops its late answer", async () => {
    let late: (() => void) | undefined;
    const host = await scriptedHost((frame, socket) => {
      if (frame.command === "slow") late = () => answer(socket, frame.id, "too late");
      else if (frame.command === "kv.get") return;
      else answer(socket, frame.id, "fast");
    });
    const { logger, text } = capturingLogger();
    const client = clientFor(host.path, { timeoutMs: 5_000, logger });
    const started = Date.now();
    const error = (await client
      .invoke("slow", null, { timeout: 150 })
      .catch((caught: unknown) => caught)) as CommandError;
    expect(error.code).toBe("TIMEOUT");
    expect(error.retryable).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    late!();
    expect(await client.invoke("fast")).toBe("fast");
    expect(client.inFlight).toBe(0);
    expect(text().some((line) => line.includes("nothing in flight with that id"))).toBe(true);
    const read = (await client
      .invoke("kv.get", { binding: "CACHE", key: "k" }, { timeout: 50 })
      .catch((caught: unknown) => caught)) as CommandError;
    expect(read.code).toBe("TIMEOUT");
    expect(read.retryable).toBe(true);
  });

  it("rejects an aborted call with the signal's reason, before or during flight", async () => {
    const host = await scriptedHost(() => undefined);
    const client = clientFor(host.path);
    const controller = new AbortController();
    const pending = client.invoke("x.y", null, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await expect(client.invoke("x.y", null, { signal: AbortSignal.abort(new Error("gone")) })).rejects.toThrow("gone");
    expect(client.inFlight).toBe(0);
  });

  it("rejects a payload that is not JSON with INVALID_PAYLOAD", async () => {
    const host = await scriptedHost(() => undefined);
    const client = clientFor(host.path);
    await expect(client.invoke("x.y", { n: 1n })).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
  });

  it("turns error frames into CommandErrors, unknown codes into INTERNAL", async () => {
    const host = await scriptedHost((frame, socket) => {
      const error =
        frame.command === "odd"
          ? { code: "TEAPOT", message: "short and stout" }
          : { code: "FORBIDDEN", message: "nope", retryable: false };
      socket.write(`${JSON.stringify({ v: 1, id: frame.id, ok: false, error })}\n`);
    });
    const client = clientFor(host.path);
    await expect(client.invoke("x.y")).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: "nope",
      command: "x.y",
      status: 403,
    });
    await expect(client.invoke("odd")).rejects.toMatchObject({ code: "INTERNAL", message: "TEAPOT: short and stout" });
  });

  it("fails commands in flight with a retryable TRANSPORT_CLOSED when the host drops the connection, then reconnects", async () => {
    let first: Socket | undefined;
    const host = await scriptedHost((frame, socket) => {
      first ??= socket;
      if (socket === first) setTimeout(() => socket.destroy(), 20);
      else answer(socket, frame.id, "back");
    });
    const client = clientFor(host.path);
    const results = await Promise.allSettled([client.invoke("x.y"), client.invoke("x.y")]);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: "TRANSPORT_CLOSED", retryable: true });
    }
    expect(await client.invoke("x.y")).toBe("back");
  });

  it("fails fast with TRANSPORT_CLOSED when nothing listens", async () => {
    const client = clientFor(join(directory, "nobody.sock"));
    const started = Date.now();
    await expect(client.invoke("x.y")).rejects.toMatchObject({ code: "TRANSPORT_CLOSED", retryable: true });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("never sends a command that timed out while waiting for a connection", async () => {
    const path = join(directory, "late.sock");
    const client = clientFor(path);
    await expect(client.invoke("x.y")).rejects.toMatchObject({ code: "TRANSPORT_CLOSED" });
    // The failed attempt starts a backoff: the next command waits for the next attempt.
    const expired = client.invoke("app.write", "must not run", { timeout: 10 });
    const frames: string[] = [];
    const open = new Set<Socket>();
    const server = createServer((socket) => {
      open.add(socket);
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        for (const line of chunk.split("\n").filter(Boolean)) {
          const frame = JSON.parse(line) as RequestFrame;
          frames.push(frame.command);
          answer(socket, frame.id, "done");
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of open) socket.destroy();
          server.close(() => resolve());
        }),
    );
    await expect(expired).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(await client.invoke("app.after")).toBe("done");
    expect(frames).toEqual(["app.after"]);
  });

  it("close() fails what is in flight and every later call", async () => {
    const host = await scriptedHost(() => undefined);
    const client = clientFor(host.path);
    const pending = client.invoke("x.y").catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.close();
    expect(await pending).toMatchObject({ code: "TRANSPORT_CLOSED" });
    await expect(client.invoke("x.y")).rejects.toMatchObject({ code: "TRANSPORT_CLOSED" });
  });
});

describe("disabled endpoint", () => {
  it("rejects at once with UNAVAILABLE and says why", async () => {
    const client = createCommandClient({
      endpoint: { kind: "disabled" },
      unavailableReason: "no command host on Cloud Run; set CF_CMD_ENDPOINT to reach one",
    });
    const error = (await client
      .invoke("kv.get", { binding: "CACHE", key: "k" })
      .catch((caught: unknown) => caught)) as CommandError;
    expect(error).toBeInstanceOf(CommandError);
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.message).toBe("kv.get: no command host on Cloud Run; set CF_CMD_ENDPOINT to reach one");
    expect(client.inFlight).toBe(0);
    await client.close();
  });
});
