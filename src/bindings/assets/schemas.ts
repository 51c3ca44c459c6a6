/** Payload schema of `assets.fetch` and the wire shape of its result. */
import * as v from "valibot";
import type { BodyMarker } from "../../protocol/body.ts";
import type { EncodedBytes } from "../../protocol/bytes.ts";
import { HeaderListSchema, withBinding } from "../schemas.ts";

/** `assets.fetch`: a path (with query) on the assets binding. */
export const AssetsFetchPayloadSchema = v.object({
  ...withBinding,
  path: v.pipe(v.string(), v.startsWith("/", "path must start with /")),
  method: v.optional(v.pipe(v.string(), v.regex(/^[A-Z]+$/, "method must be an upper-case HTTP method")), "GET"),
  headers: v.optional(HeaderListSchema, []),
});

/** Result of `assets.fetch`. */
export interface AssetResponseJson {
  status: number;
  statusText?: string;
  headers: [string, string][];
  body: EncodedBytes | BodyMarker | null;
}
