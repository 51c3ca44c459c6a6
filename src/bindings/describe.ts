/** The result of `host.describe`: which bindings (and vars) a host offers, of which kinds. */
import * as v from "valibot";
import { BINDING_KINDS } from "./registry.ts";
import { bindingName } from "./schemas.ts";

/** Result of `host.describe`. */
export const DescribeResultSchema = v.object({
  v: v.optional(v.number()),
  bindings: v.record(bindingName, v.picklist(BINDING_KINDS)),
  vars: v.optional(v.record(v.string(), v.unknown())),
  limits: v.optional(v.object({ maxFrameBytes: v.optional(v.number()) })),
});

/** What `host.describe` answers. */
export type DescribeResult = v.InferOutput<typeof DescribeResultSchema>;
