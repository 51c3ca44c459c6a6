/** Payload schemas of the `d1.*` commands. */
import * as v from "valibot";
import { EncodedBytesSchema } from "../../protocol/bytes.ts";
import { withBinding } from "../schemas.ts";

/** A bound parameter: what D1 accepts, bytes as an envelope. */
export const D1ParamSchema = v.union([v.null(), v.number(), v.string(), v.boolean(), EncodedBytesSchema]);

const statement = {
  sql: v.pipe(v.string(), v.nonEmpty("sql must not be empty")),
  params: v.optional(v.array(D1ParamSchema), []),
};

/** `d1.query`: one statement run as `all`, `first` (optionally one `column`), `run` or `raw`. */
export const D1QueryPayloadSchema = v.object({
  ...withBinding,
  ...statement,
  mode: v.optional(v.picklist(["all", "first", "run", "raw"]), "all"),
  column: v.optional(v.string()),
  columnNames: v.optional(v.boolean()),
});

/** `d1.batch`: statements run in one transaction. */
export const D1BatchPayloadSchema = v.object({
  ...withBinding,
  statements: v.pipe(v.array(v.object(statement)), v.minLength(1)),
});

/** `d1.exec`: raw SQL, possibly several statements. */
export const D1ExecPayloadSchema = v.object({ ...withBinding, sql: v.pipe(v.string(), v.nonEmpty()) });
