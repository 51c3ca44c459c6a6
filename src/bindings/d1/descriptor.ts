import type { D1ExecResult, D1Result } from "@cloudflare/workers-types";
import * as v from "valibot";
import { defineBinding, storeListSection } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type { D1BatchPayloadSchema, D1ExecPayloadSchema, D1QueryPayloadSchema } from "./schemas.ts";

/** A row on the wire: cells JSON-safe (bytes as envelopes, see cells.ts). */
export type D1WireRow = Record<string, unknown>;

/** Payload and result of every `d1.*` command. */
export type D1Commands = {
  /** `all`/`run` → a D1Result, `first` → a row (or one cell) or null, `raw` → rows as arrays. */
  "d1.query": {
    payload: v.InferInput<typeof D1QueryPayloadSchema>;
    result: D1Result<D1WireRow> | D1WireRow | unknown[][] | unknown;
  };
  "d1.batch": { payload: v.InferInput<typeof D1BatchPayloadSchema>; result: D1Result<D1WireRow>[] };
  "d1.exec": { payload: v.InferInput<typeof D1ExecPayloadSchema>; result: D1ExecResult };
};

const name = v.pipe(v.string(), v.nonEmpty());

/** D1 databases (`D1Database`). */
export const d1 = defineBinding<D1Commands>()({
  kind: "d1",
  title: "D1 database",
  commands: {
    "d1.query": { read: false },
    "d1.batch": { read: false },
    "d1.exec": { read: false },
  },
  detect: ["prepare", "batch", "exec"],
  dev: storeListSection({
    key: "d1_databases",
    entry: v.looseObject({ binding: bindingName, database_name: v.optional(name), database_id: v.optional(name) }),
    store: (entry) => entry.database_id ?? entry.database_name ?? entry.binding,
    option: "d1Databases",
    persist: { option: "d1Persist", directory: "d1" },
  }),
});
