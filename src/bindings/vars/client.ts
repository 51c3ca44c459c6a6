import type { CommandClient, InvokeOptions } from "../../command/client.ts";

/**
 * The value of a var exposed by the host (typed helper): `envGet(client, "API_BASE")`. After
 * `loadBindings(env)` the same value is `env.API_BASE`.
 */
export async function envGet<T = unknown>(client: CommandClient, name: string, options?: InvokeOptions): Promise<T> {
  const result = await client.invoke("env.get", { binding: name }, options);
  return result.value as T;
}
