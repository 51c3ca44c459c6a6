/**
 * Payload schemas of the `durable_object.*` commands and the wire shapes of their results. An id
 * travels as what the container knows of it: the name it was derived from (`idFromName`), or its
 * 64 hex digits (`idFromString`, `newUniqueId`).
 */
import * as v from "valibot";
import { withBinding } from "../schemas.ts";
import { FetchRequestEntries, type FetchResponseJson, noBodyForGet } from "../service/schemas.ts";

/** What `DurableObjectId.toString()` gives: 64 lower-case hex digits. */
export const DURABLE_OBJECT_ID_RE = /^[0-9a-f]{64}$/;

/** A jurisdiction (`eu`, `fedramp`): ids by name and unique ids are made within it. */
const jurisdiction = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,31}$/, "jurisdiction must be a name like eu"));

/** An id on the wire: `{"name": …, "jurisdiction"?: …}` or `{"hex": …}`. */
export const DurableObjectIdSchema = v.union([
  v.object({ name: v.string(), jurisdiction: v.optional(jurisdiction) }),
  v.object({ hex: v.pipe(v.string(), v.regex(DURABLE_OBJECT_ID_RE, "hex must be 64 lower-case hex digits")) }),
]);

/** An id on the wire. */
export type DurableObjectIdJson = v.InferInput<typeof DurableObjectIdSchema>;

/** `durable_object.newUniqueIds`: up to 64 fresh unique ids (none of them an object yet). */
export const DurableObjectNewUniqueIdsPayloadSchema = v.object({
  ...withBinding,
  count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)), 1),
  jurisdiction: v.optional(jurisdiction),
});

/** `durable_object.fetch`: one request to the object an id names. */
const durableObjectFetch = v.object({
  ...withBinding,
  id: DurableObjectIdSchema,
  /** `get(id, { locationHint })`: where to create the object if it does not exist yet. */
  locationHint: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z-]{1,15}$/, "locationHint must be a name like weur"))),
  ...FetchRequestEntries,
});
export const DurableObjectFetchPayloadSchema = v.pipe(
  durableObjectFetch,
  noBodyForGet<v.InferOutput<typeof durableObjectFetch>>(),
);

/** Result of `durable_object.newUniqueIds`. */
export interface DurableObjectIdsJson {
  ids: string[];
}

/** Result of `durable_object.fetch`: the object's response, and its id's hex (so that `toString()` works). */
export interface DurableObjectResponseJson extends FetchResponseJson {
  id: string;
}
