/**
 * What serve() decides once, before it listens: the configuration (with the exit policy for a bad
 * environment), the platform, the command endpoint, the log format and logger, whether the access
 * log is on, and how far the metadata header is trusted.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import {
  type CommandEndpoint,
  ConfigError,
  processEnv,
  type RuntimeConfig,
  resolveCloudRunEvents,
  resolveConfig,
} from "../config.ts";
import { exitProcess } from "../exit.ts";
import { createLogger, processSink, resolveLogFormat } from "../log.ts";
import { type MetadataTrust, metadataTrust } from "../metadata-header.ts";
import { detectPlatform, enrichCloudRunInfo, type PlatformInfo, resolveCommandEndpoint } from "../platform.ts";
import type { ServeOptions } from "./options.ts";

/** Everything serve() settles at start-up. */
export interface ServeSetup {
  config: RuntimeConfig;
  platform: PlatformInfo;
  endpoint: CommandEndpoint;
  /** Why binding calls fail when the endpoint is disabled. */
  unavailableReason: string | undefined;
  logger: ConsolaInstance;
  /** Whether log lines are JSON (not pretty); a promise where the terminal check is asynchronous (Bun). */
  jsonLogs: boolean | Promise<boolean>;
  /** One log line per request; a promise where the terminal check is asynchronous (Bun). */
  accessLog: boolean | Promise<boolean>;
  metadataTrust: MetadataTrust;
}

/**
 * The configuration from the environment and `options`. A bad value ends the process with one
 * line when serve() owns it (`manageProcess`), and is thrown otherwise.
 */
function configure(options: ServeOptions, manageProcess: boolean): RuntimeConfig {
  try {
    const env = options.env ?? processEnv();
    return resolveConfig(env, {
      ...options.config,
      port: options.port,
      hostname: options.hostname,
      maxRequestBodyBytes: options.maxRequestBodySize,
      console: options.console,
      healthPath: options.healthPath,
      cloudRunEvents: options.cloudRunEvents && resolveCloudRunEvents(env, options.cloudRunEvents),
    });
  } catch (error) {
    if (manageProcess && error instanceof ConfigError) exitProcess(1, error.message);
    throw error;
  }
}

/** Settles {@link ServeSetup}; the only thing it starts is the Cloud Run metadata lookup, in the background. */
export function setUpServer(options: ServeOptions, manageProcess: boolean): ServeSetup {
  const config = configure(options, manageProcess);
  const platform = detectPlatform(options.env ?? processEnv(), config.platform);
  if (platform.kind === "cloud-run") enrichCloudRunInfo(platform).catch(() => {});
  const { endpoint, unavailableReason } = resolveCommandEndpoint(config, platform);
  // The stdio command transport owns stdout: logs then go to stderr.
  const sink = processSink(endpoint.kind === "stdio" ? "stderr" : "stdout");
  // Resolved once: the logger's format and the access log's default both follow it.
  const terminal = config.logFormat === "auto" ? sink.isTerminal() : false;
  const format =
    typeof terminal === "boolean"
      ? resolveLogFormat(config.logFormat, terminal)
      : terminal.then((isTerminal) => resolveLogFormat(config.logFormat, isTerminal));
  const logger = options.logger ?? createLogger({ level: config.logLevel, format, platform, sink });
  const accessLogDefault = (resolved: string) => config.accessLog ?? resolved === "pretty";
  const json = (resolved: string) => resolved === "json";
  return {
    config,
    platform,
    endpoint,
    unavailableReason,
    logger,
    jsonLogs: typeof format === "string" ? json(format) : format.then(json),
    accessLog: typeof format === "string" ? accessLogDefault(format) : format.then(accessLogDefault),
    metadataTrust: metadataTrust({
      secret: config.secret,
      trustUnsigned: config.trustMetadata || platform.kind === "cloudflare",
    }),
  };
}
