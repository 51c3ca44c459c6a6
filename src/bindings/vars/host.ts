import { CommandError } from "../../errors.ts";
import { defineBindingHost, handler } from "../handler.ts";
import { vars } from "./descriptor.ts";
import { EnvGetPayloadSchema } from "./schemas.ts";

/** `env.get`: the value of a var the host exposes. */
export const varsHost = defineBindingHost<typeof vars, undefined>(vars, {
  "env.get": handler(EnvGetPayloadSchema, (payload, _binding: undefined, context) => {
    if (!Object.hasOwn(context.vars, payload.binding)) {
      throw new CommandError("NO_BINDING", `env.get: no var named ${payload.binding}`);
    }
    return { value: context.vars[payload.binding] ?? null };
  }),
});
