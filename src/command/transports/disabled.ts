import { CommandError } from "../../errors.ts";
import type { OutgoingFrame, Transport, TransportContext } from "./types.ts";

/** The default reason when none is given. */
export const DEFAULT_UNAVAILABLE_REASON = "no command host is configured; set CF_CMD_ENDPOINT to reach one";

/** No command host: every command fails at once with UNAVAILABLE and `reason`. */
export function createDisabledTransport(context: TransportContext, reason = DEFAULT_UNAVAILABLE_REASON): Transport {
  return {
    send(frame: OutgoingFrame) {
      context.sink.fail(
        frame.id,
        new CommandError("UNAVAILABLE", `${frame.command}: ${reason}`, { command: frame.command }),
      );
    },
    async close() {},
  };
}
