/**
 * The WebSocket load generator of bench/websocket.ts, run as its own Node process (with an IPC
 * channel) against one server:
 * `node bench/lib/ws-client.ts <ws-url> <sockets> <message-bytes> <raw|websocket>`.
 *
 * It opens the sockets, says `ready`, then runs what the harness asks: for
 * `{ type: "run", round, seconds, maxMessages }` every socket sends one text message and waits
 * for its echo before sending the next (a closed loop), until the time is up or the message cap
 * is reached; then it waits for the echoes still on the way and answers `result` with the sums of
 * the round so far. Round-trip times go into one fixed-size histogram per round, so memory does
 * not grow with the number of messages.
 *
 * Two clients: `websocket` is Node's global WebSocket (undici); `raw` speaks RFC 6455 itself over
 * node:net (bench/lib/ws-raw.ts), with each socket's masked frame built once, so that the client
 * costs less CPU per message than the servers it measures (on two cores the client shares the
 * machine with the server, and undici's client costs more per message than some servers).
 */
import process from "node:process";
import { LatencyHistogram } from "./histogram.ts";
import { connectRaw, type EchoSocket } from "./ws-raw.ts";

/**
 * What the harness sends. A run belongs to a round: the result of a run sums every run of its
 * round so far (messages, time, CPU, and one histogram for the percentiles), so a round can be
 * measured in short slices that alternate with the other server's.
 */
export type ClientCommand = { type: "run"; round: number; seconds: number; maxMessages: number } | { type: "exit" };

/** The two client implementations. */
export type ClientKind = "raw" | "websocket";

/** What one run measured. */
export interface ClientRun {
  /** Echoes received within the round's runs (the throughput's numerator). */
  messages: number;
  /** Seconds of sending, from each run's first send to its end, summed over the round's runs. */
  seconds: number;
  messagesPerSecond: number;
  /** Round-trip percentiles and mean in µs. */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  /** Echoes that were not the message sent, and sockets that closed during the run. */
  errors: number;
  /** Echoes that had not come back 5 s after their run ended. */
  lost: number;
  /** This process's CPU time (user + system) over the runs, per message, in µs. */
  clientCpuUsPerMessage: number;
  /** This process's CPU time over the runs divided by their wall time (1 = one core busy all along). */
  clientCpuShare: number;
  /** Runs summed into this result. */
  runs: number;
}

/** The sums of one round's runs so far. */
interface Round {
  id: number;
  histogram: LatencyHistogram;
  messages: number;
  seconds: number;
  errors: number;
  lost: number;
  cpuUs: number;
  wallSeconds: number;
  runs: number;
}

/** What the client sends. */
export type ClientReport =
  | { type: "ready"; openMs: number }
  | { type: "result"; run: ClientRun }
  | { type: "error"; message: string };

const OPEN_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 5_000;
/** Longest run the client accepts, whatever it is asked. */
const MAX_RUN_SECONDS = 120;

interface Slot {
  socket: EchoSocket;
  sentAt: number;
  waiting: boolean;
}

function report(message: ClientReport): void {
  process.send?.(message);
}

/** One socket through Node's global WebSocket. */
function connectWebSocket(url: string, payload: string): Promise<EchoSocket> {
  const ws = new WebSocket(url);
  const socket: EchoSocket = {
    onEcho: () => {},
    onClose: () => {},
    send: () => ws.send(payload),
    close: () => ws.close(1000),
  };
  ws.addEventListener("message", (event) => socket.onEcho(event.data === payload));
  ws.addEventListener("close", () => socket.onClose());
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(socket), { once: true });
    ws.addEventListener("error", () => reject(new Error(`a socket to ${url} failed to open`)), { once: true });
  });
}

/** Opens `count` sockets at once; rejects when one fails or they are not all open in time. */
async function openSockets(url: string, count: number, payload: string, kind: ClientKind): Promise<EchoSocket[]> {
  const opened = Array.from({ length: count }, () =>
    kind === "raw" ? connectRaw(url, payload, OPEN_TIMEOUT_MS) : connectWebSocket(url, payload),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${count} sockets not open within ${OPEN_TIMEOUT_MS} ms`)),
      OPEN_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([Promise.all(opened), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One closed-loop run over every socket, summed into `round`; resolves with the round so far. */
function run(sockets: EchoSocket[], round: Round, seconds: number, maxMessages: number): Promise<ClientRun> {
  const histogram = round.histogram;
  const slots: Slot[] = sockets.map((socket) => ({ socket, sentAt: 0, waiting: false }));
  let messages = 0;
  let errors = 0;
  let inFlight = 0;
  let stopped = false;
  let finished = false;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + Math.min(seconds, MAX_RUN_SECONDS) * 1000;
  let ended = deadline;

  return new Promise<ClientRun>((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(endTimer);
      clearTimeout(drainTimer);
      for (const { socket } of slots) {
        socket.onEcho = () => {};
        socket.onClose = () => {};
      }
      const cpu = process.cpuUsage(cpuBefore);
      round.cpuUs += cpu.user + cpu.system;
      round.wallSeconds += (performance.now() - started) / 1000;
      round.seconds += (ended - started) / 1000;
      round.messages += messages;
      round.errors += errors;
      round.lost += inFlight;
      round.runs++;
      resolve({
        messages: round.messages,
        seconds: round.seconds,
        messagesPerSecond: round.messages / round.seconds,
        p50Us: histogram.percentile(0.5),
        p99Us: histogram.percentile(0.99),
        p999Us: histogram.percentile(0.999),
        maxUs: histogram.max,
        meanUs: histogram.mean(),
        errors: round.errors,
        lost: round.lost,
        clientCpuUsPerMessage: round.cpuUs / round.messages,
        clientCpuShare: round.cpuUs / 1e6 / round.wallSeconds,
        runs: round.runs,
      });
    };
    /** Sending stops (time or cap): finish once the last echo is back, or after the drain timeout. */
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (inFlight === 0) return finish();
      drainTimer = setTimeout(finish, DRAIN_TIMEOUT_MS);
    };
    const endTimer = setTimeout(stop, deadline - started);

    for (const slot of slots) {
      slot.socket.onEcho = (same) => {
        const now = performance.now();
        if (!slot.waiting) return;
        slot.waiting = false;
        inFlight--;
        if (!same) errors++;
        if (!stopped && now <= deadline) {
          histogram.record((now - slot.sentAt) * 1000);
          messages++;
          if (messages >= maxMessages) {
            ended = now;
            stop();
          } else {
            slot.sentAt = now;
            slot.waiting = true;
            inFlight++;
            slot.socket.send();
          }
        } else if (!stopped) stop();
        if (stopped && inFlight === 0) finish();
      };
      slot.socket.onClose = () => {
        errors++;
        if (slot.waiting) {
          slot.waiting = false;
          inFlight--;
        }
        if (stopped && inFlight === 0) finish();
      };
    }
    for (const slot of slots) {
      slot.sentAt = performance.now();
      slot.waiting = true;
      inFlight++;
      slot.socket.send();
    }
  });
}

async function main(): Promise<void> {
  const [url, socketsArg, bytesArg, kindArg] = process.argv.slice(2);
  const count = Number(socketsArg);
  const bytes = Number(bytesArg);
  if (!url?.startsWith("ws://127.0.0.1:") || !Number.isSafeInteger(count) || count < 1 || count > 1024)
    throw new Error("usage: ws-client.ts ws://127.0.0.1:<port>/ <sockets 1-1024> <message bytes> <raw|websocket>");
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 1024 * 1024)
    throw new Error("message bytes must be 1 to 1048576");
  if (kindArg !== "raw" && kindArg !== "websocket") throw new Error("the client is raw or websocket");
  const payload = "x".repeat(bytes);

  const opening = performance.now();
  const sockets = await openSockets(url, count, payload, kindArg);
  report({ type: "ready", openMs: performance.now() - opening });

  let busy = false;
  let round: Round | undefined;
  process.on("message", (command: ClientCommand) => {
    if (command.type === "exit") {
      for (const socket of sockets) socket.close();
      process.disconnect?.();
      return;
    }
    if (busy) return report({ type: "error", message: "a run is already under way" });
    busy = true;
    if (!round || round.id !== command.round) {
      round = {
        id: command.round,
        histogram: new LatencyHistogram(),
        messages: 0,
        seconds: 0,
        errors: 0,
        lost: 0,
        cpuUs: 0,
        wallSeconds: 0,
        runs: 0,
      };
    }
    run(sockets, round, command.seconds, command.maxMessages).then(
      (result) => {
        busy = false;
        report({ type: "result", run: result });
      },
      (error: unknown) => report({ type: "error", message: String(error) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
}

main().catch((error: unknown) => {
  report({ type: "error", message: (error as Error).message ?? String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
