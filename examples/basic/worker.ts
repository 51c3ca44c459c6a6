/**
 * The Worker in front of the container on Cloudflare: it forwards every request to the container
 * with a signed metadata header, and each Cron Trigger and queue batch to the app's `scheduled`
 * and `queue` handlers (applying the batch's acks and retries), and answers the container's
 * command bus with the bindings listed in `allow` (and nothing else). `wrangler deploy` builds
 * and ships both (wrangler.jsonc).
 */
import { Container, ContainerProxy } from "@cloudflare/containers";
import { forwardTo, withContainerflare } from "containerflare/worker";

class BasicAppContainer extends Container {
  override defaultPort = 8787;
  override sleepAfter = "5m";
}

/** The container's Durable Object class (`class_name` in wrangler.jsonc). */
export const BasicApp = withContainerflare(BasicAppContainer, { allow: ["CACHE", "DB", "JOBS"], vars: ["GREETING"] });

// `fetch`, `scheduled` and `queue`: requests and events all go to the container.
export default forwardTo("BASIC_APP");

// The container's outbound requests (the command bus) reach the handler through this entrypoint.
export { ContainerProxy };
