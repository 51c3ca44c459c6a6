import type { ChildProcess } from "node:child_process";
import { ofetch } from "ofetch";
import { errorMessage } from "../../internal/error-message.ts";
import { formatBytes } from "../../protocol/bytes.ts";
import { DEFAULT_MAX_FRAME_BYTES, encodeFailure, leadingFrameId } from "../../protocol/frames.ts";
import { createLineSplitter } from "../../protocol/lines.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../request-signature.ts";

/** Options of {@link bridgeStdio}. */
export interface StdioBridgeOptions {
  /** The command host's HTTP endpoint (one POST per frame). */
  url: string;
  /** The dev secret: every POST is signed with it, as the app's own HTTP transport would. */
  secret: string;
  /** Frame size limit in bytes (default 16 MiB). */
  maxFrameBytes?: number;
  /** Where the app's own stdout lines (anything that is not a frame) go. */
  output?: (line: string) => void;
}

const FRAME_START = /^\s*\{\s*"v"\s*:/;
/**
 * Most frames relayed at once, like a stream host's per-connection cap: while this many are on
 * their way the bridge stops reading the app's stdout, so the app's own client (which bounds what
 * its host has not read) feels the backpressure instead of the bridge holding frames without end.
 */
const MAX_RELAYS_IN_FLIGHT = 256;

/**
 * Carries the command bus of an app started with `CF_CMD_ENDPOINT=stdio`: each request frame
 * the app writes to its stdout is POSTed, signed with the dev secret, to the command host (which
 * refuses unsigned requests), and the host's answer goes back
 * to the app's stdin as one line. Frames are handled concurrently and answered in any order,
 * as the protocol allows. Lines that are not frames (the app's own prints) are passed to
 * `output`, so a stray `console.log` neither breaks the bus nor gets lost.
 */
export function bridgeStdio(child: ChildProcess, options: StdioBridgeOptions): void {
  const { url, secret } = options;
  const target = new URL(url);
  const signedPath = target.pathname + target.search;
  const encoder = new TextEncoder();
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const output = options.output ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stdin = child.stdin;
  const stdout = child.stdout;
  if (!stdin || !stdout) throw new TypeError("bridgeStdio needs a child spawned with piped stdin and stdout");
  stdin.on("error", () => {
    // The app exited while an answer was on its way: nobody is left to read it.
  });

  const answer = (line: string) => {
    if (stdin.writable) stdin.write(`${line}\n`);
  };

  const relay = async (frame: string) => {
    const id = leadingFrameId(frame) ?? 0;
    try {
      const bytes = encoder.encode(frame);
      const signature = await signCommandRequest(secret, { method: "POST", path: signedPath, body: bytes });
      const response = await ofetch.raw<string, "text">(url, {
        method: "POST",
        body: bytes,
        headers: { "content-type": "application/json", [REQUEST_SIGNATURE_HEADER]: signature },
        responseType: "text",
        retry: false,
        ignoreResponseError: true,
      });
      const body = response._data;
      if (typeof body === "string" && body.startsWith("{")) answer(body.trim());
      else {
        const message = `the command host answered HTTP ${response.status} without an answer frame`;
        answer(encodeFailure(id, { code: "INTERNAL", message, retryable: false }));
      }
    } catch (error) {
      const message = `cannot reach the command host: ${errorMessage(error)}`;
      answer(encodeFailure(id, { code: "UNAVAILABLE", message, retryable: true }));
    }
  };

  // Frames beyond the cap wait here while stdout is paused: at most what one chunk held past it.
  let inFlight = 0;
  const waiting: string[] = [];
  const start = (frame: string) => {
    inFlight++;
    void relay(frame).finally(() => {
      inFlight--;
      const next = waiting.shift();
      if (next !== undefined) start(next);
      else if (stdout.isPaused()) stdout.resume();
    });
  };
  const splitter = createLineSplitter({
    maxLineBytes: maxFrameBytes,
    onLine(line) {
      if (!FRAME_START.test(line)) return output(line);
      if (inFlight < MAX_RELAYS_IN_FLIGHT) return start(line);
      waiting.push(line);
      stdout.pause();
    },
    onOversized(prefix, bytes) {
      const id = leadingFrameId(prefix);
      if (id === undefined) return;
      const message = `frame of ${formatBytes(bytes)} exceeds the ${formatBytes(maxFrameBytes)} limit`;
      answer(encodeFailure(id, { code: "TOO_LARGE", message, retryable: false }));
    },
  });
  stdout.on("data", (chunk: Uint8Array) => splitter.push(chunk));
}
