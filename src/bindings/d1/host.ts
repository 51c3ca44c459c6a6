import type { D1Database, D1PreparedStatement, D1Result } from "@cloudflare/workers-types";
import { decodeBytes, isEncodedBytes, toArrayBuffer } from "../../protocol/bytes.ts";
import { defineBindingHost, handler } from "../handler.ts";
import { encodeCell, mapRow } from "./cells.ts";
import { type D1WireRow, d1 } from "./descriptor.ts";
import { D1BatchPayloadSchema, D1ExecPayloadSchema, D1QueryPayloadSchema } from "./schemas.ts";

function statement(db: D1Database, sql: string, params: readonly unknown[]): D1PreparedStatement {
  const prepared = db.prepare(sql);
  if (params.length === 0) return prepared;
  return prepared.bind(...params.map((value) => (isEncodedBytes(value) ? toArrayBuffer(decodeBytes(value)) : value)));
}

/** A D1Result with every cell made JSON-safe (bytes as envelopes). */
function wireResult(result: D1Result<unknown>): D1Result<D1WireRow> {
  return { ...result, results: (result.results ?? []).map((row) => mapRow(row, encodeCell) as D1WireRow) };
}

/** `d1.*` commands against a Workers D1Database. */
export const d1Host = defineBindingHost<typeof d1, D1Database>(d1, {
  "d1.query": handler(D1QueryPayloadSchema, async (payload, db: D1Database) => {
    const prepared = statement(db, payload.sql, payload.params);
    switch (payload.mode) {
      case "all":
        return wireResult(await prepared.all());
      case "run":
        return wireResult(await prepared.run());
      case "first": {
        const row = payload.column === undefined ? await prepared.first() : await prepared.first(payload.column);
        return row === null || row === undefined ? null : mapRow(row, encodeCell);
      }
      case "raw": {
        const rows: unknown[][] = payload.columnNames
          ? await prepared.raw({ columnNames: true })
          : await prepared.raw();
        return rows.map((row) => mapRow(row, encodeCell) as unknown[]);
      }
    }
  }),
  "d1.batch": handler(D1BatchPayloadSchema, async (payload, db: D1Database) => {
    const results = await db.batch(payload.statements.map((entry) => statement(db, entry.sql, entry.params)));
    return results.map(wireResult);
  }),
  "d1.exec": handler(D1ExecPayloadSchema, (payload, db: D1Database) => {
    return db.exec(payload.sql);
  }),
});
