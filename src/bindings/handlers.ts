/**
 * The host half of every binding kind, by kind: what a command host dispatches to. The host
 * side's only table of kinds; the type checker asks for a line per kind of the registry.
 */
import { assetsHost } from "./assets/host.ts";
import { d1Host } from "./d1/host.ts";
import { durableObjectHost } from "./durable-object/host.ts";
import type { BindingHost } from "./handler.ts";
import { kvHost } from "./kv/host.ts";
import { queueHost } from "./queue/host.ts";
import { r2Host } from "./r2/host.ts";
import type { BindingKind } from "./registry.ts";
import { serviceHost } from "./service/host.ts";
import { varsHost } from "./vars/host.ts";

/** Every kind's handlers. */
export const BINDING_HOSTS: { readonly [Kind in BindingKind]: BindingHost } = {
  kv: kvHost,
  d1: d1Host,
  queue: queueHost,
  r2: r2Host,
  assets: assetsHost,
  service: serviceHost,
  durable_object: durableObjectHost,
  var: varsHost,
};
