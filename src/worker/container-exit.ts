/**
 * How a container's run ended, in one line of our own: `ctx.container.monitor()` resolves on exit
 * code 0 and rejects with the platform's Error otherwise, worded like "container exited with
 * unexpected exit code: 1" or "runtime signalled the container to exit: 143".
 *
 * @module
 */
import { errorMessage } from "../internal/error-message.ts";

/** The end of one container run, as {@link describeExit} reads it from `monitor()`. */
export interface ContainerExit {
  /** Exit code 0. */
  ok: boolean;
  /** The exit code, when the platform named one. */
  code?: number;
  /** One line: "exited with code 1", "was stopped by the runtime (exit code 143)", … */
  reason: string;
}

const UNEXPECTED_EXIT = /container exited with unexpected exit code:\s*(-?\d+)/i;
const SIGNALLED = /runtime signalled the container to exit:\s*(-?\d+)/i;
const NO_INSTANCE = /there is no container instance/i;

/** Longest reason kept from an error the platform words in a way not known here. */
const MAX_REASON_LENGTH = 200;

/**
 * What `monitor()` settled with, as a {@link ContainerExit}: `undefined` (it resolved) is exit
 * code 0; a rejection's error is read for the exit code or the platform's reason.
 */
export function describeExit(error?: unknown): ContainerExit {
  if (error === undefined) return { ok: true, code: 0, reason: "exited with code 0" };
  const message = errorMessage(error);
  const unexpected = UNEXPECTED_EXIT.exec(message);
  if (unexpected) return { ok: false, code: Number(unexpected[1]), reason: `exited with code ${unexpected[1]}` };
  const signalled = SIGNALLED.exec(message);
  if (signalled) {
    return {
      ok: false,
      code: Number(signalled[1]),
      reason: `was stopped by the runtime (exit code ${signalled[1]})`,
    };
  }
  if (NO_INSTANCE.test(message)) return { ok: false, reason: "got no container instance from the platform" };
  return { ok: false, reason: `failed: ${oneLine(message)}` };
}

/** `text`'s first line, at most {@link MAX_REASON_LENGTH} characters. */
export function oneLine(text: string): string {
  const line = text.split("\n", 1)[0]!.trim();
  return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 1)}…` : line;
}
