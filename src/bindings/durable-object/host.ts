import { CommandError } from "../../errors.ts";
import { errorMessage } from "../../internal/error-message.ts";
import { defineBindingHost, handler } from "../handler.ts";
import { answerOf, type FetchTarget, requestOf } from "../service/host.ts";
import { durableObject } from "./descriptor.ts";
import {
  DurableObjectFetchPayloadSchema,
  type DurableObjectIdJson,
  type DurableObjectIdsJson,
  DurableObjectNewUniqueIdsPayloadSchema,
} from "./schemas.ts";

/** A Durable Object id, as far as the handlers use it. */
interface NamespaceId {
  toString(): string;
}

/**
 * The part of a `DurableObjectNamespace` the handlers call, written structurally: workers-types'
 * stubs take its own Request type, which the runtime lib's does not satisfy.
 */
interface Namespace {
  idFromName(name: string): NamespaceId;
  idFromString(hex: string): NamespaceId;
  newUniqueId(options?: { jurisdiction?: string }): NamespaceId;
  get(id: NamespaceId, options?: { locationHint?: string }): FetchTarget;
  jurisdiction?(jurisdiction: string): Namespace;
}

/** The id a payload names, in `namespace`. An id string of another namespace is the payload's fault. */
function idOf(namespace: Namespace, id: DurableObjectIdJson): NamespaceId {
  if ("name" in id) {
    if (id.jurisdiction === undefined) return namespace.idFromName(id.name);
    if (typeof namespace.jurisdiction !== "function")
      throw new CommandError("INVALID_PAYLOAD", "durable_object.fetch: this namespace has no jurisdictions");
    return namespace.jurisdiction(id.jurisdiction).idFromName(id.name);
  }
  try {
    return namespace.idFromString(id.hex);
  } catch (error) {
    const message = errorMessage(error);
    throw new CommandError("INVALID_PAYLOAD", `durable_object.fetch: id: ${message}`);
  }
}

/** `durable_object.*` commands against a Workers DurableObjectNamespace. */
export const durableObjectHost = defineBindingHost<typeof durableObject, Namespace>(durableObject, {
  "durable_object.newUniqueIds": handler(
    DurableObjectNewUniqueIdsPayloadSchema,
    (payload, namespace: Namespace): DurableObjectIdsJson => {
      const options = payload.jurisdiction === undefined ? undefined : { jurisdiction: payload.jurisdiction };
      const ids: string[] = [];
      for (let i = 0; i < payload.count; i++) ids.push(namespace.newUniqueId(options).toString());
      return { ids };
    },
  ),
  "durable_object.fetch": handler(DurableObjectFetchPayloadSchema, async (payload, namespace: Namespace, context) => {
    const id = idOf(namespace, payload.id);
    const stub = namespace.get(id, payload.locationHint ? { locationHint: payload.locationHint } : undefined);
    const response = await stub.fetch(requestOf(payload, context));
    return answerOf("durable_object.fetch", payload.method, response, { id: id.toString() });
  }),
});
