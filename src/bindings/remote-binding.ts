import type { CommandClient } from "../command/client.ts";

/**
 * The base of every client class (`KvBinding`, `D1Binding`, …): the command client the binding's
 * calls travel over and the binding's name on the host, both kept out of the object's own keys.
 */
export abstract class RemoteBinding {
  readonly #client: CommandClient;
  readonly #name: string;

  constructor(client: CommandClient, name: string) {
    this.#client = client;
    this.#name = name;
  }

  /** The command client the binding's calls travel over. */
  protected get client(): CommandClient {
    return this.#client;
  }

  /** The binding's name on the host (`CACHE`). */
  protected get bindingName(): string {
    return this.#name;
  }
}
