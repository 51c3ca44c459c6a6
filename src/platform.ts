import type { CommandEndpoint, EnvSource, PlatformKind, RuntimeConfig } from "./config.ts";
import type { MetadataServerOptions } from "./gcp-metadata-server.ts";

/** What the Cloudflare Containers runtime tells the container about itself. */
export interface CloudflarePlatformInfo {
  /** `CLOUDFLARE_APPLICATION_ID`. */
  applicationId?: string;
  /** `CLOUDFLARE_DURABLE_OBJECT_ID`: the container's Durable Object. */
  durableObjectId?: string;
  /** `CLOUDFLARE_DEPLOYMENT_ID`. */
  deploymentId?: string;
  /** `CLOUDFLARE_LOCATION`: where the container runs. */
  location?: string;
  /** `CLOUDFLARE_REGION`. */
  region?: string;
  /** `CLOUDFLARE_COUNTRY_A2`. */
  country?: string;
}

/** What Cloud Run tells the container about itself (services, jobs and worker pools). */
export interface CloudRunPlatformInfo {
  /** Which kind of Cloud Run resource runs this container. */
  resource: "service" | "job" | "worker-pool";
  /** `K_SERVICE`. */
  service?: string;
  /** `K_REVISION`. */
  revision?: string;
  /** `K_CONFIGURATION`. */
  configuration?: string;
  /** `CLOUD_RUN_JOB`. */
  job?: string;
  /** `CLOUD_RUN_EXECUTION`. */
  execution?: string;
  /** `CLOUD_RUN_TASK_INDEX`. */
  taskIndex?: number;
  /** `CLOUD_RUN_TASK_ATTEMPT`. */
  taskAttempt?: number;
  /** `CLOUD_RUN_TASK_COUNT`. */
  taskCount?: number;
  /** `CLOUD_RUN_WORKER_POOL`. */
  workerPool?: string;
  /** From `GOOGLE_CLOUD_PROJECT`, else the metadata server (filled in once known). */
  projectId?: string;
  /** From the metadata server (filled in once known). */
  region?: string;
}

/** The platform the container runs on. */
export interface PlatformInfo {
  kind: PlatformKind;
  cloudflare?: CloudflarePlatformInfo;
  cloudRun?: CloudRunPlatformInfo;
}

const CLOUDFLARE_MARKERS = ["CLOUDFLARE_APPLICATION_ID", "CLOUDFLARE_DURABLE_OBJECT_ID", "CLOUDFLARE_DEPLOYMENT_ID"];

function optionalNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

function compact<T extends object>(object: T): T {
  for (const key of Object.keys(object) as (keyof T)[]) if (object[key] === undefined) delete object[key];
  return object;
}

function cloudRunResource(env: EnvSource): CloudRunPlatformInfo["resource"] | undefined {
  if (env.K_SERVICE) return "service";
  if (env.CLOUD_RUN_JOB) return "job";
  if (env.CLOUD_RUN_WORKER_POOL) return "worker-pool";
  return undefined;
}

/**
 * Detects the platform from the environment: Cloudflare when any Cloudflare container variable is
 * set, Cloud Run for services, jobs and worker pools, generic otherwise. `forced` wins
 * (`CONTAINERFLARE_PLATFORM`).
 */
export function detectPlatform(env: EnvSource, forced?: PlatformKind): PlatformInfo {
  const onCloudflare = CLOUDFLARE_MARKERS.some((name) => env[name]);
  const resource = cloudRunResource(env);
  const kind: PlatformKind = forced ?? (onCloudflare ? "cloudflare" : resource ? "cloud-run" : "generic");
  if (kind === "cloudflare") {
    return {
      kind,
      cloudflare: compact({
        applicationId: env.CLOUDFLARE_APPLICATION_ID || undefined,
        durableObjectId: env.CLOUDFLARE_DURABLE_OBJECT_ID || undefined,
        deploymentId: env.CLOUDFLARE_DEPLOYMENT_ID || undefined,
        location: env.CLOUDFLARE_LOCATION || undefined,
        region: env.CLOUDFLARE_REGION || undefined,
        country: env.CLOUDFLARE_COUNTRY_A2 || undefined,
      }),
    };
  }
  if (kind === "cloud-run") {
    return {
      kind,
      cloudRun: compact({
        resource: resource ?? "service",
        service: env.K_SERVICE || undefined,
        revision: env.K_REVISION || undefined,
        configuration: env.K_CONFIGURATION || undefined,
        job: env.CLOUD_RUN_JOB || undefined,
        execution: env.CLOUD_RUN_EXECUTION || undefined,
        taskIndex: optionalNumber(env.CLOUD_RUN_TASK_INDEX),
        taskAttempt: optionalNumber(env.CLOUD_RUN_TASK_ATTEMPT),
        taskCount: optionalNumber(env.CLOUD_RUN_TASK_COUNT),
        workerPool: env.CLOUD_RUN_WORKER_POOL || undefined,
        projectId: env.GOOGLE_CLOUD_PROJECT || env.GCLOUD_PROJECT || undefined,
      }),
    };
  }
  return { kind };
}

/** Command endpoint when `CF_CMD_ENDPOINT` is unset: the Worker on Cloudflare, none elsewhere. */
export function defaultCommandEndpoint(platform: PlatformInfo): CommandEndpoint {
  return platform.kind === "cloudflare"
    ? { kind: "http", url: "http://containerflare.internal/v1/commands" }
    : { kind: "disabled" };
}

/** The endpoint to use and, when it is disabled, the reason given to callers. */
export function resolveCommandEndpoint(
  config: Pick<RuntimeConfig, "commandEndpoint">,
  platform: PlatformInfo,
): { endpoint: CommandEndpoint; unavailableReason?: string } {
  const endpoint = config.commandEndpoint ?? defaultCommandEndpoint(platform);
  if (endpoint.kind !== "disabled") return { endpoint };
  const reason = config.commandEndpoint
    ? "the command bus is disabled (CF_CMD_ENDPOINT=disabled)"
    : platform.kind === "cloud-run"
      ? "no command host on Cloud Run; set CF_CMD_ENDPOINT to reach one"
      : "no command host configured; set CF_CMD_ENDPOINT (or run under `containerflare dev`)";
  return { endpoint, unavailableReason: reason };
}

/**
 * Fills in the Cloud Run project id and region in the background from the Google metadata server
 * (gcp-metadata-server.ts, imported only then); `info` is updated in place when the answer
 * arrives, so start-up and requests never wait for the metadata server.
 */
export function enrichCloudRunInfo(info: PlatformInfo, options?: MetadataServerOptions): Promise<void> {
  const cloudRun = info.cloudRun;
  if (!cloudRun || (cloudRun.projectId && cloudRun.region)) return Promise.resolve();
  return import("./gcp-metadata-server.ts").then(async ({ fetchInstanceInfo }) => {
    const found = await fetchInstanceInfo(options);
    cloudRun.projectId ??= found.projectId;
    cloudRun.region ??= found.region;
  });
}
