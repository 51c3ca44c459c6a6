/**
 * What `containerflare dev` puts in place of Cloudflare's container platform when it runs the
 * app's own Worker: a `ctx.container` for every Durable Object class that wrangler.jsonc lists in
 * `containers`, whose containers are app processes that the CLI runs (src/cli/dev/instances.ts).
 * The Worker's code runs unchanged on top of it: a Durable Object on the Container API, and
 * `@cloudflare/containers` too, which is built on the same `ctx.container` and `ctx.exports`.
 *
 * - `devContainerClass(Base, name)` subclasses a Durable Object class: before the class's own
 *   constructor runs, `ctx.container` becomes a {@link DevContainer} (workerd's `ctx` is native,
 *   so the property is defined on it; a wrapper object would be refused by `DurableObject`).
 * - {@link devOutbound}: the loopback entrypoint an app process sends its command bus to. Its URL
 *   names the instance and carries a token the CLI derived from a key only it and this Worker
 *   hold; the request goes, as `http://containerflare.internal/…`, to the Durable Object's
 *   `interceptOutboundHttp` target, so the user's own outbound handler answers it: straight to
 *   that entrypoint when it came from `ctx.exports` (as on the platform), else through the object.
 *   For that, the wired class's `ctx.exports` is the real one, traced: each Fetcher it makes is
 *   remembered with the export's name and options.
 *
 * Bundled for workerd by the CLI: Web APIs only.
 *
 * @module
 */
import { errorResponse } from "../../errors.ts";
import { errorMessage } from "../../internal/error-message.ts";
import { isBrowserRequest } from "../../worker/browser-request.ts";

/** Name of the binding through which a {@link DevContainer} asks the CLI to run processes. */
export const SUPERVISOR_BINDING = "CONTAINERFLARE_DEV_CONTAINERS";
/** Name of the binding that carries {@link DevContainerSettings}. */
export const SETTINGS_BINDING = "CONTAINERFLARE_DEV";
/** The host the app's command bus is addressed to on Cloudflare (`COMMAND_HOSTNAME` of src/worker). */
export const COMMAND_HOST = "containerflare.internal";

/** What the CLI passes in {@link SETTINGS_BINDING}. */
export interface DevContainerSettings {
  /** HMAC key of the instances' command URLs (hex). */
  tokenKey: string;
  /** The `containers` classes, with the Durable Object binding that reaches each. */
  classes: Record<string, { binding: string }>;
  /** The queues wrangler.jsonc's `queues.consumers` lists: their batches go to the Worker's `queue`. */
  consumedQueues?: string[];
}

// The messages @cloudflare/containers matches on (lower-cased substrings), as the platform words them.
const NOT_LISTENING = "the container is not listening";
const NOT_RUNNING = "the container is not running";
const SIGNALLED = "runtime signalled the container to exit:";
const UNEXPECTED_EXIT = "container exited with unexpected exit code:";

/** At most one activity report per instance per this many ms: the inactivity timer needs no finer grain. */
const TOUCH_EVERY_MS = 1_000;

/** How an app process ended, as the CLI reports it. */
interface ExitReport {
  code: number | null;
  signal: string | null;
  /** The runtime (a `signal()`, `destroy()` or the inactivity timeout) asked it to stop. */
  signalled: boolean;
  failure?: string;
}

/**
 * One container's record. The platform keeps it outside the Durable Object, so it outlives a
 * re-created object; here it lives in the isolate (one Worker reload resets both, and the CLI
 * stops every process then). Bounded: an entry exists while its process runs, and the CLI runs
 * at most `max_instances` per class.
 */
interface ContainerRecord {
  running: boolean;
  /** The app's loopback port, once the CLI has spawned it. */
  port: Promise<number>;
  /** The `monitor()` outcome: fulfilled on exit code 0, rejected with the platform's message otherwise. */
  exit: Promise<void>;
  touchedAt: number;
}

const records = new Map<string, ContainerRecord>();

/**
 * Where a Fetcher from `ctx.exports` came from: the export's name and the options it was called
 * with (`{ props }`), so that the outbound entrypoint can make the same Fetcher in its own
 * request, as the platform delivers a container's request straight to the intercepting
 * entrypoint, not through the Durable Object (whose input gate must not hold the command bus).
 */
interface ExportOrigin {
  name: string;
  options?: unknown;
}

const exportOrigins = new WeakMap<object, ExportOrigin>();

/**
 * The interceptions of each object (`class/id` → host → origin) made of `ctx.exports` Fetchers.
 * Bounded: the oldest object's are dropped past {@link MAX_ROUTED_OBJECTS}, and it falls back to
 * the Durable Object's own record of them (one RPC more per command).
 */
const routes = new Map<string, Map<string, ExportOrigin>>();
const MAX_ROUTED_OBJECTS = 1_024;

function route(key: string, host: string, target: Fetcher): void {
  const origin = exportOrigins.get(target);
  const hosts = routes.get(key) ?? new Map<string, ExportOrigin>();
  if (origin) hosts.set(host, origin);
  else hosts.delete(host);
  routes.delete(key);
  if (hosts.size > 0) routes.set(key, hosts);
  if (routes.size > MAX_ROUTED_OBJECTS) routes.delete(routes.keys().next().value!);
}

/**
 * `ctx.exports` as the Durable Object sees it in dev: the same exports, each callable one
 * remembering what it made ({@link exportOrigins}). Methods are called on the real objects.
 */
function tracedExports(real: Record<string | symbol, unknown>): Record<string | symbol, unknown> {
  return new Proxy(real, {
    get(target, name) {
      const value = Reflect.get(target, name);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return new Proxy(value, {
        apply(exported, _self, args: unknown[]) {
          const made = Reflect.apply(exported, target, args) as object;
          if (made && (typeof made === "object" || typeof made === "function"))
            exportOrigins.set(made, { name, ...(args.length > 0 ? { options: args[0] } : {}) });
          return made;
        },
        get(exported, key) {
          const member = Reflect.get(exported, key);
          return typeof member === "function" ? member.bind(exported) : member;
        },
      });
    },
  });
}

/** Signal numbers of the names Node reports. */
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** The Error `monitor()` rejects with for an exit, worded like the platform's. */
function exitError(exit: ExitReport): Error | undefined {
  // Exactly the platform's words: @cloudflare/containers reads the code from the end of the message.
  // Why it never ran (a build error) is in dev's output.
  if (exit.failure) return new Error(`${UNEXPECTED_EXIT} 1`);
  const status = exit.code ?? 128 + (SIGNAL_NUMBERS[exit.signal ?? ""] ?? 0);
  if (status === 0) return undefined;
  return new Error(`${exit.signalled ? SIGNALLED : UNEXPECTED_EXIT} ${status}`);
}

interface Fetcher {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}

interface DurableObjectStateLike {
  id: { toString(): string; name?: string };
  waitUntil(promise: Promise<unknown>): void;
}

type Env = Record<string, unknown>;

/** The options of `ctx.container.start()` that dev uses. */
interface StartOptions {
  env?: Record<string, string>;
  entrypoint?: string[];
  enableInternet?: boolean;
}

/**
 * `ctx.container` in dev: the platform's methods over an app process the CLI runs for this
 * Durable Object. `getTcpPort(port)` reaches the app's one listener whatever `port` says (each
 * instance listens on a loopback port of its own); outbound interceptions are kept here and
 * answer the app's command bus.
 */
export class DevContainer {
  readonly #key: string;
  readonly #className: string;
  readonly #ctx: DurableObjectStateLike;
  readonly #supervisor: Fetcher;
  readonly #intercepts = new Map<string, Fetcher>();
  #inactivityMs: number | undefined;

  constructor(ctx: DurableObjectStateLike, env: Env, className: string) {
    this.#ctx = ctx;
    this.#className = className;
    this.#key = `${className}/${ctx.id.toString()}`;
    const supervisor = env[SUPERVISOR_BINDING] as Fetcher | undefined;
    if (!supervisor) throw new Error(`containerflare dev: the ${SUPERVISOR_BINDING} binding is missing`);
    this.#supervisor = supervisor;
  }

  get running(): boolean {
    return records.get(this.#key)?.running ?? false;
  }

  get images(): Record<string, string> {
    return {};
  }

  start(options: StartOptions = {}): void {
    if (this.running) throw new Error("the container is already running");
    const record: ContainerRecord = {
      running: true,
      port: this.#call("start", {
        className: this.#className,
        id: this.#ctx.id.toString(),
        ...(this.#ctx.id.name ? { name: this.#ctx.id.name } : {}),
        env: options.env ?? {},
        ...(options.entrypoint ? { entrypoint: options.entrypoint } : {}),
        ...(this.#inactivityMs !== undefined ? { inactivityMs: this.#inactivityMs } : {}),
      }).then((answer) => answer.port as number),
      exit: Promise.resolve(),
      touchedAt: Date.now(),
    };
    record.exit = record.port
      .then(() => this.#call("wait", { key: this.#key }))
      .then((answer) => {
        const error = exitError(answer.exit as ExitReport);
        if (error) throw error;
      })
      .finally(() => {
        record.running = false;
        if (records.get(this.#key) === record) records.delete(this.#key);
      });
    // A caller that never asks for monitor() must not see an unhandled rejection.
    record.exit.catch(() => {});
    record.port.catch(() => {});
    records.set(this.#key, record);
    this.#ctx.waitUntil(record.exit.catch(() => {}));
  }

  monitor(): Promise<void> {
    const record = records.get(this.#key);
    return record ? record.exit : Promise.reject(new Error(NOT_RUNNING));
  }

  signal(signo: number): void {
    const record = records.get(this.#key);
    if (!record?.running) return;
    // After the start's answer: the CLI knows the process only from then on.
    this.#ctx.waitUntil(record.port.then(() => this.#call("signal", { key: this.#key, signo })).catch(() => {}));
  }

  async destroy(_error?: unknown): Promise<void> {
    const record = records.get(this.#key);
    if (!record) return;
    if (
      await record.port.then(
        () => true,
        () => false,
      )
    )
      await this.#call("destroy", { key: this.#key });
    await record.exit.catch(() => {});
  }

  async setInactivityTimeout(durationMs: number | bigint): Promise<void> {
    this.#inactivityMs = Number(durationMs);
    const record = records.get(this.#key);
    if (!record?.running) return;
    // After the start's answer: the CLI knows the process only from then on.
    if (
      await record.port.then(
        () => true,
        () => false,
      )
    )
      await this.#call("inactivity", { key: this.#key, ms: this.#inactivityMs });
  }

  async interceptOutboundHttp(host: string, binding: Fetcher): Promise<void> {
    this.#intercepts.set(host.toLowerCase(), binding);
    route(this.#key, host.toLowerCase(), binding);
  }

  async interceptAllOutboundHttp(binding: Fetcher): Promise<void> {
    this.#intercepts.set("*", binding);
    route(this.#key, "*", binding);
  }

  async interceptOutboundHttps(host: string, binding: Fetcher): Promise<void> {
    // Kept for the same lookup: an app process's HTTPS goes straight out, so only a request dev
    // routes itself (the command bus, plain HTTP) ever reaches an interception.
    this.#intercepts.set(host.toLowerCase(), this.#intercepts.get(host.toLowerCase()) ?? binding);
  }

  getTcpPort(port: number): Fetcher {
    return {
      fetch: async (input, init) => {
        const record = records.get(this.#key);
        if (!record?.running) throw new Error(`${NOT_RUNNING}: call start() first`);
        const local = await record.port;
        this.#touch(record);
        const request = new Request(input, init);
        const url = new URL(request.url);
        const to = `http://127.0.0.1:${local}${url.pathname}${url.search}`;
        const target = () => new Request(new Request(to, request), { redirect: "manual" });
        try {
          return await fetch(target());
        } catch (error) {
          // Only a request without a body is sent again (made anew from `request`, which it left
          // unread), and only after a restart dev itself made.
          if (request.body === null && record.running && (await this.#call("settled", { key: this.#key })).restarted)
            return fetch(target()).catch((retryError: unknown) => this.#fetchError(record, port, local, retryError));
          return this.#fetchError(record, port, local, error);
        }
      },
    };
  }

  /** The platform's errors for a request the app did not answer: not running, or not listening. */
  #fetchError(record: ContainerRecord, port: number, local: number, error: unknown): never {
    if (!record.running) throw new Error(`${NOT_RUNNING}: it exited`);
    throw new Error(
      `${NOT_LISTENING} on port ${port} (containerflare dev: 127.0.0.1:${local}: ${errorMessage(error)})`,
    );
  }

  exec(): never {
    throw new Error("containerflare dev runs the container as a local process: ctx.container.exec() is not available");
  }

  inspect(): Promise<null> {
    return Promise.resolve(null);
  }

  snapshotContainer(): never {
    throw new Error("containerflare dev runs the container as a local process: snapshots are not available");
  }

  /** Answers a request the app sent to `host`: through the interception the Durable Object set up. */
  outbound(request: Request): Promise<Response> {
    const host = new URL(request.url).hostname.toLowerCase();
    const target = this.#intercepts.get(host) ?? this.#intercepts.get("*");
    if (!target) {
      return Promise.resolve(
        errorResponse(502, {
          code: "UNAVAILABLE",
          message: `nothing intercepts ${host} for this container: call ctx.container.interceptOutboundHttp("${host}", …) before start()`,
          retryable: false,
        }),
      );
    }
    return target.fetch(request);
  }

  #touch(record: ContainerRecord): void {
    const now = Date.now();
    if (now - record.touchedAt < TOUCH_EVERY_MS) return;
    record.touchedAt = now;
    this.#ctx.waitUntil(this.#call("touch", { key: this.#key }).catch(() => {}));
  }

  async #call(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await this.#supervisor.fetch(`http://supervisor/${operation}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(String(answer.error ?? `containerflare dev: ${operation} failed`));
    return answer;
  }
}

/** The RPC method through which {@link devOutbound} reaches an object's {@link DevContainer}. */
const OUTBOUND_METHOD = "__containerflareDevOutbound";

// biome-ignore lint/suspicious/noExplicitAny: a Durable Object class of any constructor signature.
type ObjectClass = new (...args: any[]) => object;

/**
 * The class to export as `exportName` in place of `Base`: the same class, whose `ctx.container`
 * is a {@link DevContainer}. It keeps `Base.name`, which may differ from the export's
 * (`@cloudflare/containers` keys its outbound handlers by the class's own name), and adds one RPC
 * method for {@link devOutbound}.
 */
export function devContainerClass<T extends ObjectClass>(Base: T, exportName: string): T {
  const containers = new WeakMap<object, DevContainer>();
  const name = Base.name || exportName;
  const Wired = {
    [name]: class extends Base {
      // biome-ignore lint/suspicious/noExplicitAny: TypeScript requires `any[]` for a mixin's constructor (TS2545).
      constructor(...args: any[]) {
        const [ctx, env] = args as [DurableObjectStateLike, Env];
        // Keyed by the export's name: that is the class wrangler.jsonc and the CLI know.
        const container = new DevContainer(ctx, env, exportName);
        Object.defineProperty(ctx, "container", { value: container, configurable: true, enumerable: true });
        const exports = (ctx as { exports?: Record<string, unknown> }).exports;
        if (exports) Object.defineProperty(ctx, "exports", { value: tracedExports(exports), configurable: true });
        super(...args);
        containers.set(this, container);
      }

      [OUTBOUND_METHOD](request: Request): Promise<Response> {
        return containers.get(this)!.outbound(request);
      }
    },
  }[name]!;
  return Wired;
}

/** Verified instance tokens, so that a command costs one HMAC only once per instance; cleared when full. */
const MAX_VERIFIED_TOKENS = 1_024;
const verifiedTokens = new Set<string>();
let tokenKey: ReturnType<typeof crypto.subtle.importKey> | undefined;
let tokenKeyHex: string | undefined;

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether `token` is the CLI's HMAC of `className/id` (constant-time compare). */
async function validToken(settings: DevContainerSettings, className: string, id: string, token: string) {
  const claim = `${className}/${id}/${token}`;
  if (verifiedTokens.has(claim)) return true;
  if (tokenKeyHex !== settings.tokenKey || !tokenKey) {
    tokenKeyHex = settings.tokenKey;
    const raw = new Uint8Array(settings.tokenKey.match(/../g)!.map((pair) => Number.parseInt(pair, 16)));
    tokenKey = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }
  const expected = hex(
    await crypto.subtle.sign("HMAC", await tokenKey, new TextEncoder().encode(`${className}/${id}`)),
  );
  const encoder = new TextEncoder();
  const a = encoder.encode(expected);
  const b = encoder.encode(token);
  const subtle = crypto.subtle as typeof crypto.subtle & {
    timingSafeEqual?(a: ArrayBufferView, b: ArrayBufferView): boolean;
  };
  if (a.byteLength !== b.byteLength || !subtle.timingSafeEqual?.(a, b)) return false;
  if (verifiedTokens.size >= MAX_VERIFIED_TOKENS) verifiedTokens.clear();
  verifiedTokens.add(claim);
  return true;
}

interface DurableObjectNamespaceLike {
  idFromString(id: string): unknown;
  get(id: unknown): Record<string, unknown>;
}

function refused(status: number, message: string): Response {
  return errorResponse(status, { code: "FORBIDDEN", message, retryable: false });
}

/**
 * The entrypoint behind the loopback socket app processes send their command bus to:
 * `POST /<class>/<object id>/<token>/v1/commands` becomes `POST http://containerflare.internal/v1/commands`
 * at that object's interception. A wrong token or a browser's request is refused before any
 * Durable Object is touched.
 */
export const devOutbound = {
  async fetch(request: Request, env: Env, ctx: { exports?: Record<string, unknown> }): Promise<Response> {
    if (isBrowserRequest(request.headers))
      return refused(403, "the container's command route does not answer browsers");
    const settings = env[SETTINGS_BINDING] as DevContainerSettings;
    const url = new URL(request.url);
    const [, className = "", id = "", token = "", ...rest] = url.pathname.split("/");
    const config = Object.hasOwn(settings.classes, className) ? settings.classes[className] : undefined;
    if (!config || !/^[0-9a-f]{64}$/.test(id) || !(await validToken(settings, className, id, token)))
      return refused(401, "unknown container instance: use the CF_CMD_ENDPOINT containerflare dev gave the app");
    const forwarded = new Request(`http://${COMMAND_HOST}/${rest.join("/")}${url.search}`, request);
    // Straight to the intercepting entrypoint, made anew here from the export it came from.
    const hosts = routes.get(`${className}/${id}`);
    const origin = hosts?.get(COMMAND_HOST) ?? hosts?.get("*");
    const exported = origin ? (ctx.exports?.[origin.name] as ((options: unknown) => Fetcher) | undefined) : undefined;
    if (origin && exported) {
      const target = "options" in origin ? exported(origin.options) : (exported as unknown as Fetcher);
      return target.fetch(forwarded);
    }
    // Otherwise through the object, which holds whatever Fetcher it was given.
    const namespace = (ctx.exports?.[className] ?? env[config.binding]) as DurableObjectNamespaceLike | undefined;
    if (!namespace) {
      return errorResponse(500, {
        code: "NO_BINDING",
        message: `containerflare dev cannot reach the Durable Object class ${className}: add a durable_objects binding for it, or use compatibility_date 2025-11-17 or later (ctx.exports)`,
        retryable: false,
      });
    }
    const stub = namespace.get(namespace.idFromString(id)) as Record<string, (request: Request) => Promise<Response>>;
    return stub[OUTBOUND_METHOD]!(forwarded);
  },
};

interface QueueBatch {
  queue: string;
  messages: readonly { body: unknown }[];
  ackAll(): void;
}

type QueueHandler = (batch: QueueBatch, env: Record<string, unknown>, ctx: unknown) => unknown;

/**
 * The Worker's default export, whose `queue` gets the batches of the queues wrangler.jsonc's
 * `queues.consumers` lists (as in production), while dev logs and acks the batches of every other
 * queue the app produces to (dev consumes them all; their consumer in production may be another
 * Worker, or none). A class (a `WorkerEntrypoint` default) is left as it is.
 */
export function withQueueLog<T>(handler: T): T {
  if (typeof handler !== "object" || handler === null) return handler;
  const own = (handler as { queue?: unknown }).queue;
  // Object.create: the export's own methods (and its prototype's) stay reachable, with `this`.
  return Object.assign(Object.create(handler) as object, {
    queue(batch: QueueBatch, env: Record<string, unknown>, ctx: unknown): unknown {
      const consumed = (env[SETTINGS_BINDING] as DevContainerSettings | undefined)?.consumedQueues ?? [];
      if (typeof own === "function" && consumed.includes(batch.queue))
        return (own as QueueHandler).call(handler, batch, env, ctx);
      for (const message of batch.messages) console.log(`queue ${batch.queue}: ${JSON.stringify(message.body)}`);
      batch.ackAll();
      return undefined;
    },
  }) as T;
}
