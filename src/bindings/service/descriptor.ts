import * as v from "valibot";
import { type DevSection, defineBinding } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type { FetchResponseJson, ServiceFetchPayloadSchema } from "./schemas.ts";

/** Payload and result of `service.fetch`. */
export type ServiceCommands = {
  "service.fetch": { payload: v.InferInput<typeof ServiceFetchPayloadSchema>; result: FetchResponseJson };
};

const name = v.pipe(v.string(), v.nonEmpty());

/**
 * wrangler.jsonc's `services`: `{ binding, service, entrypoint? }` each. In dev the service is a
 * Worker of its own that dev runs beside its own, from the script named under
 * `containerflare.workers` (src/cli/dev/wrangler.ts).
 */
const servicesSection = v.array(v.looseObject({ binding: bindingName, service: name, entrypoint: v.optional(name) }));

/** Service bindings (`Fetcher`): `env.API.fetch(request)` reaches another Worker. */
export const service = defineBinding<ServiceCommands>()({
  kind: "service",
  title: "service binding",
  // A request may change state in the service: never sent twice.
  commands: { "service.fetch": { read: false } },
  // Every workerd Fetcher (a service binding, and the assets binding too) has both; an object
  // with `fetch` alone is taken as an assets binding. A host that knows better names the kind in
  // its `allow` record (`{ ASSETS: "assets" }`).
  detect: ["fetch", "connect"],
  dev: {
    key: "services",
    schema: servicesSection,
    bindings: (section) =>
      Object.fromEntries(
        section.map((entry) => [
          entry.binding,
          entry.entrypoint ? `${entry.service}#${entry.entrypoint}` : entry.service,
        ]),
      ),
    miniflare: (section) => ({
      serviceBindings: Object.fromEntries(
        section.map((entry) => [
          entry.binding,
          entry.entrypoint ? { name: entry.service, entrypoint: entry.entrypoint } : entry.service,
        ]),
      ),
    }),
  } satisfies DevSection<typeof servicesSection>,
});
