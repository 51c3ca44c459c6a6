/**
 * The Worker's half of `host.keepalive`: renewing the activity of the instance whose container
 * still works (a `waitUntil` task, an event), so that the platform does not stop it.
 *
 * - Durable Object Container API: the host (`ContainerflareHost`) is an invocation of its own,
 *   not the Durable Object; its props name the object (`object`, the id's hex). It finds the
 *   namespace that id belongs to among `ctx.exports` and `env` (only the right namespace's
 *   `idFromString` accepts it) and sends the object a request to {@link KEEPALIVE_PATH}, signed
 *   with `CONTAINERFLARE_SECRET`; `containerflareContainer`'s `fetch` answers it by renewing the
 *   inactivity timeout, never handing it to the app.
 * - `@cloudflare/containers`: the outbound handler knows the container (`ctx.containerId`); its
 *   Durable Object's `renewActivityTimeout()` is called over RPC.
 *
 * @module
 */
import { detectBindingKind } from "../bindings/registry.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../request-signature.ts";
import type { OutboundContext } from "./types.ts";

/**
 * The path of the keep-alive request a host sends to a Durable Object: answered by
 * `containerflareContainer`'s `fetch` (which never forwards it to the app). Signed with the
 * shared secret when there is one, so that a client of the Worker cannot send it (and without a
 * secret it could only renew the container's activity).
 */
export const KEEPALIVE_PATH = "/__containerflare/v1/keepalive";

/** The URL of the keep-alive request (the host name is never resolved: a stub's fetch goes to the object). */
const KEEPALIVE_URL = `http://containerflare.internal${KEEPALIVE_PATH}`;

interface NamespaceLike {
  idFromString(hex: string): { toString(): string };
  get(id: unknown): unknown;
}

/**
 * The Durable Object namespace `hex` belongs to, among the values of `sources` (`ctx.exports`,
 * `env`): workerd's `idFromString` refuses an id another namespace made. Fetchers and RPC stubs
 * answer every name with a method, so only what is detected as a Durable Object namespace is asked.
 */
export function namespaceOf(sources: readonly (object | undefined)[], hex: string): NamespaceLike | undefined {
  for (const source of sources) {
    if (!source) continue;
    for (const value of Object.values(source)) {
      if (detectBindingKind(value) !== "durable_object") continue;
      const namespace = value as NamespaceLike;
      try {
        if (namespace.idFromString(hex).toString() === hex) return namespace;
      } catch {
        // Another namespace's id: try the next.
      }
    }
  }
  return undefined;
}

/**
 * Sends the keep-alive request to the Durable Object `hex` (found by {@link namespaceOf}),
 * signed with `secret` when there is one; resolves whether the object renewed its container's
 * inactivity timeout (it answers 204). Throws when no namespace holds the object.
 */
export async function renewObject(
  sources: readonly (object | undefined)[],
  hex: string,
  secret: string | undefined,
): Promise<boolean> {
  const namespace = namespaceOf(sources, hex);
  if (!namespace) {
    throw new Error(
      `no Durable Object namespace of ctx.exports or env holds the object ${hex.slice(0, 12)}…: export its class from the Worker's main module`,
    );
  }
  const stub = namespace.get(namespace.idFromString(hex)) as { fetch(request: Request): Promise<Response> };
  const headers = new Headers();
  if (secret) {
    const signature = await signCommandRequest(secret, {
      method: "POST",
      path: KEEPALIVE_PATH,
      body: new Uint8Array(),
    });
    headers.set(REQUEST_SIGNATURE_HEADER, signature);
  }
  const response = await stub.fetch(new Request(KEEPALIVE_URL, { method: "POST", headers }));
  await response.body?.cancel();
  return response.status === 204;
}

/**
 * `host.keepalive` under `@cloudflare/containers`: the Container's Durable Object is found by its
 * binding (`binding`, when given) or among `env`'s Durable Object namespaces by `ctx.containerId`,
 * and its `renewActivityTimeout()` is called over RPC. Throws when neither finds it.
 */
export async function renewContainer(
  env: Record<string, unknown>,
  ctx: OutboundContext | undefined,
  binding?: string,
): Promise<boolean> {
  if (!ctx?.containerId) throw new Error("the outbound handler was called without ctx.containerId");
  const namespace = binding
    ? namespaceOf([{ [binding]: env[binding] }], ctx.containerId)
    : namespaceOf([env], ctx.containerId);
  if (!namespace) {
    const where = binding ? `env.${binding}` : "no Durable Object binding of env";
    throw new Error(
      `${where} holds the container ${ctx.containerId.slice(0, 12)}… of ${ctx.className}: pass withContainerflare(…, { binding }) the binding of the class`,
    );
  }
  const stub = namespace.get(namespace.idFromString(ctx.containerId)) as {
    renewActivityTimeout(): Promise<unknown>;
  };
  await stub.renewActivityTimeout();
  return true;
}
