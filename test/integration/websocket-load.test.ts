/**
 * WebSockets in serve() under load, on every runtime (issue 14), each app a real process on
 * loopback with real clients (Node's global WebSocket): 1,000 sockets open at once, and a
 * SIGTERM in the middle of streams of messages, where every message the server's hook accepted
 * must have been echoed, in order, before the 1001 close. The fixture is test/fixtures/ws/load.mjs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";
import { connectMany, connectSocket, until, WAIT_MS, within } from "./ws-client.ts";

const APP = `${ROOT}test/fixtures/ws/load.mjs`;
const ENV = { CONTAINERFLARE_LOG_FORMAT: "json", CONTAINERFLARE_SHUTDOWN_TIMEOUT: "20" };
const SOCKETS = 1000;
/** Bound of each stream: it is meant to be cut by the shutdown long before. */
const MAX_MESSAGES = 20_000;
const MESSAGE_BYTES = 1024;
/** Messages a stream may have sent ahead of its echoes: what is in flight when the close comes. */
const WINDOW = 256;

const wsUrl = (app: RunningApp) => `${app.url.replace(/^http/, "ws")}/load`;

interface ServerClose {
  tag?: string;
  code?: number;
  reason?: string;
  received: number;
  ordered: boolean;
}

/** The close lines the fixture printed. */
const serverCloses = (app: RunningApp) =>
  app.jsonLogs().flatMap((line) => (line.wsClose ? [line.wsClose as ServerClose] : []));

interface Stats {
  count: number;
  peers: number;
  fds: number;
  rss: number;
}

/** Stream message SEQ of socket TAG: exactly MESSAGE_BYTES of text. */
function frame(tag: string, seq: number): string {
  const head = `s:${tag}:${seq}:`;
  return head + "x".repeat(MESSAGE_BYTES - head.length);
}

interface Streamer {
  tag: string;
  /** Starts sending. */
  start(): void;
  /** Messages sent so far. */
  sent(): number;
  /** Echoes received so far, each checked against what was sent (a wrong one stops the count). */
  received(): number;
  /** The first echo that was not the next one expected. */
  mismatch(): string | undefined;
  /** The close the client saw, with what it had sent and received by then. */
  closed: Promise<{ code: number; reason: string; wasClean: boolean; sent: number; received: number }>;
}

/**
 * A client that sends numbered messages as fast as their echoes come back (at most WINDOW ahead)
 * until MAX_MESSAGES, its close, or the wait runs out, and checks every echo.
 */
function stream(url: string, tag: string): Promise<Streamer> {
  const ws = new WebSocket(url);
  let sent = 0;
  let received = 0;
  let mismatch: string | undefined;
  ws.addEventListener("message", (event) => {
    if (mismatch !== undefined) return;
    if (event.data === frame(tag, received)) received++;
    else mismatch = `echo ${received} of ${tag}: ${String(event.data).slice(0, 40)}`;
  });
  const closed = new Promise<Awaited<Streamer["closed"]>>((resolve) =>
    ws.addEventListener("close", (event) =>
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean, sent, received }),
    ),
  );
  const pump = async () => {
    const deadline = Date.now() + 2 * WAIT_MS;
    while (sent < MAX_MESSAGES && ws.readyState === WebSocket.OPEN && Date.now() < deadline) {
      for (let burst = 0; burst < 32 && sent < MAX_MESSAGES && sent - received < WINDOW; burst++) {
        ws.send(frame(tag, sent++));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("socket did not open")), WAIT_MS);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolve({
        tag,
        start: () => void pump(),
        sent: () => sent,
        received: () => received,
        mismatch: () => mismatch,
        closed,
      });
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error("handshake failed"));
    });
  });
}

describe.each(RUNTIMES)("WebSockets under load on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("1,000 concurrent sockets: each gets its own echo, the server has 1,000 open at once, all close cleanly", async () => {
    app = await startApp(runtime, APP, ENV);
    const url = wsUrl(app);
    // One socket first: the process's file descriptors with one socket open.
    const probe = await connectSocket(url);
    probe.ws.send("stats");
    const before = JSON.parse((await probe.next()) as string) as Stats;
    expect(before).toMatchObject({ count: 1, peers: 1 });
    probe.ws.close(1000);
    await within(probe.closed, "probe close");
    await until(() => serverCloses(app as RunningApp).length === 1, "probe close hook");

    const started = performance.now();
    const clients = await connectMany(url, SOCKETS, 100);
    const opened = performance.now();
    // Every socket sends one distinct message and gets exactly its own back.
    for (const [index, client] of clients.entries()) client.ws.send(`id:${index}`);
    const echoes = await within(Promise.all(clients.map((client) => client.next())), "1,000 echoes");
    expect(echoes).toEqual(clients.map((_, index) => `id:${index}`));
    // All of them open on the server at the same time, in the fixture's count and crossws's peers.
    clients[SOCKETS - 1]?.ws.send("stats");
    const loaded = JSON.parse((await clients[SOCKETS - 1]?.next()) as string) as Stats;
    expect(loaded).toMatchObject({ count: SOCKETS, peers: SOCKETS });
    expect(loaded.fds).toBeGreaterThanOrEqual(SOCKETS);

    const closing = performance.now();
    for (const client of clients) client.ws.close(1000, "done");
    const closes = await within(Promise.all(clients.map((client) => client.closed)), "1,000 closes");
    expect(closes.every((close) => close.code === 1000)).toBe(true);
    // The server's close hook saw each socket, by its tag, with the client's code and reason.
    await until(() => serverCloses(app as RunningApp).length === SOCKETS + 1, "1,000 close hooks");
    const seen = serverCloses(app).slice(1);
    expect(seen.map((close) => Number(close.tag)).sort((a, b) => a - b)).toEqual(clients.map((_, index) => index));
    expect(seen.every((close) => close.code === 1000 && close.reason === "done")).toBe(true);
    const done = performance.now();

    // Nothing is left behind: a new socket is the only one, and the descriptors are back.
    const after = await connectSocket(url);
    after.ws.send("stats");
    const left = JSON.parse((await after.next()) as string) as Stats;
    expect(left).toMatchObject({ count: 1, peers: 1 });
    expect(left.fds).toBeLessThanOrEqual(before.fds + 8);
    after.ws.close(1000);
    await within(after.closed, "last close");
    expect(app.child.exitCode).toBeNull();
    console.info(
      `${runtime.name}: ${SOCKETS} sockets open in ${Math.round(opened - started)} ms, echoed in ` +
        `${Math.round(closing - opened)} ms, closed in ${Math.round(done - closing)} ms; fds ${before.fds} → ` +
        `${loaded.fds} → ${left.fds}, rss ${Math.round(before.rss / 2 ** 20)} → ${Math.round(loaded.rss / 2 ** 20)} → ` +
        `${Math.round(left.rss / 2 ** 20)} MiB`,
    );
  });

  it.each([1, 8])("SIGTERM while %i socket(s) stream: no message accepted before the close is lost", async (count) => {
    app = await startApp(runtime, APP, ENV);
    const url = wsUrl(app);
    const streamers = await Promise.all(Array.from({ length: count }, (_, index) => stream(url, `t${index}`)));
    // All at once, once all are open: none is far ahead of the others when the signal comes.
    for (const streamer of streamers) streamer.start();
    // Well into the streams, and every one still sending.
    await until(() => streamers.every((streamer) => streamer.received() >= 100), "echoes before SIGTERM");
    const signalledAt = performance.now();
    app.child.kill("SIGTERM");
    const closes = await within(Promise.all(streamers.map((streamer) => streamer.closed)), "1001 closes");
    const closedAfter = Math.round(performance.now() - signalledAt);
    expect(await within(app.exited, "exit")).toBe(0);

    const lines = serverCloses(app);
    for (const [index, streamer] of streamers.entries()) {
      const close = closes[index] as Awaited<Streamer["closed"]>;
      // The close cut the stream: the client was still sending when it came.
      expect(close.sent).toBeLessThan(MAX_MESSAGES);
      // The echoes the client got are exactly 0..k-1, and the server's hook got its messages in order.
      expect(streamer.mismatch()).toBeUndefined();
      const line = lines.find((entry) => entry.tag === streamer.tag);
      expect(line?.ordered).toBe(true);
      // Bun, on a loaded machine (CI), may end a socket that is still streaming with 1006 instead
      // of 1001, as a bare Bun.serve does under the same load (close() to each socket, then
      // stop(), while clients send): the same guarantees as on Deno are what holds then.
      if (runtime.name === "deno" || (runtime.name === "bun" && close.code === 1006)) {
        // Deno's server WebSocket drops its connection at the first data frame it reads after
        // its own close() (ext/websocket 01_websocket.js, _eventLoop: "close the connection if
        // read was cancelled"), before its queued echoes and close frame are written: a client
        // that is still sending gets 1006 and loses the last echoes. Nothing above the runtime
        // can send the close frame first. What holds: no echo is wrong, out of order or extra.
        expect([1001, 1006]).toContain(close.code);
        expect(close.received).toBeLessThanOrEqual(line?.received ?? -1);
        continue;
      }
      expect(close).toMatchObject({ code: 1001, reason: "server shutting down", wasClean: true });
      // Every message the server's hook got was echoed back before the close: k is the server's count.
      expect(line?.received).toBe(close.received);
    }
    const total = closes.reduce((sum, close) => sum + close.received, 0);
    const shutdown = app.jsonLogs().find((line) => "shutdown" in line)?.shutdown as { open: number; received: number };
    expect(shutdown.open).toBe(0);
    expect(shutdown.received).toBe(lines.reduce((sum, line) => sum + line.received, 0));
    if (runtime.name !== "deno" && closes.every((close) => close.code === 1001)) expect(shutdown.received).toBe(total);
    console.info(
      `${runtime.name}: ${count} stream(s) cut by SIGTERM after ` +
        `${closes.map((close, index) => `${close.received}/${lines.find((line) => line.tag === `t${index}`)?.received}/${close.sent}`).join(", ")} ` +
        `echoed/accepted/sent, all closed ${closedAfter} ms after SIGTERM`,
    );
  });
});
