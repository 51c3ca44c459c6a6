/**
 * The container half of every object binding kind, by kind: the Workers-typed class `env.NAME`
 * is an instance of. The container side's only table of kinds; the type checker asks for a line
 * per kind of the registry.
 */
import type { CommandClient } from "../command/client.ts";
import { AssetsBinding } from "./assets/client.ts";
import { D1Binding } from "./d1/client.ts";
import { DurableObjectNamespaceBinding, RemoteDurableObjectId } from "./durable-object/client.ts";
import { KvBinding } from "./kv/client.ts";
import { QueueBinding } from "./queue/client.ts";
import { R2Binding } from "./r2/client.ts";
import type { ObjectBindingKind } from "./registry.ts";
import { ServiceBinding } from "./service/client.ts";

/** A kind's client class. */
export interface BindingClient {
  /** The class; its constructor takes the command client and the binding's name. */
  readonly Binding: new (
    client: CommandClient,
    name: string,
  ) => object;
  /**
   * Its methods that answer synchronously (D1's `prepare`): a handle whose kind is not known yet
   * delegates them to this kind at once. Every other method waits for the kind.
   */
  readonly syncMethods?: readonly string[];
  /**
   * Methods other kinds answer asynchronously that this kind answers synchronously for some
   * arguments (a Durable Object namespace's `get(id)`): a handle of unknown kind delegates a call
   * whose arguments match at once.
   */
  readonly syncWhen?: Readonly<Record<string, (args: readonly unknown[]) => boolean>>;
}

/** Every object kind's client class. */
export const BINDING_CLIENTS: { readonly [Kind in ObjectBindingKind]: BindingClient } = {
  kv: { Binding: KvBinding },
  d1: { Binding: D1Binding, syncMethods: ["prepare", "withSession"] },
  queue: { Binding: QueueBinding },
  r2: { Binding: R2Binding, syncMethods: ["resumeMultipartUpload"] },
  assets: { Binding: AssetsBinding, syncMethods: ["connect"] },
  service: { Binding: ServiceBinding, syncMethods: ["connect"] },
  // `get` only for an id: KV's and R2's `get(key)` are asynchronous, and an id can only come
  // from a namespace.
  durable_object: {
    Binding: DurableObjectNamespaceBinding,
    syncMethods: ["idFromName", "idFromString", "newUniqueId", "getByName", "jurisdiction"],
    syncWhen: { get: (args) => args[0] instanceof RemoteDurableObjectId },
  },
};
