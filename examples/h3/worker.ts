/**
 * The Worker in front of the container on Cloudflare: it forwards every request to the container
 * with a signed metadata header, and answers the container's command bus with the bindings
 * listed in `allow` (and nothing else). `wrangler deploy` builds and ships both (wrangler.jsonc).
 * The same Worker as examples/basic: the framework only lives in the container.
 */
import { Container, ContainerProxy } from "@cloudflare/containers";
import { forwardTo, withContainerflare } from "containerflare/worker";

class H3AppContainer extends Container {
  override defaultPort = 8787;
  override sleepAfter = "5m";
}

/** The container's Durable Object class (`class_name` in wrangler.jsonc). */
export const H3App = withContainerflare(H3AppContainer, { allow: ["CACHE", "DB", "JOBS"] });

export default forwardTo("H3_APP");

// The container's outbound requests (the command bus) reach the handler through this entrypoint.
export { ContainerProxy };
