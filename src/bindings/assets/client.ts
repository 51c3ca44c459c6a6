import type { CommandClient, InvokeOptions } from "../../command/client.ts";
import { CommandError } from "../../errors.ts";
import { NULL_BODY_STATUSES } from "../../internal/http.ts";
import { answerBytes } from "../../protocol/body.ts";
import { RemoteBinding } from "../remote-binding.ts";

/** Request options of {@link fetchAsset}. */
export interface FetchAssetInit extends InvokeOptions {
  method?: string;
  headers?: ConstructorParameters<typeof Headers>[0];
}

/** `"/a?b"`, `"https://host/a?b"` or a URL → `"/a?b"`: the assets binding only looks at the path. */
function assetPath(input: string | URL): string {
  if (typeof input === "string" && input.startsWith("/")) return input;
  const url = new URL(input);
  return `${url.pathname}${url.search}`;
}

/**
 * Fetches a static asset through the host's assets binding (typed helper of the original
 * design): `fetchAsset(client, "ASSETS", "/index.html")` → a Response.
 */
export async function fetchAsset(
  client: CommandClient,
  binding: string,
  path: string | URL,
  init: FetchAssetInit = {},
): Promise<Response> {
  const { method, headers, ...invokeOptions } = init;
  const { result, body: streamed } = await client.invokeStreamed(
    "assets.fetch",
    {
      binding,
      path: assetPath(path),
      method: (method ?? "GET").toUpperCase(),
      headers: headers === undefined ? [] : [...new Headers(headers)],
    },
    { streamed: true, ...invokeOptions },
  );
  let body = answerBytes(result.body, streamed);
  // A null-body status takes no body: whatever the host streamed is cancelled.
  if (NULL_BODY_STATUSES.has(result.status)) {
    void body?.cancel().catch(() => undefined);
    body = null;
  }
  return new Response(body as ConstructorParameters<typeof Response>[0], {
    status: result.status,
    ...(result.statusText ? { statusText: result.statusText } : {}),
    headers: result.headers,
  });
}

/** The assets binding (a `Fetcher`) over the command bus: `env.ASSETS.fetch(request)`. */
export class AssetsBinding extends RemoteBinding {
  /** Fetches an asset: a path, a URL or a Request (only its method, path and headers travel). */
  fetch(
    input: string | URL | Request,
    init: { method?: string; headers?: ConstructorParameters<typeof Headers>[0] } = {},
  ): Promise<Response> {
    if (typeof input === "object" && "url" in input) {
      return fetchAsset(this.client, this.bindingName, input.url, {
        method: init.method ?? input.method,
        headers: init.headers ?? input.headers,
      });
    }
    return fetchAsset(this.client, this.bindingName, input, {
      ...(init.method ? { method: init.method } : {}),
      ...(init.headers ? { headers: init.headers } : {}),
    });
  }

  /** Not available over the command bus. */
  connect(): never {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `env.${this.bindingName}.connect() is not available over the command bus`,
    );
  }
}
