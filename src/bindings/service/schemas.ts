/**
 * Payload schema of `service.fetch` and the wire shapes of a fetch exchange, which Durable Object
 * stubs (`durable_object.fetch`) share: a request (method, absolute URL, headers, body) and a
 * response (status, status text, headers, body).
 */
import * as v from "valibot";
import type { BodyMarker } from "../../protocol/body.ts";
import type { EncodedBytes } from "../../protocol/bytes.ts";
import { BytesOrBodySchema, HeaderListSchema, withBinding } from "../schemas.ts";

/** An HTTP method: a token (RFC 9110); `GET`, `PATCH`, also custom ones. */
const METHOD_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An absolute http: or https: URL: what a Fetcher's `fetch` takes (relative URLs are a TypeError in Workers too). */
const httpUrl = v.pipe(
  v.string(),
  v.check((value) => /^https?:\/\/[^/?#]/i.test(value) && URL.canParse(value), "url must be an absolute http(s) URL"),
);

/** The members of a request on the wire, shared by `service.fetch` and `durable_object.fetch`. */
export const FetchRequestEntries = {
  url: httpUrl,
  method: v.optional(v.pipe(v.string(), v.regex(METHOD_RE, "method must be an HTTP method")), "GET"),
  headers: v.optional(HeaderListSchema, []),
  /** The request body: a body marker (its bytes follow the frame), a base64 envelope, or null. */
  body: v.optional(v.nullable(BytesOrBodySchema), null),
  /** `manual` passes redirects back instead of following them (the Fetcher's default is `follow`). */
  redirect: v.optional(v.picklist(["follow", "manual"])),
};

/** Requests with these methods carry no body (a Request refuses one). */
export const BODYLESS_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);

/** A request of GET or HEAD has no body. */
export function noBodyForGet<Request extends { method: string; body: unknown }>() {
  return v.check<Request, string>(
    (request) => request.body === null || !BODYLESS_METHODS.has(request.method.toUpperCase()),
    "body: a GET or HEAD request has no body",
  );
}

/** `service.fetch`: one request to the service binding. */
const serviceFetch = v.object({ ...withBinding, ...FetchRequestEntries });
export const ServiceFetchPayloadSchema = v.pipe(serviceFetch, noBodyForGet<v.InferOutput<typeof serviceFetch>>());

/** A response on the wire: what `service.fetch` answers, and `durable_object.fetch` beside the id. */
export interface FetchResponseJson {
  status: number;
  statusText?: string;
  /** Pairs, in the order the response's Headers iterate them (`set-cookie` one pair each). */
  headers: [string, string][];
  /** A body marker (the bytes follow the answer's frame), a base64 envelope, or null (no body). */
  body: BodyMarker | EncodedBytes | null;
}
