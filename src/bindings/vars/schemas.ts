/** Payload schema of `env.get`. */
import * as v from "valibot";
import { withBinding } from "../schemas.ts";

/** `env.get`: the value of an exposed var. */
export const EnvGetPayloadSchema = v.object({ ...withBinding });
