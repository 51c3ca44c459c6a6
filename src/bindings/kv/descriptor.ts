import * as v from "valibot";
import { defineBinding, storeListSection } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type {
  KvDeletePayloadSchema,
  KvGetPayloadSchema,
  KvGetResult,
  KvGetWithMetadataResult,
  KvListPayloadSchema,
  KvListResult,
  KvPutPayloadSchema,
} from "./schemas.ts";

/** Payload and result of every `kv.*` command. */
export type KvCommands = {
  "kv.get": { payload: v.InferInput<typeof KvGetPayloadSchema>; result: KvGetResult };
  "kv.getWithMetadata": { payload: v.InferInput<typeof KvGetPayloadSchema>; result: KvGetWithMetadataResult };
  "kv.put": { payload: v.InferInput<typeof KvPutPayloadSchema>; result: null };
  "kv.delete": { payload: v.InferInput<typeof KvDeletePayloadSchema>; result: null };
  "kv.list": { payload: v.InferInput<typeof KvListPayloadSchema>; result: KvListResult };
};

/** Workers KV namespaces (`KVNamespace`). */
export const kv = defineBinding<KvCommands>()({
  kind: "kv",
  title: "KV namespace",
  commands: {
    "kv.get": { read: true },
    "kv.getWithMetadata": { read: true },
    "kv.put": { read: false },
    "kv.delete": { read: false },
    "kv.list": { read: true },
  },
  detect: ["getWithMetadata", "list"],
  dev: storeListSection({
    key: "kv_namespaces",
    entry: v.looseObject({ binding: bindingName, id: v.optional(v.pipe(v.string(), v.nonEmpty())) }),
    store: (entry) => entry.id ?? entry.binding,
    option: "kvNamespaces",
    persist: { option: "kvPersist", directory: "kv" },
  }),
});
