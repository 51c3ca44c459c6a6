import * as v from "valibot";
import { type DevSection, defineBinding } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type {
  DurableObjectFetchPayloadSchema,
  DurableObjectIdsJson,
  DurableObjectNewUniqueIdsPayloadSchema,
  DurableObjectResponseJson,
} from "./schemas.ts";

/** Payload and result of every `durable_object.*` command. */
export type DurableObjectCommands = {
  "durable_object.newUniqueIds": {
    payload: v.InferInput<typeof DurableObjectNewUniqueIdsPayloadSchema>;
    result: DurableObjectIdsJson;
  };
  "durable_object.fetch": {
    payload: v.InferInput<typeof DurableObjectFetchPayloadSchema>;
    result: DurableObjectResponseJson;
  };
};

const name = v.pipe(v.string(), v.nonEmpty());

/**
 * wrangler.jsonc's `durable_objects`: `{ bindings: [{ name, class_name, script_name? }] }`. Dev
 * provides the bindings whose class lives in another Worker (`script_name`), which it runs from
 * the script named under `containerflare.workers` (src/cli/dev/wrangler.ts). A class of the main
 * Worker (no `script_name`) is not run by dev: the main Worker's place is taken by dev's own, and
 * its usual Durable Object, the Container class, is the app process itself.
 */
const durableObjectsSection = v.looseObject({
  bindings: v.optional(
    v.array(v.looseObject({ name: bindingName, class_name: name, script_name: v.optional(name) })),
    [],
  ),
});

type DurableObjectsSection = v.InferOutput<typeof durableObjectsSection>;

/** The bindings of the section that dev provides: those whose class is in another Worker. */
const inOtherWorkers = (section: DurableObjectsSection) =>
  section.bindings.filter((entry): entry is typeof entry & { script_name: string } => entry.script_name !== undefined);

/** Durable Object namespaces (`DurableObjectNamespace`): ids, stubs, and `fetch` to an object. */
export const durableObject = defineBinding<DurableObjectCommands>()({
  kind: "durable_object",
  title: "Durable Object namespace",
  commands: {
    // Making ids creates no object: asking twice only wastes ids.
    "durable_object.newUniqueIds": { read: true },
    "durable_object.fetch": { read: false },
  },
  detect: ["idFromName", "idFromString", "newUniqueId", "get"],
  dev: {
    key: "durable_objects",
    schema: durableObjectsSection,
    bindings: (section) =>
      Object.fromEntries(
        inOtherWorkers(section).map((entry) => [entry.name, `${entry.class_name} in ${entry.script_name}`]),
      ),
    miniflare: (section, { persist }) => {
      const entries = inOtherWorkers(section);
      if (entries.length === 0) return {};
      return {
        // SQLite-backed in dev: it offers the key-value storage API too, and `ctx.storage.sql`.
        durableObjects: Object.fromEntries(
          entries.map((entry) => [
            entry.name,
            { className: entry.class_name, scriptName: entry.script_name, useSQLite: true },
          ]),
        ),
        durableObjectsPersist: `${persist}/do`,
      };
    },
  } satisfies DevSection<typeof durableObjectsSection>,
});
