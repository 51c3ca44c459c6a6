/** resolveConfig(): an https:// command endpoint on Cloud Run needs CONTAINERFLARE_SECRET (the Worker's route is signed only). */
import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../../src/config.ts";

const ROUTE = "https://my-app.example.workers.dev/__containerflare/v1/commands";
const LINE =
  "CF_CMD_ENDPOINT=https://my-app.example.workers.dev/__containerflare/v1/commands needs CONTAINERFLARE_SECRET on Cloud Run: the Worker's command route answers signed requests only (gcloud run deploy --set-secrets CONTAINERFLARE_SECRET=<secret>:latest)";

function failure(env: Record<string, string>): ConfigError {
  try {
    resolveConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("resolveConfig accepted it");
}

describe("CF_CMD_ENDPOINT=https://… on Cloud Run", () => {
  it("with CONTAINERFLARE_SECRET: the endpoint and the secret the client signs with", () => {
    const config = resolveConfig({ K_SERVICE: "app", CF_CMD_ENDPOINT: ROUTE, CONTAINERFLARE_SECRET: "s3cret" });
    expect(config.commandEndpoint).toEqual({ kind: "http", url: ROUTE });
    expect(config.secret).toBe("s3cret");
  });

  it("without it: one line naming the endpoint (no query or credentials) and the fix", () => {
    const platforms: Record<string, string>[] = [
      { K_SERVICE: "app" },
      { CLOUD_RUN_JOB: "job" },
      { CLOUD_RUN_WORKER_POOL: "pool" },
      { CONTAINERFLARE_PLATFORM: "cloud-run" },
    ];
    for (const env of platforms) {
      const error = failure({ ...env, CF_CMD_ENDPOINT: `${ROUTE.replace("https://", "https://user:pw@")}?token=t` });
      expect(error.message, JSON.stringify(env)).toBe(LINE);
      expect(error.variable).toBe("CONTAINERFLARE_SECRET");
      expect(error.code).toBe("INVALID_CONFIG");
      expect(error.message).not.toContain("\n");
    }
  });

  it("a secret given as a serve() option counts", () => {
    expect(resolveConfig({ K_SERVICE: "app", CF_CMD_ENDPOINT: ROUTE }, { secret: "from options" }).secret).toBe(
      "from options",
    );
  });

  it("plain http:// (a sidecar, a host in the VPC), other platforms and no endpoint are left alone", () => {
    expect(resolveConfig({ K_SERVICE: "app", CF_CMD_ENDPOINT: "http://127.0.0.1:9000/v1/commands" }).secret).toBe(
      undefined,
    );
    expect(resolveConfig({ CF_CMD_ENDPOINT: ROUTE }).commandEndpoint).toEqual({ kind: "http", url: ROUTE });
    expect(resolveConfig({ CLOUDFLARE_APPLICATION_ID: "a", CF_CMD_ENDPOINT: ROUTE }).secret).toBe(undefined);
    expect(resolveConfig({ K_SERVICE: "app", CONTAINERFLARE_PLATFORM: "generic", CF_CMD_ENDPOINT: ROUTE }).secret).toBe(
      undefined,
    );
    expect(resolveConfig({ K_SERVICE: "app" }).commandEndpoint).toBeUndefined();
  });
});
