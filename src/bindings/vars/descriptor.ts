import * as v from "valibot";
import { type DevSection, defineBinding } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type { EnvGetPayloadSchema } from "./schemas.ts";

/** Payload and result of `env.get`. */
export type VarsCommands = {
  "env.get": { payload: v.InferInput<typeof EnvGetPayloadSchema>; result: { value: unknown } };
};

const varsSection = v.record(bindingName, v.unknown());

/**
 * Vars: plain values the host exposes (`env.get`, and all at once in `host.describe`). Not an
 * object with methods, so never detected; `env.NAME` reads the value itself.
 */
export const vars = defineBinding<VarsCommands>()({
  kind: "var",
  title: "var",
  commands: { "env.get": { read: true } },
  dev: {
    key: "vars",
    schema: varsSection,
    bindings: (section) => Object.fromEntries(Object.keys(section).map((name) => [name, "var"])),
    miniflare: (section) => ({ bindings: section }),
  } satisfies DevSection<typeof varsSection>,
});
