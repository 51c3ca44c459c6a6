import type { ConsolaInstance } from "consola";
import type { CommandError } from "../../errors.ts";
import type { BodySource } from "../../protocol/body.ts";

/** One encoded request frame on its way out. */
export interface OutgoingFrame {
  id: number;
  command: string;
  /** The frame's JSON text, without a trailing newline. */
  text: string;
  /** Whether the command only reads (safe to send again after a network error). */
  read: boolean;
  /**
   * Bytes that travel as the exchange's body (`text` holds a body marker where they belong):
   * only handed to a transport that {@link Transport.carriesBodies}; the client inlines them
   * for the others.
   */
  body?: BodySource;
  /** The payload `text` encodes, kept for a transport that must inline {@link body} after all. */
  payload?: unknown;
  /** The answer may carry a body: send it where one can come back (an HTTP v2 solo exchange). */
  streamed?: boolean;
}

/** How a transport reports back to the client. */
export interface TransportSink {
  /**
   * One received frame's text (a line, or an HTTP body). `expectedId`: the frame must answer
   * this id (HTTP pairs each answer with its request) or it is dropped. `body`: the raw bytes
   * that followed the frame (an HTTP v2 solo exchange), for the result's body marker.
   */
  receive(text: string, expectedId?: number, body?: ReadableStream<Uint8Array>): void;
  /** A frame whose id could be read arrived above the size limit. */
  oversized(id: number | undefined, bytes: number): void;
  /** The command `id` failed in the transport (not answered by the host). */
  fail(id: number, error: CommandError): void;
  /** The connection went away: every command in flight fails with `error`. */
  drop(error: CommandError): void;
  /** Whether `id` still waits for its answer (a transport stops retrying when it does not). */
  isPending(id: number): boolean;
}

/** What every transport gets. */
export interface TransportContext {
  sink: TransportSink;
  logger: ConsolaInstance;
  maxFrameBytes: number;
}

/** A way to carry frames to a command host and answers back. */
export interface Transport {
  /** Whether frames may be handed over with their raw {@link OutgoingFrame.body} (HTTP); else the client inlines it. */
  readonly carriesBodies?: boolean;
  /** Sends one frame; never throws (failures go to the sink). */
  send(frame: OutgoingFrame): void;
  /**
   * The client gave up on `id` (timeout, abort): stop any work for it. True when the transport
   * stopped it itself (aborted an exchange of its own); otherwise the client sends `host.cancel`.
   */
  cancel?(id: number): boolean;
  /** Closes the connection; in-flight commands are failed by the client, not here. */
  close(): Promise<void>;
}
