/**
 * Schema pieces every binding kind's payloads are built from.
 * Each kind's own payload schemas live in its folder (`kv/schemas.ts`, …): the single source of
 * truth for the host's validation (INVALID_PAYLOAD) and for the client's payload types.
 * docs/protocol.md spells the same shapes out in prose.
 */
import * as v from "valibot";
import { BodyMarkerSchema } from "../protocol/body.ts";
import { EncodedBytesSchema } from "../protocol/bytes.ts";

/** What a binding name looks like (a JavaScript identifier without `$`): `CACHE`, `DB`, `my_kv`. */
export const BINDING_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A binding name (`CACHE`). */
export const bindingName = v.pipe(v.string(), v.regex(BINDING_NAME_RE, "expected a binding name like CACHE"));
/** A non-negative integer. */
export const nonNegativeInt = v.pipe(v.number(), v.integer(), v.minValue(0));
/** A non-empty key (KV, R2). */
export const key = v.pipe(v.string(), v.nonEmpty("key must not be empty"));
/** An ISO 8601 date-time string: how dates travel. */
export const isoDate = v.pipe(v.string(), v.isoTimestamp("dates travel as ISO 8601 strings"));
/** `[[name, value], …]`: headers keep repeated names (set-cookie) this way. */
export const HeaderListSchema = v.array(v.tuple([v.string(), v.string()]));

/** The `binding` member every binding-touching payload carries. */
export const withBinding = { binding: bindingName };

/** Empty payload: `null` or `{}`. */
export const EmptyPayloadSchema = v.nullish(v.object({}));

/**
 * Bytes on the wire where a payload carries them: a base64 envelope, or a body marker whose
 * bytes follow the frame (docs/protocol.md, "Streamed bodies").
 */
export const BytesOrBodySchema = v.union([EncodedBytesSchema, BodyMarkerSchema]);
