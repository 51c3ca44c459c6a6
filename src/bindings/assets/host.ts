import { NULL_BODY_STATUSES } from "../../internal/http.ts";
import { bodyMarker, defineBindingHost, handler, streamedResult } from "../handler.ts";
import { assets } from "./descriptor.ts";
import { AssetsFetchPayloadSchema } from "./schemas.ts";

/** The assets binding ignores the host name: only the path (and query) matter. */
const ASSETS_ORIGIN = "https://assets.local";

/**
 * The part of a Fetcher the handler calls, in this runtime's own Request types: workers-types
 * declares its own AbortSignal and Response, which the runtime lib's do not satisfy.
 */
interface AssetsFetcher {
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** `assets.fetch` against a Workers assets binding (a Fetcher). */
export const assetsHost = defineBindingHost<typeof assets, AssetsFetcher>(assets, {
  "assets.fetch": handler(AssetsFetchPayloadSchema, async (payload, assets: AssetsFetcher, context) => {
    const response = await assets.fetch(`${ASSETS_ORIGIN}${payload.path}`, {
      method: payload.method,
      headers: payload.headers,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const noBody = payload.method === "HEAD" || NULL_BODY_STATUSES.has(response.status) || !response.body;
    if (noBody) void response.body?.cancel().catch(() => undefined);
    const length = Number(response.headers.get("content-length") ?? Number.NaN);
    return streamedResult(
      {
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers],
        body: noBody ? null : bodyMarker(Number.isSafeInteger(length) && length >= 0 ? length : undefined),
      },
      noBody ? null : (response.body as ReadableStream<Uint8Array>),
    );
  }),
});
