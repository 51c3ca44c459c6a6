import * as v from "valibot";
import { defineBinding, storeListSection } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type {
  R2DeletePayloadSchema,
  R2GetPayloadSchema,
  R2GetResultJson,
  R2HeadPayloadSchema,
  R2ListPayloadSchema,
  R2ListResultJson,
  R2ObjectJson,
  R2PutPayloadSchema,
} from "./schemas.ts";

/** Payload and result of every `r2.*` command. */
export type R2Commands = {
  "r2.get": { payload: v.InferInput<typeof R2GetPayloadSchema>; result: R2GetResultJson | null };
  "r2.put": { payload: v.InferInput<typeof R2PutPayloadSchema>; result: R2ObjectJson | null };
  "r2.head": { payload: v.InferInput<typeof R2HeadPayloadSchema>; result: R2ObjectJson | null };
  "r2.delete": { payload: v.InferInput<typeof R2DeletePayloadSchema>; result: null };
  "r2.list": { payload: v.InferInput<typeof R2ListPayloadSchema>; result: R2ListResultJson };
};

/** R2 buckets (`R2Bucket`). */
export const r2 = defineBinding<R2Commands>()({
  kind: "r2",
  title: "R2 bucket",
  commands: {
    "r2.get": { read: true },
    "r2.put": { read: false },
    "r2.head": { read: true },
    "r2.delete": { read: false },
    "r2.list": { read: true },
  },
  detect: ["head", "createMultipartUpload"],
  dev: storeListSection({
    key: "r2_buckets",
    entry: v.looseObject({ binding: bindingName, bucket_name: v.optional(v.pipe(v.string(), v.nonEmpty())) }),
    store: (entry) => entry.bucket_name ?? entry.binding,
    option: "r2Buckets",
    persist: { option: "r2Persist", directory: "r2" },
  }),
});
