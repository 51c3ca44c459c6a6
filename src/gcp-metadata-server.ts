/**
 * The Google Cloud metadata server: what a Cloud Run instance learns about itself (project id,
 * region) when the environment does not say (platform.ts's enrichCloudRunInfo). This module and
 * its HTTP client (ofetch) are imported on the first call: only Cloud Run without
 * `GOOGLE_CLOUD_PROJECT` asks, and loading them costs a noticeable part of a cold start.
 *
 * @module
 */
/** Default base URL of the Google metadata server. */
export const GCP_METADATA_SERVER_URL = "http://metadata.google.internal/computeMetadata/v1";

/** Options of {@link fetchInstanceInfo}. */
export interface MetadataServerOptions {
  /** Metadata server base URL (tests point it at a local server). */
  baseURL?: string;
  /** Per-request timeout in milliseconds; the metadata server answers in a few. */
  timeout?: number;
}

/** What the metadata server tells about the instance. */
export interface InstanceInfo {
  projectId?: string;
  region?: string;
}

/**
 * Reads project id and region from the metadata server. Never throws: on any failure (no server
 * outside Google Cloud, a timeout) the fields stay undefined.
 */
export async function fetchInstanceInfo(options: MetadataServerOptions = {}): Promise<InstanceInfo> {
  const { ofetch } = await import("ofetch");
  const client = ofetch.create({
    baseURL: options.baseURL ?? GCP_METADATA_SERVER_URL,
    headers: { "Metadata-Flavor": "Google" },
    timeout: options.timeout ?? 1000,
    retry: 0,
    responseType: "text",
  });
  const [projectId, region] = await Promise.all([
    client<string>("/project/project-id").catch(() => undefined),
    client<string>("/instance/region").catch(() => undefined),
  ]);
  const info: InstanceInfo = {};
  if (projectId?.trim()) info.projectId = projectId.trim();
  // The region comes as `projects/<number>/regions/<region>`.
  const regionName = region?.trim().split("/").pop();
  if (regionName) info.region = regionName;
  return info;
}

/** @deprecated The first name of {@link fetchInstanceInfo} (in platform.ts). */
export const fetchCloudRunMetadata: typeof fetchInstanceInfo = fetchInstanceInfo;
/** @deprecated The first name of {@link GCP_METADATA_SERVER_URL} (in platform.ts). */
export const GOOGLE_METADATA_URL: string = GCP_METADATA_SERVER_URL;
/** @deprecated The first name of {@link MetadataServerOptions} (in platform.ts). */
export type CloudRunMetadataOptions = MetadataServerOptions;
