import type { CommandClient } from "../../command/client.ts";
import { CommandError } from "../../errors.ts";
import { NULL_BODY_STATUSES } from "../../internal/http.ts";
import { answerBytes, type BodyMarker, type BodySource, bodyArgument } from "../../protocol/body.ts";
import type { EncodedBytes } from "../../protocol/bytes.ts";
import { RemoteBinding } from "../remote-binding.ts";
import type { FetchResponseJson } from "./schemas.ts";

/** What a Fetcher's `fetch` takes besides the input: a RequestInit (workers-types' or the runtime's). */
export type FetchInit = RequestInit & { duplex?: "half" };

/** A request as `service.fetch` and `durable_object.fetch` carry it, with its bytes beside it. */
export interface EncodedRequest {
  wire: {
    url: string;
    method: string;
    headers: [string, string][];
    body: BodyMarker | EncodedBytes | null;
    redirect?: "manual";
  };
  /** The bytes the marker stands for: they travel as the exchange's body. */
  body: BodySource | null;
  signal: AbortSignal | undefined;
}

/** Whether a RequestInit body is bytes already in memory (not a stream): then its length is known. */
function inMemoryBody(body: unknown): boolean {
  return (
    body !== null && body !== undefined && !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream)
  );
}

/**
 * `fetch(input, init)`'s arguments as a request on the wire: the runtime's own Request decides
 * the method, URL (absolute, as Workers require), headers (with the content type a string,
 * form or URLSearchParams body implies) and body. A body held in memory travels inline when
 * small, else with its exact length; a stream travels as it is read, never held whole.
 */
export async function encodeRequest(input: unknown, init: FetchInit | undefined): Promise<EncodedRequest> {
  const request =
    input instanceof Request && init === undefined
      ? input
      : // `duplex` lets a stream body through Node's Request; other runtimes ignore it.
        new Request(input as string, { ...(init as RequestInit), duplex: "half" } as RequestInit);
  let wire: BodyMarker | EncodedBytes | null = null;
  let body: BodySource | null = null;
  if (request.body !== null) {
    // Small bytes ride inline (base64), the rest as the exchange's body: bodyArgument's rule.
    const argument = await bodyArgument(
      inMemoryBody(init?.body) ? new Uint8Array(await request.arrayBuffer()) : request.body,
    );
    wire = argument.wire as BodyMarker | EncodedBytes;
    body = argument.body ?? null;
  }
  return {
    wire: {
      url: request.url,
      method: request.method,
      headers: [...request.headers],
      body: wire,
      ...(request.redirect === "manual" ? { redirect: "manual" as const } : {}),
    },
    body,
    signal: init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined,
  };
}

/** The Response an answer describes: status, status text, headers (repeated names kept) and the streamed body. */
export function decodeResponse(result: FetchResponseJson, body: ReadableStream<Uint8Array> | null): Response {
  const stream = answerBytes(NULL_BODY_STATUSES.has(result.status) ? null : result.body, body);
  if (stream === null) void body?.cancel().catch(() => undefined);
  const headers = new Headers();
  for (const [name, value] of result.headers) headers.append(name, value);
  return new Response(stream as ConstructorParameters<typeof Response>[0], {
    status: result.status,
    ...(result.statusText ? { statusText: result.statusText } : {}),
    headers,
  });
}

/** Property names a no-RPC proxy leaves alone: promise checks, serialisers and test matchers look for them. */
const NOT_RPC = new Set(["then", "toJSON", "constructor", "asymmetricMatch", "$$typeof", "nodeType", "inspect"]);

/**
 * `target` behind a proxy that answers every method it does not have as an RPC call that the
 * bus does not carry: `env.API.add(1, 2)` rejects with UNKNOWN_COMMAND naming `fetch()` as
 * what works, rather than "not a function". Own members are bound to `target` (its private
 * fields stay reachable).
 */
export function withoutRpc<T extends object>(target: T, what: string): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === "symbol" || property in object || NOT_RPC.has(property)) {
        const value = Reflect.get(object, property, object);
        if (typeof value !== "function" || property === "constructor") return value;
        let fn = bound.get(property);
        if (fn === undefined) bound.set(property, (fn = (value as (...args: unknown[]) => unknown).bind(object)));
        return fn;
      }
      return () =>
        Promise.reject(
          new CommandError(
            "UNKNOWN_COMMAND",
            `${what}.${property}(): RPC methods are not carried by the command bus; use ${what}.fetch()`,
          ),
        );
    },
  });
}

/** `fetch` over the command bus: one `service.fetch`, the request body streamed out, the answer's streamed back. */
async function serviceFetch(
  client: CommandClient,
  binding: string,
  input: unknown,
  init: FetchInit | undefined,
): Promise<Response> {
  const request = await encodeRequest(input, init);
  const { result, body } = await client.invokeStreamed(
    "service.fetch",
    { binding, ...request.wire },
    {
      streamed: true,
      ...(request.body ? { body: request.body } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    },
  );
  return decodeResponse(result, body);
}

/**
 * A service binding (a Workers `Fetcher`) over the command bus: `env.API.fetch(request)` reaches
 * the Worker the binding names, with the request's method, URL, headers and body, and answers
 * its status, headers and body, both bodies streamed. RPC methods and `connect()` are not carried.
 */
export class ServiceBinding extends RemoteBinding {
  constructor(client: CommandClient, name: string) {
    super(client, name);
    // biome-ignore lint/correctness/noConstructorReturn: the proxy turns RPC calls into one clear error
    return withoutRpc(this, `env.${name}`);
  }

  /** Sends a request to the service: a URL (absolute, as in Workers) or a Request, and a RequestInit. */
  fetch(input: string | URL | Request, init?: FetchInit): Promise<Response> {
    return serviceFetch(this.client, this.bindingName, input, init);
  }

  /** Not available over the command bus. */
  connect(): never {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `env.${this.bindingName}.connect() is not available over the command bus; use env.${this.bindingName}.fetch()`,
    );
  }
}
