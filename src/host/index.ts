/**
 * `containerflare/host`: the command host. Runtime-agnostic (no node: imports), so the same code
 * answers commands inside the Cloudflare Worker (workerd), in Miniflare and in Node, Bun or Deno.
 * The tcp/unix/stdio listener lives in `./node.ts` (`containerflare/host/node`).
 */
export {
  createCommandHost,
  detectBindingKind,
  type CommandHost,
  type CommandHostOptions,
  type CustomCommand,
} from "./host.ts";
export {
  createStreamSession,
  serveStream,
  type StreamConnection,
  type StreamLimits,
  type StreamSession,
  type StreamSessionOptions,
} from "./session.ts";
export type { HandlerContext } from "./commands/types.ts";
