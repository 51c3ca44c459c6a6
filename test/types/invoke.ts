/** `CommandClient.invoke` is typed by command name: payloads checked, results typed. */
import type { CommandClient, CommandResult } from "containerflare/command";

export async function typedInvoke(client: CommandClient): Promise<void> {
  const got: CommandResult<"kv.get"> = await client.invoke("kv.get", { binding: "CACHE", key: "k" });
  const described = await client.invoke("host.describe");
  const kinds: Record<string, string> = described.bindings;
  const listed = await client.invoke("r2.list", { binding: "FILES", prefix: "a/" });
  const truncated: boolean = listed.truncated;

  // @ts-expect-error a built-in command's payload is checked: kv.get needs a key
  await client.invoke("kv.get", { binding: "CACHE" });
  // @ts-expect-error and its members' types: mode is one of all | first | run | raw
  await client.invoke("d1.query", { binding: "DB", sql: "SELECT 1", mode: "every" });
  // @ts-expect-error a built-in command cannot be sent untyped through the custom overload
  await client.invoke("kv.put", 42);

  // Custom commands take any payload and resolve with what the caller says.
  const custom = await client.invoke<{ reindexed: number }>("app.reindex", { full: true });
  const count: number = custom.reindexed;
  void [got, kinds, truncated, count];
}
