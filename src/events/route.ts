/**
 * The event route's names and limit, apart from the schemas (protocol.ts) so that serve() can
 * recognise an event at start-up without loading valibot's event schemas.
 *
 * @module
 */

/** Path of the event route on the container. */
export const EVENTS_PATH = "/__containerflare/v1/events";

/** Header of an event's request signature: `t=<ms>,v1=<hex HMAC-SHA256(secret, t.METHOD.path.sha256(body))>`. */
export const EVENT_SIGNATURE_HEADER = "x-containerflare-event-signature";

/**
 * Largest event body the container reads: 32 MiB. A Cloudflare batch holds at most 100 messages
 * of at most 128 KB (12.5 MiB, ~17 MiB as base64); the rest is headroom, not an invitation.
 */
export const MAX_EVENT_BODY_BYTES = 32 * 2 ** 20;
