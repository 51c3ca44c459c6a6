import type {
  MessageSendRequest,
  Queue,
  QueueSendBatchOptions,
  QueueSendBatchResponse,
  QueueSendOptions,
  QueueSendResponse,
} from "@cloudflare/workers-types";
import type { CommandClient, InvokeOptions } from "../../command/client.ts";
import { CommandError } from "../../errors.ts";
import { encodeBytes } from "../../protocol/bytes.ts";
import { RemoteBinding } from "../remote-binding.ts";

/** How a message body is encoded: the `contentType` of QueueSendOptions. */
type QueueContentType = "text" | "bytes" | "json" | "v8";

interface WireMessage {
  body: unknown;
  contentType?: QueueContentType;
  delaySeconds?: number;
}

/** A message body for the wire: bytes become an envelope with `contentType: "bytes"`. */
function wireMessage(body: unknown, contentType?: string, delaySeconds?: number): WireMessage {
  const isBytes = body instanceof ArrayBuffer || ArrayBuffer.isView(body);
  if (isBytes && contentType !== undefined && contentType !== "bytes" && contentType !== "v8") {
    throw new TypeError(`a binary queue message needs contentType "bytes", not "${contentType}"`);
  }
  return {
    body: isBytes ? encodeBytes(body as ArrayBuffer) : body,
    // An unknown contentType is left to the host, which answers INVALID_PAYLOAD naming it.
    contentType: isBytes ? "bytes" : (contentType as QueueContentType | undefined),
    delaySeconds,
  };
}

/** Revives `oldestMessageTimestamp` (an ISO string on the wire) as a Date. */
function reviveSendResponse<T>(response: unknown): T {
  const metrics = (response as { metadata?: { metrics?: { oldestMessageTimestamp?: unknown } } } | null)?.metadata
    ?.metrics;
  if (metrics && typeof metrics.oldestMessageTimestamp === "string")
    metrics.oldestMessageTimestamp = new Date(metrics.oldestMessageTimestamp);
  return (response ?? undefined) as T;
}

/**
 * Sends one message to a queue (typed helper of the original design). Bodies travel as JSON,
 * or as bytes for an ArrayBuffer/view.
 */
export async function queueSend(
  client: CommandClient,
  binding: string,
  body: unknown,
  options: QueueSendOptions & InvokeOptions = {},
): Promise<QueueSendResponse> {
  const { contentType, delaySeconds, ...invokeOptions } = options;
  const result = await client.invoke(
    "queue.send",
    { binding, ...wireMessage(body, contentType, delaySeconds) },
    invokeOptions,
  );
  return reviveSendResponse<QueueSendResponse>(result);
}

/** A Workers `Queue` producer over the command bus. */
export class QueueBinding extends RemoteBinding implements Queue {
  /** `send(body, { contentType, delaySeconds })`. */
  send(message: unknown, options?: QueueSendOptions): Promise<QueueSendResponse> {
    return queueSend(this.client, this.bindingName, message, options);
  }

  /** `sendBatch([{ body, contentType, delaySeconds }], { delaySeconds })`. */
  async sendBatch(
    messages: Iterable<MessageSendRequest>,
    options: QueueSendBatchOptions = {},
  ): Promise<QueueSendBatchResponse> {
    const wire = [...messages].map((message) => wireMessage(message.body, message.contentType, message.delaySeconds));
    const result = await this.client.invoke("queue.sendBatch", {
      binding: this.bindingName,
      messages: wire,
      delaySeconds: options.delaySeconds,
    });
    return reviveSendResponse<QueueSendBatchResponse>(result);
  }

  /** Not available over the command bus. */
  async metrics(): Promise<never> {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `env.${this.bindingName}.metrics() is not available over the command bus`,
    );
  }
}
