import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { fetchInstanceInfo } from "../../src/gcp-metadata-server.ts";
import { detectPlatform, enrichCloudRunInfo, resolveCommandEndpoint } from "../../src/platform.ts";

describe("detectPlatform", () => {
  it("detects Cloudflare from any of its variables", () => {
    for (const marker of ["CLOUDFLARE_APPLICATION_ID", "CLOUDFLARE_DURABLE_OBJECT_ID", "CLOUDFLARE_DEPLOYMENT_ID"]) {
      expect(detectPlatform({ [marker]: "x" }).kind).toBe("cloudflare");
    }
    expect(
      detectPlatform({
        CLOUDFLARE_APPLICATION_ID: "app",
        CLOUDFLARE_DURABLE_OBJECT_ID: "do",
        CLOUDFLARE_DEPLOYMENT_ID: "dep",
        CLOUDFLARE_LOCATION: "sfo06",
        CLOUDFLARE_REGION: "WNAM",
        CLOUDFLARE_COUNTRY_A2: "US",
      }),
    ).toEqual({
      kind: "cloudflare",
      cloudflare: {
        applicationId: "app",
        durableObjectId: "do",
        deploymentId: "dep",
        location: "sfo06",
        region: "WNAM",
        country: "US",
      },
    });
  });

  it("detects Cloud Run services, jobs and worker pools", () => {
    expect(
      detectPlatform({ K_SERVICE: "api", K_REVISION: "api-00001", K_CONFIGURATION: "api", GOOGLE_CLOUD_PROJECT: "p" }),
    ).toEqual({
      kind: "cloud-run",
      cloudRun: { resource: "service", service: "api", revision: "api-00001", configuration: "api", projectId: "p" },
    });
    expect(
      detectPlatform({
        CLOUD_RUN_JOB: "nightly",
        CLOUD_RUN_EXECUTION: "nightly-x",
        CLOUD_RUN_TASK_INDEX: "2",
        CLOUD_RUN_TASK_COUNT: "4",
      }),
    ).toEqual({
      kind: "cloud-run",
      cloudRun: { resource: "job", job: "nightly", execution: "nightly-x", taskIndex: 2, taskCount: 4 },
    });
    expect(detectPlatform({ CLOUD_RUN_WORKER_POOL: "pool" })).toEqual({
      kind: "cloud-run",
      cloudRun: { resource: "worker-pool", workerPool: "pool" },
    });
  });

  it("is generic otherwise, and obeys a forced platform", () => {
    expect(detectPlatform({})).toEqual({ kind: "generic" });
    expect(detectPlatform({ K_SERVICE: "api" }, "generic")).toEqual({ kind: "generic" });
    expect(detectPlatform({}, "cloudflare").kind).toBe("cloudflare");
  });
});

describe("resolveCommandEndpoint", () => {
  it("defaults to the Worker on Cloudflare and to disabled elsewhere, with a reason", () => {
    expect(resolveCommandEndpoint({}, { kind: "cloudflare" })).toEqual({
      endpoint: { kind: "http", url: "http://containerflare.internal/v1/commands" },
    });
    const cloudRun = resolveCommandEndpoint({}, { kind: "cloud-run" });
    expect(cloudRun.endpoint).toEqual({ kind: "disabled" });
    expect(cloudRun.unavailableReason).toMatch(/no command host on Cloud Run; set CF_CMD_ENDPOINT/);
    expect(resolveCommandEndpoint({ commandEndpoint: { kind: "stdio" } }, { kind: "cloud-run" })).toEqual({
      endpoint: { kind: "stdio" },
    });
  });
});

describe("Cloud Run metadata server", () => {
  it("reads project id and region, never throws, and is bounded by its timeout", async () => {
    const requests: string[] = [];
    const server = createServer((request, response) => {
      requests.push(`${request.url} ${request.headers["metadata-flavor"]}`);
      if (request.url?.endsWith("/project/project-id")) response.end("demo-project");
      else if (request.url?.endsWith("/instance/region")) response.end("projects/123/regions/europe-west1");
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/computeMetadata/v1`;
    try {
      expect(await fetchInstanceInfo({ baseURL })).toEqual({ projectId: "demo-project", region: "europe-west1" });
      expect(requests.sort()).toEqual([
        "/computeMetadata/v1/instance/region Google",
        "/computeMetadata/v1/project/project-id Google",
      ]);
      const info = detectPlatform({ K_SERVICE: "api" });
      await enrichCloudRunInfo(info, { baseURL });
      expect(info.cloudRun).toMatchObject({ projectId: "demo-project", region: "europe-west1" });
    } finally {
      server.close();
    }
  });

  it("gives up quietly when no metadata server answers", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const baseURL = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const started = Date.now();
    try {
      expect(await fetchInstanceInfo({ baseURL, timeout: 200 })).toEqual({});
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
