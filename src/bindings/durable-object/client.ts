/**
 * Durable Object namespaces over the command bus, with the Workers API: `idFromName`,
 * `idFromString`, `newUniqueId`, `get(id).fetch(request)`, `getByName(name).fetch(…)`,
 * `jurisdiction(…)`.
 *
 * Workers makes ids synchronously, inside the runtime that holds the namespace's key; the
 * container reaches the namespace over the bus. So an id here carries what the container knows:
 *
 * - `idFromName(name)`: the name. It travels as the name (the object sees `ctx.id.name`), and
 *   every answer for it brings its hex, remembered per namespace (a bounded cache), so
 *   `toString()` works once the id was used, and at once for names used before.
 * - `idFromString(hex)`: the hex, checked for its form (64 hex digits) at once; whether it
 *   belongs to the namespace is checked by the host when it is used (INVALID_PAYLOAD).
 * - `newUniqueId()`: a hex the host made. The first call asks the host for a small batch, which
 *   is refilled in the background whenever it runs low; an id taken while the batch is on its
 *   way gets its hex when the batch arrives (its first use waits for it). Unique ids create no
 *   object until used, so unused ones cost nothing.
 *
 * `toString()` before the hex is known throws one TypeError saying so. See docs/protocol.md,
 * section "Durable Objects", for every difference from workerd.
 */
import type { DurableObjectId } from "@cloudflare/workers-types";
import type { CommandClient } from "../../command/client.ts";
import { CommandError } from "../../errors.ts";
import { RemoteBinding } from "../remote-binding.ts";
import { decodeResponse, encodeRequest, type FetchInit, withoutRpc } from "../service/client.ts";
import { DURABLE_OBJECT_ID_RE, type DurableObjectIdJson } from "./schemas.ts";

/** Names whose hex a namespace remembers (least recently used dropped). */
const MAX_KNOWN_NAMES = 1024;
/** Unique ids asked for at a time, and the stock below which a refill starts. */
const UNIQUE_BATCH = 8;
const UNIQUE_LOW_WATER = 2;
/** Jurisdictions with a stock of unique ids of their own (others ask per id). */
const MAX_UNIQUE_POOLS = 4;
/** Namespaces whose state a client keeps (least recently used dropped). */
const MAX_NAMESPACES = 64;

/** A stock of unique ids of one jurisdiction. */
interface UniquePool {
  ids: string[];
  filling: Promise<void> | undefined;
}

/**
 * What a namespace binding knows, shared by every handle of the same binding on one client (the
 * env proxy's, a handle whose kind was not known yet, a `jurisdiction()` view).
 */
class NamespaceState {
  readonly client: CommandClient;
  readonly binding: string;
  readonly #names = new Map<string, string>();
  readonly #pools = new Map<string, UniquePool>();

  constructor(client: CommandClient, binding: string) {
    this.client = client;
    this.binding = binding;
  }

  /** The hex of `name` in `jurisdiction`, when an answer brought it. */
  known(name: string, jurisdiction: string | undefined): string | undefined {
    const key = `${jurisdiction ?? ""}\n${name}`;
    const hex = this.#names.get(key);
    if (hex !== undefined) {
      this.#names.delete(key);
      this.#names.set(key, hex);
    }
    return hex;
  }

  remember(name: string, jurisdiction: string | undefined, hex: string): void {
    const key = `${jurisdiction ?? ""}\n${name}`;
    this.#names.delete(key);
    this.#names.set(key, hex);
    if (this.#names.size > MAX_KNOWN_NAMES) this.#names.delete(this.#names.keys().next().value!);
  }

  #pool(jurisdiction: string | undefined): UniquePool | undefined {
    const key = jurisdiction ?? "";
    let pool = this.#pools.get(key);
    if (!pool && this.#pools.size < MAX_UNIQUE_POOLS) {
      pool = { ids: [], filling: undefined };
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #ask(count: number, jurisdiction: string | undefined): Promise<string[]> {
    return this.client
      .invoke("durable_object.newUniqueIds", {
        binding: this.binding,
        count,
        ...(jurisdiction === undefined ? {} : { jurisdiction }),
      })
      .then((result) => result.ids.filter((hex) => DURABLE_OBJECT_ID_RE.test(hex)));
  }

  #fill(pool: UniquePool, jurisdiction: string | undefined): Promise<void> {
    pool.filling ??= this.#ask(UNIQUE_BATCH - pool.ids.length, jurisdiction)
      .then((ids) => {
        // Never more than the stock holds, whatever the host answered.
        pool.ids.push(...ids.slice(0, Math.max(0, UNIQUE_BATCH - pool.ids.length)));
      })
      .finally(() => {
        pool.filling = undefined;
      });
    return pool.filling;
  }

  /** A unique id from the stock, at once, or undefined when it is empty; a refill starts when it runs low. */
  takeUnique(jurisdiction: string | undefined): string | undefined {
    const pool = this.#pool(jurisdiction);
    if (!pool) return undefined;
    const hex = pool.ids.shift();
    if (pool.ids.length <= UNIQUE_LOW_WATER && !pool.filling) {
      // A failed refill is not an error of anyone's yet: the id that needs it asks again.
      this.#fill(pool, jurisdiction).catch(() => undefined);
    }
    return hex;
  }

  /** A unique id as soon as the host has made one. */
  async nextUnique(jurisdiction: string | undefined): Promise<string> {
    const pool = this.#pool(jurisdiction);
    for (let attempt = 0; pool && attempt < 3; attempt++) {
      const hex = pool.ids.shift();
      if (hex !== undefined) return hex;
      await this.#fill(pool, jurisdiction);
    }
    const [hex] = await this.#ask(1, jurisdiction);
    if (hex === undefined) throw new CommandError("INTERNAL", "durable_object.newUniqueIds: the host answered no id");
    return hex;
  }
}

const namespaces = new WeakMap<CommandClient, Map<string, NamespaceState>>();

function namespaceState(client: CommandClient, binding: string): NamespaceState {
  let states = namespaces.get(client);
  if (!states) namespaces.set(client, (states = new Map()));
  let state = states.get(binding);
  if (state) {
    states.delete(binding);
  } else {
    state = new NamespaceState(client, binding);
    if (states.size >= MAX_NAMESPACES) states.delete(states.keys().next().value!);
  }
  states.set(binding, state);
  return state;
}

/** What an id is behind its public face. */
interface IdState {
  namespace: NamespaceState;
  name: string | undefined;
  jurisdiction: string | undefined;
  hex: string | undefined;
  /** A unique id whose hex is on its way. */
  pending: Promise<string> | undefined;
}

const ids = new WeakMap<RemoteDurableObjectId, IdState>();

function stateOf(id: RemoteDurableObjectId): IdState {
  return ids.get(id)!;
}

/** The hex of an id if it is known by now (an answer for its name may have brought it). */
function knownHex(state: IdState): string | undefined {
  if (state.hex === undefined && state.name !== undefined)
    state.hex = state.namespace.known(state.name, state.jurisdiction);
  return state.hex;
}

/** A `DurableObjectId` of the container: see the module comment for what it knows when. */
export class RemoteDurableObjectId implements DurableObjectId {
  constructor(state: IdState) {
    ids.set(this, state);
    if (state.pending) {
      state.pending.then(
        (hex) => {
          state.hex = hex;
          state.pending = undefined;
        },
        () => {
          // Reported by the id's first use, which asks again.
          state.pending = undefined;
        },
      );
    }
  }

  /** The name the id was made from (`idFromName`); undefined for ids from `newUniqueId` and `idFromString`. */
  get name(): string | undefined {
    return stateOf(this).name;
  }

  /** The jurisdiction the id was made in, when one was named. */
  get jurisdiction(): string | undefined {
    return stateOf(this).jurisdiction;
  }

  /** The id's 64 hex digits; a TypeError while the host has not told them yet. */
  toString(): string {
    const state = stateOf(this);
    const hex = knownHex(state);
    if (hex !== undefined) return hex;
    const what =
      state.name !== undefined
        ? `the id of the name ${JSON.stringify(state.name)} in env.${state.namespace.binding}`
        : `a unique id of env.${state.namespace.binding}`;
    throw new TypeError(
      `DurableObjectId.toString(): ${what} is not known in the container yet: the host tells it with the first answer for the id (await env.${state.namespace.binding}.get(id).fetch(…) once)`,
    );
  }

  /** Whether both name the same object; a TypeError when that cannot be told before the host has answered. */
  equals(other: DurableObjectId): boolean {
    if (other === this) return true;
    const mine = stateOf(this);
    const theirs = other instanceof RemoteDurableObjectId ? stateOf(other) : undefined;
    const hex = knownHex(mine);
    if (!theirs) {
      if (hex !== undefined) return hex === String(other);
      throw new TypeError("DurableObjectId.equals(): this id's hex is not known in the container yet");
    }
    const otherHex = knownHex(theirs);
    if (hex !== undefined && otherHex !== undefined) return hex === otherHex;
    // A unique id is like no other, until its hex is known (and then compared above).
    if ((mine.name === undefined && hex === undefined) || (theirs.name === undefined && otherHex === undefined))
      return false;
    if (mine.name !== undefined && theirs.name !== undefined && mine.namespace === theirs.namespace)
      return mine.name === theirs.name && mine.jurisdiction === theirs.jurisdiction;
    throw new TypeError(
      "DurableObjectId.equals(): the ids cannot be compared in the container before the host has told their hex",
    );
  }
}

/** The id as a payload carries it: named ids by name (the object sees its name), others by hex. */
async function idToWire(state: IdState): Promise<DurableObjectIdJson> {
  if (state.name !== undefined)
    return state.jurisdiction === undefined
      ? { name: state.name }
      : { name: state.name, jurisdiction: state.jurisdiction };
  if (state.hex === undefined) {
    const hex = await (state.pending ?? state.namespace.nextUnique(state.jurisdiction));
    state.hex ??= hex;
  }
  return { hex: state.hex };
}

/** What an answer says about the id: its hex. */
function learnHex(state: IdState, hex: string): void {
  if (!DURABLE_OBJECT_ID_RE.test(hex)) return;
  if (state.hex === undefined) state.hex = hex;
  if (state.name !== undefined) state.namespace.remember(state.name, state.jurisdiction, hex);
}

/** `get(id, options)`'s options that travel. */
export interface DurableObjectGetOptions {
  locationHint?: string;
}

/**
 * A Durable Object stub: `fetch()` reaches the object the id names. RPC methods and `connect()`
 * are not carried by the bus (UNKNOWN_COMMAND naming `fetch()`).
 */
export class RemoteDurableObjectStub {
  readonly #id: RemoteDurableObjectId;
  readonly #locationHint: string | undefined;
  readonly #label: string;

  constructor(id: RemoteDurableObjectId, options: DurableObjectGetOptions | undefined, label: string) {
    this.#id = id;
    this.#locationHint = options?.locationHint;
    this.#label = label;
  }

  /** The id the stub was made for. */
  get id(): RemoteDurableObjectId {
    return this.#id;
  }

  /** The id's name, when it was made from one. */
  get name(): string | undefined {
    return this.#id.name;
  }

  /** Sends a request to the object: a URL (absolute, as in Workers) or a Request, and a RequestInit. */
  async fetch(input: string | URL | Request, init?: FetchInit): Promise<Response> {
    const state = stateOf(this.#id);
    const request = await encodeRequest(input, init);
    const id = await idToWire(state);
    const { result, body } = await state.namespace.client.invokeStreamed(
      "durable_object.fetch",
      {
        binding: state.namespace.binding,
        id,
        ...(this.#locationHint ? { locationHint: this.#locationHint } : {}),
        ...request.wire,
      },
      {
        streamed: true,
        ...(request.body ? { body: request.body } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      },
    );
    learnHex(state, result.id);
    return decodeResponse(result, body);
  }

  /** Not available over the command bus. */
  connect(): never {
    throw new CommandError(
      "UNKNOWN_COMMAND",
      `${this.#label}.connect() is not available over the command bus; use ${this.#label}.fetch()`,
    );
  }
}

/** Checks what `get()` was given: an id of this namespace. */
function ownId(id: unknown, namespace: NamespaceState): RemoteDurableObjectId {
  if (!(id instanceof RemoteDurableObjectId)) {
    throw new TypeError(
      `env.${namespace.binding}.get(): expected an id from env.${namespace.binding}.idFromName(), idFromString() or newUniqueId()`,
    );
  }
  const owner = stateOf(id).namespace;
  if (owner !== namespace)
    throw new TypeError(
      `env.${namespace.binding}.get(): the id belongs to env.${owner.binding}, not to this namespace`,
    );
  return id;
}

/** A Workers `DurableObjectNamespace` whose objects are reached over the command bus. */
export class DurableObjectNamespaceBinding extends RemoteBinding {
  readonly #state: NamespaceState;
  readonly #jurisdiction: string | undefined;

  constructor(client: CommandClient, name: string, jurisdiction?: string) {
    super(client, name);
    this.#state = namespaceState(client, name);
    this.#jurisdiction = jurisdiction;
  }

  #id(fields: Pick<IdState, "name" | "jurisdiction" | "hex" | "pending">): RemoteDurableObjectId {
    return new RemoteDurableObjectId({ namespace: this.#state, ...fields });
  }

  /** The id of the object named `name` (the same name, the same object). */
  idFromName(name: string): RemoteDurableObjectId {
    const text = String(name);
    return this.#id({
      name: text,
      jurisdiction: this.#jurisdiction,
      hex: this.#state.known(text, this.#jurisdiction),
      pending: undefined,
    });
  }

  /** The id whose `toString()` gave `hex`. Its form is checked here; its namespace when it is used. */
  idFromString(hex: string): RemoteDurableObjectId {
    const text = String(hex).toLowerCase();
    if (!DURABLE_OBJECT_ID_RE.test(text)) throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    return this.#id({ name: undefined, jurisdiction: undefined, hex: text, pending: undefined });
  }

  /** A new id no object has yet. */
  newUniqueId(options: { jurisdiction?: string } = {}): RemoteDurableObjectId {
    const jurisdiction = options.jurisdiction ?? this.#jurisdiction;
    const hex = this.#state.takeUnique(jurisdiction);
    if (hex !== undefined) return this.#id({ name: undefined, jurisdiction, hex, pending: undefined });
    const pending = this.#state.nextUnique(jurisdiction);
    return this.#id({ name: undefined, jurisdiction, hex: undefined, pending });
  }

  /** The stub of the object `id` names; nothing is sent until its `fetch()`. */
  get(id: DurableObjectId, options?: DurableObjectGetOptions): RemoteDurableObjectStub {
    const own = ownId(id, this.#state);
    const label = `env.${this.bindingName}.get(id)`;
    return withoutRpc(new RemoteDurableObjectStub(own, options, label), label);
  }

  /** `get(idFromName(name), options)`. */
  getByName(name: string, options?: DurableObjectGetOptions): RemoteDurableObjectStub {
    const label = `env.${this.bindingName}.getByName(…)`;
    return withoutRpc(new RemoteDurableObjectStub(this.idFromName(name), options, label), label);
  }

  /** The namespace restricted to a jurisdiction: its ids by name and unique ids are made there. */
  jurisdiction(jurisdiction: string): DurableObjectNamespaceBinding {
    return new DurableObjectNamespaceBinding(this.client, this.bindingName, jurisdiction);
  }
}
