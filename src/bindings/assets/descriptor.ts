import * as v from "valibot";
import { type DevSection, defineBinding } from "../descriptor.ts";
import { bindingName } from "../schemas.ts";
import type { AssetResponseJson, AssetsFetchPayloadSchema } from "./schemas.ts";

/** Payload and result of `assets.fetch`. */
export type AssetsCommands = {
  "assets.fetch": { payload: v.InferInput<typeof AssetsFetchPayloadSchema>; result: AssetResponseJson };
};

const assetsSection = v.looseObject({
  directory: v.optional(v.pipe(v.string(), v.nonEmpty())),
  binding: v.optional(bindingName),
});

/** Static assets (`Fetcher`): the Worker's `assets` binding. */
export const assets = defineBinding<AssetsCommands>()({
  kind: "assets",
  title: "assets binding",
  commands: { "assets.fetch": { read: true } },
  // Tried last (one method): any Fetcher has `fetch`, so the other kinds are ruled out first.
  detect: ["fetch"],
  dev: {
    key: "assets",
    schema: assetsSection,
    bindings: (section) =>
      section.binding && section.directory ? { [section.binding]: section.directory } : ({} as Record<string, string>),
    miniflare: (section, { resolve }) =>
      section.directory
        ? {
            assets: {
              directory: resolve(section.directory),
              ...(section.binding ? { binding: section.binding } : {}),
            },
          }
        : {},
  } satisfies DevSection<typeof assetsSection>,
});
