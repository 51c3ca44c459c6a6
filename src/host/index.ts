/**
 * `containerflare/host`: the command host. Runtime-agnostic (no node: imports), so the same code
 * answers commands inside the Cloudflare Worker (workerd), in Miniflare and in Node, Bun or Deno.
 * The tcp/unix/stdio listener lives in `./node.ts` (`containerflare/host/node`).
 */

export type { HandlerContext } from "../bindings/handler.ts";
export { detectBindingKind } from "../bindings/registry.ts";
export { type CommandHost, type CommandHostOptions, type CustomCommand, createCommandHost } from "./host.ts";
export {
  createStreamSession,
  type StreamConnection,
  type StreamLimits,
  type StreamSession,
  type StreamSessionOptions,
  serveStream,
} from "./session.ts";
