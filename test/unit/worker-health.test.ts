// withContainerflare()'s healthPath for @cloudflare/containers: the container's
// CONTAINERFLARE_HEALTH_PATH and the class's pingEndpoint come from the one option. (The Container
// API's readiness wait on it: test/unit/container-api.test.ts.)
import { describe, expect, it } from "vitest";
import { withContainerflare } from "../../src/worker/container.ts";

/** The members of @cloudflare/containers' Container that withContainerflare touches, with its defaults. */
class Base {
  envVars: Record<string, string> | undefined = {};
  pingEndpoint = "ping";
  constructor(
    readonly ctx: unknown,
    readonly env: unknown,
  ) {}
}

class App extends Base {
  override envVars = { LOG_LEVEL: "debug" };
}

describe("withContainerflare(): healthPath", () => {
  it("sets the container's CONTAINERFLARE_HEALTH_PATH and pings that path on the class's own host", () => {
    const Wired = withContainerflare(App, { allow: [], healthPath: "/healthz" });
    const instance = new Wired({}, { CONTAINERFLARE_SECRET: "s3cret" });
    expect(instance.pingEndpoint).toBe("ping/healthz");
    // What the class fetches (`http://${pingEndpoint}`) is the app's health route.
    expect(new URL(`http://${instance.pingEndpoint}`).pathname).toBe("/healthz");
    expect(instance.envVars).toEqual({
      LOG_LEVEL: "debug",
      CONTAINERFLARE_HEALTH_PATH: "/healthz",
      CONTAINERFLARE_SECRET: "s3cret",
    });
  });

  it("leaves both alone without it, and refuses a path that is not one", () => {
    const instance = new (withContainerflare(App, { allow: [] }))({}, {});
    expect(instance.pingEndpoint).toBe("ping");
    expect(instance.envVars).toEqual({ LOG_LEVEL: "debug" });
    expect(() => withContainerflare(App, { allow: [], healthPath: "healthz" })).toThrow(
      /^withContainerflare\(\): healthPath "healthz" is not a path/,
    );
  });
});
