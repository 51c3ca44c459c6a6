import { encodeCell, mapRow } from "../../command/cells.ts";
import { decodeBytes, isEncodedBytes, toArrayBuffer } from "../../protocol/bytes.ts";
import { type CommandDefinition, defineCommand } from "../handler.ts";
import { D1BatchPayloadSchema, D1ExecPayloadSchema, D1QueryPayloadSchema } from "../schemas.ts";

interface D1Like {
  prepare(sql: string): StatementLike;
  batch(statements: StatementLike[]): Promise<D1ResultLike[]>;
  exec(sql: string): Promise<unknown>;
}
interface StatementLike {
  bind(...values: unknown[]): StatementLike;
  all(): Promise<D1ResultLike>;
  run(): Promise<D1ResultLike>;
  first(column?: string): Promise<unknown>;
  raw(options?: { columnNames?: boolean }): Promise<unknown[][]>;
}
interface D1ResultLike {
  results?: unknown[];
  [key: string]: unknown;
}

function statement(db: D1Like, sql: string, params: readonly unknown[]): StatementLike {
  const prepared = db.prepare(sql);
  if (params.length === 0) return prepared;
  return prepared.bind(...params.map((value) => (isEncodedBytes(value) ? toArrayBuffer(decodeBytes(value)) : value)));
}

/** A D1Result with every cell made JSON-safe (bytes as envelopes). */
function wireResult(result: D1ResultLike): D1ResultLike {
  return { ...result, results: (result.results ?? []).map((row) => mapRow(row, encodeCell)) };
}

/** `d1.*` commands against a Workers D1Database. */
export const d1Commands: Record<string, CommandDefinition> = {
  "d1.query": defineCommand({
    schema: D1QueryPayloadSchema,
    kind: "d1",
    async run(payload, db: D1Like) {
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
          const rows = await prepared.raw(payload.columnNames ? { columnNames: true } : undefined);
          return rows.map((row) => mapRow(row, encodeCell));
        }
      }
    },
  }),
  "d1.batch": defineCommand({
    schema: D1BatchPayloadSchema,
    kind: "d1",
    async run(payload, db: D1Like) {
      const results = await db.batch(payload.statements.map((entry) => statement(db, entry.sql, entry.params)));
      return results.map(wireResult);
    },
  }),
  "d1.exec": defineCommand({
    schema: D1ExecPayloadSchema,
    kind: "d1",
    run(payload, db: D1Like) {
      return db.exec(payload.sql);
    },
  }),
};
