import { CommandError } from "../../errors.ts";
import { NULL_BODY_STATUSES } from "../../internal/http.ts";
import { encodeBytes } from "../../protocol/bytes.ts";
import { type CommandDefinition, defineCommand } from "../handler.ts";
import { AssetsFetchPayloadSchema, EmptyPayloadSchema, EnvGetPayloadSchema } from "../schemas.ts";

/** The assets binding ignores the host name: only the path (and query) matter. */
const ASSETS_ORIGIN = "https://assets.local";

/** `host.*`, `assets.fetch` and `env.get`. */
export const miscCommands: Record<string, CommandDefinition> = {
  "host.ping": defineCommand({
    schema: EmptyPayloadSchema,
    run: () => ({ pong: true, time: Date.now() }),
  }),
  "host.describe": defineCommand({
    schema: EmptyPayloadSchema,
    run: (_payload, _binding, context) => context.describe(),
  }),
  "assets.fetch": defineCommand({
    schema: AssetsFetchPayloadSchema,
    kind: "assets",
    async run(payload, assets, context) {
      const response: Response = await assets.fetch(`${ASSETS_ORIGIN}${payload.path}`, {
        method: payload.method,
        headers: payload.headers,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      const bytes =
        payload.method === "HEAD" || NULL_BODY_STATUSES.has(response.status) ? null : await response.arrayBuffer();
      return {
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers],
        body: bytes === null ? null : encodeBytes(bytes),
      };
    },
  }),
  "env.get": defineCommand({
    schema: EnvGetPayloadSchema,
    run(payload, _binding, context) {
      if (!Object.hasOwn(context.vars, payload.binding)) {
        throw new CommandError("NO_BINDING", `env.get: no var named ${payload.binding}`);
      }
      return { value: context.vars[payload.binding] ?? null };
    },
  }),
};
