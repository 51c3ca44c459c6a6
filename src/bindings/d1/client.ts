import type {
  D1Database,
  D1DatabaseSession,
  D1ExecResult,
  D1PreparedStatement,
  D1Result,
} from "@cloudflare/workers-types";
import type { CommandClient, InvokeOptions } from "../../command/client.ts";
import { CommandError } from "../../errors.ts";
import { RemoteBinding } from "../remote-binding.ts";
import { type D1WireCell, decodeCell, encodeCell, mapRow } from "./cells.ts";

/** How `d1.query` runs a statement. */
export type D1QueryMode = "all" | "first" | "run" | "raw";

function decodeResult<T>(result: D1Result<T>): D1Result<T> {
  return { ...result, results: (result.results ?? []).map((row) => mapRow(row, decodeCell) as T) };
}

function encodeParams(params: readonly unknown[]): D1WireCell[] {
  return params.map((value, index) => {
    if (value === undefined)
      throw new TypeError(
        `D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined' (parameter ${index + 1})`,
      );
    return encodeCell(value);
  });
}

/**
 * Runs one SQL statement with `all` semantics (typed helper of the original design):
 * `d1Query(client, "DB", "SELECT * FROM t WHERE id = ?", [1])` → a D1Result.
 */
export async function d1Query<T = Record<string, unknown>>(
  client: CommandClient,
  binding: string,
  sql: string,
  params: readonly unknown[] = [],
  options?: InvokeOptions,
): Promise<D1Result<T>> {
  const result = await client.invoke("d1.query", { binding, sql, params: encodeParams(params), mode: "all" }, options);
  return decodeResult(result as D1Result<T>);
}

/** A D1 prepared statement over the command bus; immutable like D1's (`bind` returns a new one). */
export class D1Statement implements D1PreparedStatement {
  readonly #client: CommandClient;
  readonly #binding: string;
  /** The SQL text. */
  readonly sql: string;
  /** The bound values, as given to `bind`. */
  readonly params: readonly unknown[];

  constructor(client: CommandClient, binding: string, sql: string, params: readonly unknown[] = []) {
    this.#client = client;
    this.#binding = binding;
    this.sql = sql;
    this.params = params;
  }

  /** The binding this statement belongs to (batch checks it). */
  get binding(): string {
    return this.#binding;
  }

  /** A copy with `values` bound to the `?` parameters. */
  bind(...values: unknown[]): D1Statement {
    return new D1Statement(this.#client, this.#binding, this.sql, values);
  }

  /** The wire form `{ sql, params }`. */
  toWire(): { sql: string; params: D1WireCell[] } {
    return { sql: this.sql, params: encodeParams(this.params) };
  }

  #query(mode: D1QueryMode, extra: { column?: string; columnNames?: boolean } = {}): Promise<unknown> {
    return this.#client.invoke("d1.query", { binding: this.#binding, ...this.toWire(), mode, ...extra });
  }

  /** First row (or one column of it), or null. */
  async first<T = unknown>(column?: string): Promise<T | null> {
    const row = await this.#query("first", column === undefined ? {} : { column });
    return row === null || row === undefined ? null : (mapRow(row, decodeCell) as T);
  }

  /** All rows, as a D1Result. */
  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return decodeResult((await this.#query("all")) as D1Result<T>);
  }

  /** Runs the statement, as a D1Result. */
  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return decodeResult((await this.#query("run")) as D1Result<T>);
  }

  /** Rows as arrays; with `{ columnNames: true }` the first array holds the column names. */
  // biome-ignore lint/suspicious/noExplicitAny: the implementation signature of an overloaded Workers method; callers see the overloads of D1PreparedStatement
  async raw<T = unknown[]>(options: { columnNames?: boolean } = {}): Promise<any> {
    const rows = (await this.#query("raw", options.columnNames ? { columnNames: true } : {})) as unknown[][];
    return rows.map((row, index) => (options.columnNames && index === 0 ? row : (mapRow(row, decodeCell) as T)));
  }
}

/** A Workers `D1Database` whose statements run over the command bus. */
export class D1Binding extends RemoteBinding implements D1Database {
  /** A statement; nothing is sent until it runs. */
  prepare(query: string): D1Statement {
    return new D1Statement(this.client, this.bindingName, query);
  }

  /** Runs statements of this database in one transaction; one D1Result each. */
  async batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    const wire = statements.map((statement, index) => {
      if (!(statement instanceof D1Statement) || statement.binding !== this.bindingName) {
        throw new TypeError(`batch() statement ${index + 1} was not prepared by env.${this.bindingName}`);
      }
      return statement.toWire();
    });
    const results = await this.client.invoke("d1.batch", { binding: this.bindingName, statements: wire });
    return results.map((result) => decodeResult(result as D1Result<T>));
  }

  /** Runs raw SQL (several statements allowed) → `{ count, duration }`. */
  exec(query: string): Promise<D1ExecResult> {
    return this.client.invoke("d1.exec", { binding: this.bindingName, sql: query });
  }

  /**
   * A session. Over the command bus every query goes to the host's binding as is, so the
   * session adds no consistency of its own and has no bookmark.
   */
  withSession(): D1DatabaseSession {
    return {
      prepare: (query: string) => this.prepare(query),
      batch: (statements) => this.batch(statements),
      getBookmark: () => null,
    } as D1DatabaseSession;
  }

  /** Not available over the command bus (deprecated in D1 too). */
  async dump(): Promise<ArrayBuffer> {
    throw new CommandError("UNKNOWN_COMMAND", `env.${this.bindingName}.dump() is not available over the command bus`);
  }
}
