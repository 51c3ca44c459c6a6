import type * as v from "valibot";
import { asUint8Array, decodeBytes, encodeBytes, isEncodedBytes, toArrayBuffer } from "../../protocol/bytes.ts";
import type { D1ParamSchema } from "./schemas.ts";

/** A SQL value on the wire: what `D1ParamSchema` accepts. */
export type D1WireCell = v.InferOutput<typeof D1ParamSchema>;

/**
 * SQL values on the wire. D1 takes and returns primitives; an ArrayBuffer (or view) travels as a
 * bytes envelope and comes back as an ArrayBuffer. Rows are objects or arrays of such values.
 */
export function encodeCell(value: unknown): D1WireCell {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value))
    return encodeBytes(asUint8Array(value as ArrayBufferView));
  if (typeof value === "bigint") {
    if (!Number.isSafeInteger(Number(value))) throw new RangeError(`integer ${value} does not fit a JSON number`);
    return Number(value);
  }
  return value as D1WireCell;
}

/** Inverse of {@link encodeCell}. */
export function decodeCell(value: unknown): unknown {
  return isEncodedBytes(value) ? toArrayBuffer(decodeBytes(value)) : value;
}

/** Applies `codec` to every cell of a row (object or array); other values pass through it whole. */
export function mapRow(row: unknown, codec: (value: unknown) => unknown): unknown {
  if (Array.isArray(row)) return row.map(codec);
  if (
    row !== null &&
    typeof row === "object" &&
    !ArrayBuffer.isView(row) &&
    !(row instanceof ArrayBuffer) &&
    !isEncodedBytes(row)
  ) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) out[key] = codec(value);
    return out;
  }
  return codec(row);
}
