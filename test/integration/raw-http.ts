/**
 * HTTP/1.1 over a raw TCP connection, for tests that need what fetch hides: one keep-alive
 * connection under their control, pipelined requests (several in one write), or what arrives
 * after the app closes the connection.
 */
import { connect } from "node:net";
import { sleep } from "../../src/internal/sleep.ts";
import type { RunningApp } from "./runtimes.ts";

/** A GET of `path` as raw request bytes. */
export const rawRequest = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/** A parsed response: its status, lower-cased headers and body. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses complete HTTP/1.1 responses (Content-Length bodies) from raw bytes; at most 100. */
export function parseResponses(raw: string): RawResponse[] {
  const responses = [];
  let rest = raw;
  for (let guard = 0; guard < 100; guard++) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) break;
    const [statusLine = "", ...lines] = rest.slice(0, end).split("\r\n");
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(":")).trim().toLowerCase(),
        line.slice(line.indexOf(":") + 1).trim(),
      ]),
    );
    const length = Number(headers["content-length"] ?? 0);
    if (rest.length < end + 4 + length) break;
    responses.push({ status: Number(statusLine.split(" ")[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return responses;
}

/** A raw keep-alive connection to the app, collecting what it receives. */
export function rawConnection(app: RunningApp) {
  const socket = connect(Number(new URL(app.url).port), "127.0.0.1");
  let raw = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (raw += chunk));
  socket.on("error", () => {}); // a reset after the last answer is expected
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    socket,
    raw: () => raw,
    /** The complete responses received so far. */
    responses: () => parseResponses(raw),
    /** Waits until `count` responses have arrived, up to `ms` (then throws how many are missing). */
    async responsesBy(count: number, ms = 5000): Promise<RawResponse[]> {
      const deadline = Date.now() + ms;
      for (let received = parseResponses(raw); ; received = parseResponses(raw)) {
        if (received.length >= count) return received;
        if (Date.now() > deadline) throw new Error(`${count - received.length} of ${count} responses missing`);
        await sleep(2);
      }
    },
    /** Waits (bounded) for the app to close the connection, then drops it. */
    async close() {
      await Promise.race([closed, sleep(2000)]);
      socket.destroy();
    },
  };
}
