/** The result of `host.describe`: which bindings (and vars) a host offers, of which kinds. */
import * as v from "valibot";
import { BINDING_KINDS, type BindingKind } from "./registry.ts";
import { bindingName } from "./schemas.ts";

/** Result of `host.describe`. */
export const DescribeResultSchema = v.object({
  v: v.optional(v.number()),
  // A kind this client does not know (a newer host's) is left out, not a reason to refuse the rest.
  bindings: v.pipe(
    v.record(bindingName, v.string()),
    v.transform((bindings) => {
      const known: Record<string, BindingKind> = {};
      for (const [name, kind] of Object.entries(bindings))
        if ((BINDING_KINDS as readonly string[]).includes(kind)) known[name] = kind as BindingKind;
      return known;
    }),
  ),
  vars: v.optional(v.record(v.string(), v.unknown())),
  limits: v.optional(v.object({ maxFrameBytes: v.optional(v.number()) })),
});

/** What `host.describe` answers. */
export type DescribeResult = v.InferOutput<typeof DescribeResultSchema>;
