import * as v from "valibot";
import { BINDING_KINDS, BINDING_NAME_RE, type BindingKind } from "./bindings/registry.ts";
import { ContainerflareError } from "./errors.ts";
import { isRoutePath } from "./internal/http.ts";
import { detectPlatform } from "./platform.ts";

/** Where the command bus connects (`CF_CMD_ENDPOINT`). */
export type CommandEndpoint =
  | { kind: "stdio" }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "http"; url: string }
  | { kind: "disabled" };

/** Platform names accepted by `CONTAINERFLARE_PLATFORM`. */
export type PlatformKind = "cloudflare" | "cloud-run" | "generic";

/** consola level names accepted by `CONTAINERFLARE_LOG_LEVEL` / `LOG_LEVEL`. */
export type LogLevelName = keyof typeof LOG_LEVELS;

/** Log output format (`CONTAINERFLARE_LOG_FORMAT`). */
export type LogFormat = "json" | "pretty" | "auto";

/**
 * What `console.*` inside a request becomes in the JSON log formats (`CONTAINERFLARE_CONSOLE`):
 * `structured`, a log line with the request's id and trace; `plain`, the runtime's own output.
 */
export type ConsoleMode = "structured" | "plain";

/** Everything containerflare reads from the environment, validated. */
export interface RuntimeConfig {
  /** Bind port: `PORT` > `CF_CONTAINER_PORT` > 8787. */
  port: number;
  /** Bind address: `CF_CONTAINER_ADDR`, default `0.0.0.0`. */
  hostname: string;
  /** `CONTAINERFLARE_PLATFORM`, when forced. */
  platform?: PlatformKind;
  /** `CF_CMD_ENDPOINT` / `CF_CMD_SOCKET`; undefined means the platform default. */
  commandEndpoint?: CommandEndpoint;
  /** `CONTAINERFLARE_COMMAND_TIMEOUT_MS`, default 30 000. */
  commandTimeoutMs: number;
  /** `CONTAINERFLARE_SECRET`: HMAC key shared with the Worker. */
  secret?: string;
  /** `CONTAINERFLARE_TRUST_METADATA=1`: trust an unsigned metadata header. */
  trustMetadata: boolean;
  /** `CONTAINERFLARE_SHUTDOWN_TIMEOUT` in ms; undefined means the platform default. */
  shutdownTimeoutMs?: number;
  /** consola numeric level. */
  logLevel: number;
  /** Log format. */
  logFormat: LogFormat;
  /** `CONTAINERFLARE_CONSOLE`, default `structured` (see {@link ConsoleMode}). */
  console: ConsoleMode;
  /** `CONTAINERFLARE_ACCESS_LOG`: log one line per request; undefined means the default. */
  accessLog?: boolean;
  /** `CONTAINERFLARE_BINDINGS`, when set: overrides `host.describe`. */
  bindings?: Record<string, BindingKind>;
  /**
   * `CONTAINERFLARE_MAX_BODY_SIZE`: largest request body in bytes, default 32 MiB (Cloud Run's own
   * HTTP/1 limit); `0` turns the limit off. A larger body is answered 413 `TOO_LARGE`.
   */
  maxRequestBodyBytes: number;
  /**
   * `CONTAINERFLARE_FORWARDED_HOPS`: on Cloud Run, how many proxies the platform puts in front of
   * the container that each append to `X-Forwarded-For` (default 1: the Google front end of a
   * run.app URL; 2 behind an external Application Load Balancer). The client IP is the address
   * that many places from the right; everything left of it is client-supplied and ignored.
   */
  forwardedHops: number;
  /**
   * WebSocket options from `CONTAINERFLARE_WS_MAX_MESSAGE_SIZE`, `CONTAINERFLARE_WS_MAX_BUFFERED`,
   * `CONTAINERFLARE_WS_MAX_CONNECTIONS`, `CONTAINERFLARE_WS_IDLE_TIMEOUT` (seconds) and
   * `CONTAINERFLARE_WS_ORIGINS` (comma-separated origins, or `*`): only those set; serve()'s
   * `webSocketOptions` win over them, and src/serve/websocket.ts holds the defaults.
   */
  webSocket: WebSocketEnvOptions;
  /**
   * `CONTAINERFLARE_KEEPALIVE_INTERVAL` in seconds (decimals allowed), as ms: how often a container
   * on Cloudflare tells its Worker it still works while `waitUntil` tasks or events run
   * (`host.keepalive`), default {@link DEFAULT_KEEPALIVE_INTERVAL_MS}; `0` turns it off.
   */
  keepAliveIntervalMs: number;
  /**
   * `CONTAINERFLARE_HEALTH_PATH` (or serve()'s `healthPath`): the path of the built-in health
   * route, e.g. `/healthz`; undefined (the default) leaves it off. See src/serve/health.ts.
   */
  healthPath?: string;
  /**
   * Events on Cloud Run (Pub/Sub push, Cloud Scheduler): `CONTAINERFLARE_PUBSUB_PATH`,
   * `CONTAINERFLARE_SCHEDULER_PATH` and the OIDC check (`CONTAINERFLARE_OIDC_AUDIENCE`,
   * `CONTAINERFLARE_OIDC_EMAILS`, `CONTAINERFLARE_OIDC_JWKS_URL`); serve()'s `cloudRunEvents`
   * option wins over them. Off unless a path is set.
   */
  cloudRunEvents: CloudRunEventsConfig;
}

/**
 * Default keep-alive interval: 10 s, well inside any inactivity timeout worth having (the
 * default is 5 minutes, `sleepAfter`'s examples say minutes) and one small command per 10 s of
 * background work.
 */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 10_000;

/** Where Pub/Sub pushes and Cloud Scheduler jobs land, and how their OIDC tokens are checked. */
export interface CloudRunEventsConfig {
  /** Path of the Pub/Sub push endpoint (`/_events/pubsub`): requests to it reach `queue`. */
  pubsubPath?: string;
  /** Path of the Cloud Scheduler jobs' HTTP target: requests to it reach `scheduled`. */
  schedulerPath?: string;
  /** When set, each request must carry a Google-signed OIDC ID token with this `aud`. */
  oidcAudience?: string;
  /** When set, the token's `email` (verified) must be one of these service accounts (lower case). */
  oidcEmails?: string[];
  /** The key set the tokens are checked against: {@link GOOGLE_JWKS_URL} unless set. */
  oidcJwksUrl: string;
}

/** What serve()'s `cloudRunEvents` option may set; each value wins over its variable. */
export type CloudRunEventsOptions = {
  [Key in keyof CloudRunEventsConfig]?: Key extends "oidcEmails" ? string[] | string : string;
};

/** Google's OAuth 2.0 signing keys, which sign Pub/Sub's and Cloud Scheduler's OIDC ID tokens. */
export const GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs";

/** The WebSocket options the environment can set (see {@link RuntimeConfig.webSocket}). */
export interface WebSocketEnvOptions {
  maxMessageSize?: number;
  maxBufferedAmount?: number;
  maxConnections?: number;
  idleTimeout?: number;
  allowedOrigins?: string[];
}

/** Default request body limit: 32 MiB, Cloud Run's limit for HTTP/1 requests. */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;

/** Environment variables as strings (process.env, Deno.env.toObject(), a test object). */
export type EnvSource = Record<string, string | undefined>;

/** consola level numbers by name. */
export const LOG_LEVELS = {
  silent: -999,
  fatal: 0,
  error: 0,
  warn: 1,
  log: 2,
  info: 3,
  success: 3,
  debug: 4,
  trace: 5,
  verbose: 999,
} as const;

/** Thrown for a bad environment value: its message is the one line shown to the user. */
export class ConfigError extends ContainerflareError {
  override readonly name = "ConfigError";
  readonly variable: string;
  /** `message` replaces the default line, `invalid NAME="value": expected …`. */
  constructor(variable: string, value: string, expected: string, message?: string) {
    super("INVALID_CONFIG", message ?? `invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`);
    this.variable = variable;
  }
}

const trimmed = v.pipe(v.string(), v.trim());
const portSchema = v.pipe(trimmed, v.regex(/^\d{1,5}$/), v.transform(Number), v.maxValue(65535));
const positiveIntSchema = v.pipe(trimmed, v.regex(/^\d+$/), v.transform(Number), v.minValue(1));
const positiveSecondsSchema = v.pipe(
  trimmed,
  v.regex(/^\d+(\.\d+)?$/),
  v.transform((value) => Math.round(Number(value) * 1000)),
);
const hostnameSchema = v.pipe(trimmed, v.nonEmpty(), v.regex(/^[\w.:[\]-]+$/));
const platformSchema = v.pipe(trimmed, v.toLowerCase(), v.picklist(["cloudflare", "cloud-run", "generic"] as const));
const logFormatSchema = v.pipe(trimmed, v.toLowerCase(), v.picklist(["json", "pretty", "auto"] as const));
const consoleSchema = v.pipe(trimmed, v.toLowerCase(), v.picklist(["structured", "plain"] as const));
const logLevelSchema = v.pipe(trimmed, v.toLowerCase(), v.picklist(Object.keys(LOG_LEVELS) as LogLevelName[]));
const flagSchema = v.pipe(
  trimmed,
  v.toLowerCase(),
  v.picklist(["1", "0", "true", "false", "yes", "no", "on", "off", ""]),
  v.transform((value) => ["1", "true", "yes", "on"].includes(value)),
);
const bindingNameSchema = v.pipe(v.string(), v.regex(BINDING_NAME_RE));
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  kib: 2 ** 10,
  mb: 1e6,
  mib: 2 ** 20,
  gb: 1e9,
  gib: 2 ** 30,
};
const byteSizeSchema = v.pipe(
  trimmed,
  v.toLowerCase(),
  v.regex(/^\d{1,13}\s*(?:b|kb|kib|mb|mib|gb|gib)?$/),
  v.transform((value) => {
    const [, digits = "", unit = ""] = /^(\d+)\s*([a-z]*)$/.exec(value) ?? [];
    return Number(digits) * (SIZE_UNITS[unit] ?? Number.NaN);
  }),
  v.safeInteger(),
);
/** `https://chat.example.com,http://localhost:5173` or `*`: serialized origins (scheme, host, port; no path). */
const originListSchema = v.pipe(
  trimmed,
  v.transform((value) => value.split(",").map((origin) => origin.trim().replace(/\/$/, ""))),
  v.check(
    (origins) =>
      origins.length > 0 &&
      origins.every((origin) => {
        if (origin === "*") return true;
        try {
          return new URL(origin).origin === origin.toLowerCase();
        } catch {
          return false;
        }
      }),
  ),
);
const countSchema = v.pipe(trimmed, v.regex(/^\d{1,9}$/), v.transform(Number), v.minValue(1));
const secondsSchema = v.pipe(trimmed, v.regex(/^\d{1,7}$/), v.transform(Number));
/** 0 (off), or 0.1 s to 1 h: a keep-alive faster than that is a busy loop, slower outlives any timeout. */
const keepAliveSchema = v.pipe(
  trimmed,
  v.regex(/^\d{1,4}(\.\d{1,3})?$/),
  v.transform((value) => Math.round(Number(value) * 1000)),
  v.check((ms) => ms === 0 || (ms >= 100 && ms <= 3_600_000)),
);
const HEALTH_PATH_EXPECTED = "a path starting with /, without query or spaces, such as /healthz";
/** A route of serve()'s own (health, Pub/Sub, Scheduler): see {@link isRoutePath}. */
const routePathSchema = v.pipe(trimmed, v.check(isRoutePath));
const audienceSchema = v.pipe(trimmed, v.nonEmpty(), v.maxLength(2048));
const emailListSchema = v.pipe(
  trimmed,
  v.transform((value) => value.split(",").map((email) => email.trim().toLowerCase())),
  v.check((emails) => emails.length <= 100 && emails.every((email) => /^[^\s@,]+@[^\s@,]+$/.test(email))),
);
const httpUrlSchema = v.pipe(
  trimmed,
  v.check((value) => {
    try {
      return ["http:", "https:"].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }),
);
const hopsSchema = v.pipe(trimmed, v.regex(/^\d{1,2}$/), v.transform(Number), v.minValue(1), v.maxValue(16));

function read<TSchema extends v.GenericSchema<string, unknown>>(
  env: EnvSource,
  variable: string,
  schema: TSchema,
  expected: string,
): v.InferOutput<TSchema> | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === "") return undefined;
  const result = v.safeParse(schema, raw);
  if (!result.success) throw new ConfigError(variable, raw, expected);
  return result.output;
}

/**
 * Parses a `CF_CMD_ENDPOINT` value: `stdio`, `tcp://host:port`, `unix:///path`, `http(s)://…` or
 * `disabled`. Throws {@link ConfigError} naming `variable` otherwise.
 */
export function parseCommandEndpoint(value: string, variable = "CF_CMD_ENDPOINT"): CommandEndpoint {
  const expected = "stdio, tcp://host:port, unix:///path, http(s)://host/path or disabled";
  const text = value.trim();
  if (text === "stdio") return { kind: "stdio" };
  if (text === "disabled") return { kind: "disabled" };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(variable, value, expected);
  }
  switch (url.protocol) {
    case "http:":
    case "https:":
      return { kind: "http", url: url.href };
    case "tcp:": {
      const port = url.port === "" ? Number.NaN : Number(url.port);
      if (!url.hostname || !Number.isInteger(port) || port < 1) throw new ConfigError(variable, value, expected);
      return { kind: "tcp", host: url.hostname.replace(/^\[|\]$/g, ""), port };
    }
    case "unix:": {
      let path: string;
      try {
        path = decodeURIComponent(url.pathname);
      } catch {
        throw new ConfigError(variable, value, expected);
      }
      if (url.host !== "" || path.length < 2) throw new ConfigError(variable, value, expected);
      return { kind: "unix", path };
    }
    default:
      throw new ConfigError(variable, value, expected);
  }
}

/** Parses `CONTAINERFLARE_BINDINGS` (`CACHE:kv,DB:d1,…`). */
export function parseBindingList(value: string, variable = "CONTAINERFLARE_BINDINGS"): Record<string, BindingKind> {
  const expected = `NAME:kind pairs separated by commas, kind one of ${BINDING_KINDS.join("|")}`;
  const bindings: Record<string, BindingKind> = Object.create(null);
  for (const entry of value.split(",")) {
    const pair = entry.trim();
    if (pair === "") continue;
    const [name = "", kind = "", ...rest] = pair.split(":").map((part) => part.trim());
    if (rest.length > 0 || !v.is(bindingNameSchema, name) || !BINDING_KINDS.includes(kind as BindingKind)) {
      throw new ConfigError(variable, value, expected);
    }
    bindings[name] = kind as BindingKind;
  }
  return bindings;
}

/**
 * Reads and validates the environment contract (see ARCHITECTURE.md). `overrides` win over the
 * environment; they are how tests and `serve()` options set values without touching env vars.
 * Throws {@link ConfigError} with a one-line message on the first bad value.
 */
export function resolveConfig(env: EnvSource = processEnv(), overrides: Partial<RuntimeConfig> = {}): RuntimeConfig {
  const port =
    read(env, "PORT", portSchema, "an integer port from 0 to 65535") ??
    read(env, "CF_CONTAINER_PORT", portSchema, "an integer port from 0 to 65535") ??
    8787;
  const hostname = read(env, "CF_CONTAINER_ADDR", hostnameSchema, "an IP address or host name") ?? "0.0.0.0";
  const platform = read(env, "CONTAINERFLARE_PLATFORM", platformSchema, "cloudflare, cloud-run or generic");

  let commandEndpoint: CommandEndpoint | undefined;
  if (env.CF_CMD_ENDPOINT) commandEndpoint = parseCommandEndpoint(env.CF_CMD_ENDPOINT);
  else if (env.CF_CMD_SOCKET) {
    if (!env.CF_CMD_SOCKET.startsWith("/"))
      throw new ConfigError("CF_CMD_SOCKET", env.CF_CMD_SOCKET, "an absolute socket path");
    commandEndpoint = { kind: "unix", path: env.CF_CMD_SOCKET };
  }

  const levelName =
    read(env, "CONTAINERFLARE_LOG_LEVEL", logLevelSchema, `a log level (${Object.keys(LOG_LEVELS).join(", ")})`) ??
    read(env, "LOG_LEVEL", logLevelSchema, `a log level (${Object.keys(LOG_LEVELS).join(", ")})`);

  const config: RuntimeConfig = {
    port,
    hostname,
    platform,
    commandEndpoint,
    commandTimeoutMs:
      read(env, "CONTAINERFLARE_COMMAND_TIMEOUT_MS", positiveIntSchema, "a positive integer number of milliseconds") ??
      30_000,
    secret: env.CONTAINERFLARE_SECRET || undefined,
    trustMetadata: read(env, "CONTAINERFLARE_TRUST_METADATA", flagSchema, "1 or 0") ?? false,
    shutdownTimeoutMs: read(env, "CONTAINERFLARE_SHUTDOWN_TIMEOUT", positiveSecondsSchema, "a number of seconds"),
    logLevel: LOG_LEVELS[levelName ?? "info"],
    logFormat: read(env, "CONTAINERFLARE_LOG_FORMAT", logFormatSchema, "json, pretty or auto") ?? "auto",
    console: read(env, "CONTAINERFLARE_CONSOLE", consoleSchema, "structured or plain") ?? "structured",
    accessLog: read(env, "CONTAINERFLARE_ACCESS_LOG", flagSchema, "1 or 0"),
    bindings: env.CONTAINERFLARE_BINDINGS ? parseBindingList(env.CONTAINERFLARE_BINDINGS) : undefined,
    maxRequestBodyBytes:
      read(
        env,
        "CONTAINERFLARE_MAX_BODY_SIZE",
        byteSizeSchema,
        "a size in bytes such as 33554432, 32MiB or 10mb (0: no limit)",
      ) ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
    forwardedHops: read(env, "CONTAINERFLARE_FORWARDED_HOPS", hopsSchema, "an integer from 1 to 16") ?? 1,
    webSocket: readWebSocketOptions(env),
    keepAliveIntervalMs:
      read(
        env,
        "CONTAINERFLARE_KEEPALIVE_INTERVAL",
        keepAliveSchema,
        "a number of seconds from 0.1 to 3600 (0: off)",
      ) ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    healthPath: read(env, "CONTAINERFLARE_HEALTH_PATH", routePathSchema, HEALTH_PATH_EXPECTED),
    cloudRunEvents: resolveCloudRunEvents(env),
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  // The option is checked like the variable: a path that can never match would leave it off silently.
  if (overrides.healthPath !== undefined) {
    const result = v.safeParse(routePathSchema, overrides.healthPath);
    if (!result.success) throw new ConfigError("healthPath", String(overrides.healthPath), HEALTH_PATH_EXPECTED);
    config.healthPath = result.output;
  }
  requireSecretForRemoteHost(config, env);
  return config;
}

/** The WebSocket variables that are set. */
function readWebSocketOptions(env: EnvSource): WebSocketEnvOptions {
  const size = "a size in bytes such as 16777216, 16MiB or 1mb";
  const options: WebSocketEnvOptions = {
    maxMessageSize: read(env, "CONTAINERFLARE_WS_MAX_MESSAGE_SIZE", byteSizeSchema, size),
    maxBufferedAmount: read(env, "CONTAINERFLARE_WS_MAX_BUFFERED", byteSizeSchema, `${size} (0: no bound)`),
    maxConnections: read(env, "CONTAINERFLARE_WS_MAX_CONNECTIONS", countSchema, "a positive integer"),
    idleTimeout: read(env, "CONTAINERFLARE_WS_IDLE_TIMEOUT", secondsSchema, "a whole number of seconds (0: never)"),
    allowedOrigins: read(
      env,
      "CONTAINERFLARE_WS_ORIGINS",
      originListSchema,
      "comma-separated origins such as https://app.example.com,http://localhost:5173, or *",
    ),
  };
  for (const key of Object.keys(options) as (keyof WebSocketEnvOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  return options;
}

const CLOUD_RUN_EVENT_FIELDS = {
  pubsubPath: ["CONTAINERFLARE_PUBSUB_PATH", routePathSchema, "a path starting with / (e.g. /_events/pubsub)"],
  schedulerPath: ["CONTAINERFLARE_SCHEDULER_PATH", routePathSchema, "a path starting with / (e.g. /_events/scheduler)"],
  oidcAudience: [
    "CONTAINERFLARE_OIDC_AUDIENCE",
    audienceSchema,
    "the audience of the OIDC tokens (e.g. the service URL)",
  ],
  oidcEmails: ["CONTAINERFLARE_OIDC_EMAILS", emailListSchema, "comma-separated service account emails (at most 100)"],
  oidcJwksUrl: ["CONTAINERFLARE_OIDC_JWKS_URL", httpUrlSchema, "an http(s) URL of a JSON Web Key Set"],
} as const;

/**
 * The Cloud Run events settings: the environment's, with `options` (serve()'s `cloudRunEvents`)
 * winning, each value validated alike; a bad option is named `cloudRunEvents.<key>` in the line.
 */
export function resolveCloudRunEvents(env: EnvSource, options: CloudRunEventsOptions = {}): CloudRunEventsConfig {
  const settings: Record<string, unknown> = {};
  for (const [key, [variable, schema, expected]] of Object.entries(CLOUD_RUN_EVENT_FIELDS)) {
    const option = options[key as keyof CloudRunEventsOptions];
    const value =
      option === undefined
        ? read(env, variable, schema as v.GenericSchema<string, unknown>, expected)
        : read(
            { [`cloudRunEvents.${key}`]: Array.isArray(option) ? option.join(",") : option },
            `cloudRunEvents.${key}`,
            schema as v.GenericSchema<string, unknown>,
            expected,
          );
    if (value !== undefined) settings[key] = value;
  }
  const config = { oidcJwksUrl: GOOGLE_JWKS_URL, ...settings } as CloudRunEventsConfig;
  if (config.pubsubPath !== undefined && config.pubsubPath === config.schedulerPath)
    throw new ConfigError(
      "CONTAINERFLARE_SCHEDULER_PATH",
      config.schedulerPath,
      "",
      `CONTAINERFLARE_PUBSUB_PATH and CONTAINERFLARE_SCHEDULER_PATH must differ (both ${config.pubsubPath})`,
    );
  return config;
}

/**
 * On Cloud Run an `https://` command endpoint is a Worker's public command route (or another
 * host across the internet), which answers signed requests only: without `CONTAINERFLARE_SECRET`
 * every binding call would fail with 401, so start-up stops here, in one line, instead. Plain
 * `http://` endpoints stay allowed unsigned (a sidecar on localhost, a host inside the VPC).
 */
function requireSecretForRemoteHost(config: RuntimeConfig, env: EnvSource): void {
  const endpoint = config.commandEndpoint;
  if (endpoint?.kind !== "http" || config.secret || !endpoint.url.startsWith("https:")) return;
  if (detectPlatform(env, config.platform).kind !== "cloud-run") return;
  const shown = new URL(endpoint.url);
  const where = `${shown.origin}${shown.pathname}`;
  throw new ConfigError(
    "CONTAINERFLARE_SECRET",
    "",
    "",
    `CF_CMD_ENDPOINT=${where} needs CONTAINERFLARE_SECRET on Cloud Run: the Worker's command route answers signed requests only (gcloud run deploy --set-secrets CONTAINERFLARE_SECRET=<secret>:latest)`,
  );
}

/** The process environment on Node, Bun and Deno (all three expose `process.env`). */
export function processEnv(): EnvSource {
  return (globalThis as { process?: { env: EnvSource } }).process?.env ?? {};
}
