import { describe, expect, it } from "vitest";
import { ConfigError, parseBindingList, parseCommandEndpoint, resolveConfig } from "../../src/config.ts";

describe("resolveConfig", () => {
  it("uses the documented defaults", () => {
    const config = resolveConfig({});
    expect(config).toMatchObject({
      port: 8787,
      hostname: "0.0.0.0",
      commandTimeoutMs: 30_000,
      trustMetadata: false,
      logFormat: "auto",
      logLevel: 3,
    });
    expect(config.commandEndpoint).toBeUndefined();
    expect(config.shutdownTimeoutMs).toBeUndefined();
  });

  it("prefers PORT over CF_CONTAINER_PORT", () => {
    expect(resolveConfig({ PORT: "8080", CF_CONTAINER_PORT: "9000" }).port).toBe(8080);
    expect(resolveConfig({ CF_CONTAINER_PORT: "9000" }).port).toBe(9000);
    expect(resolveConfig({ PORT: "", CF_CONTAINER_PORT: "9000" }).port).toBe(9000);
  });

  it("lets overrides win over the environment", () => {
    expect(resolveConfig({ PORT: "8080" }, { port: 1234, hostname: "127.0.0.1" })).toMatchObject({
      port: 1234,
      hostname: "127.0.0.1",
    });
  });

  it("reads every variable of the contract", () => {
    const config = resolveConfig({
      CF_CONTAINER_ADDR: "127.0.0.1",
      CF_CMD_ENDPOINT: "tcp://127.0.0.1:7000",
      CONTAINERFLARE_PLATFORM: "cloud-run",
      CONTAINERFLARE_SECRET: "s3cret",
      CONTAINERFLARE_TRUST_METADATA: "1",
      CONTAINERFLARE_SHUTDOWN_TIMEOUT: "2.5",
      CONTAINERFLARE_LOG_LEVEL: "debug",
      CONTAINERFLARE_LOG_FORMAT: "json",
      CONTAINERFLARE_BINDINGS: "CACHE:kv, DB:d1,JOBS:queue,FILES:r2,ASSETS:assets,NAME:var",
      CONTAINERFLARE_COMMAND_TIMEOUT_MS: "1500",
    });
    expect(config).toMatchObject({
      hostname: "127.0.0.1",
      commandEndpoint: { kind: "tcp", host: "127.0.0.1", port: 7000 },
      platform: "cloud-run",
      secret: "s3cret",
      trustMetadata: true,
      shutdownTimeoutMs: 2500,
      logLevel: 4,
      logFormat: "json",
      commandTimeoutMs: 1500,
    });
    expect({ ...config.bindings }).toEqual({
      CACHE: "kv",
      DB: "d1",
      JOBS: "queue",
      FILES: "r2",
      ASSETS: "assets",
      NAME: "var",
    });
  });

  it("accepts names in any case, with spaces around", () => {
    expect(
      resolveConfig({
        CONTAINERFLARE_LOG_LEVEL: " DEBUG ",
        CONTAINERFLARE_PLATFORM: "Cloud-Run",
        CONTAINERFLARE_LOG_FORMAT: "JSON",
      }),
    ).toMatchObject({
      logLevel: 4,
      platform: "cloud-run",
      logFormat: "json",
    });
  });

  it("falls back to LOG_LEVEL and CF_CMD_SOCKET", () => {
    const config = resolveConfig({ LOG_LEVEL: "WARN", CF_CMD_SOCKET: "/tmp/cmd.sock" });
    expect(config.logLevel).toBe(1);
    expect(config.commandEndpoint).toEqual({ kind: "unix", path: "/tmp/cmd.sock" });
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: "abc" }, 'invalid PORT="abc": expected an integer port from 0 to 65535'],
    [{ PORT: "70000" }, 'invalid PORT="70000": expected an integer port from 0 to 65535'],
    [{ PORT: "-1" }, 'invalid PORT="-1": expected an integer port from 0 to 65535'],
    [{ CF_CONTAINER_PORT: "80.5" }, 'invalid CF_CONTAINER_PORT="80.5": expected an integer port from 0 to 65535'],
    [
      { CF_CMD_ENDPOINT: "ftp://x" },
      'invalid CF_CMD_ENDPOINT="ftp://x": expected stdio, tcp://host:port, unix:///path, http(s)://host/path or disabled',
    ],
    [{ CF_CMD_ENDPOINT: "tcp://host" }, 'invalid CF_CMD_ENDPOINT="tcp://host"'],
    [{ CF_CMD_ENDPOINT: "unix://relative" }, 'invalid CF_CMD_ENDPOINT="unix://relative"'],
    [{ CF_CMD_ENDPOINT: "unix:///tmp/%zz" }, 'invalid CF_CMD_ENDPOINT="unix:///tmp/%zz"'],
    [{ CF_CMD_SOCKET: "relative.sock" }, 'invalid CF_CMD_SOCKET="relative.sock": expected an absolute socket path'],
    [
      { CONTAINERFLARE_PLATFORM: "aws" },
      'invalid CONTAINERFLARE_PLATFORM="aws": expected cloudflare, cloud-run or generic',
    ],
    [
      { CONTAINERFLARE_SHUTDOWN_TIMEOUT: "soon" },
      'invalid CONTAINERFLARE_SHUTDOWN_TIMEOUT="soon": expected a number of seconds',
    ],
    [{ CONTAINERFLARE_LOG_LEVEL: "loud" }, 'invalid CONTAINERFLARE_LOG_LEVEL="loud": expected a log level'],
    [{ CONTAINERFLARE_LOG_FORMAT: "xml" }, 'invalid CONTAINERFLARE_LOG_FORMAT="xml": expected json, pretty or auto'],
    [{ CONTAINERFLARE_TRUST_METADATA: "maybe" }, 'invalid CONTAINERFLARE_TRUST_METADATA="maybe": expected 1 or 0'],
    [
      { CONTAINERFLARE_BINDINGS: "CACHE:redis" },
      'invalid CONTAINERFLARE_BINDINGS="CACHE:redis": expected NAME:kind pairs',
    ],
    [
      { CONTAINERFLARE_COMMAND_TIMEOUT_MS: "0" },
      'invalid CONTAINERFLARE_COMMAND_TIMEOUT_MS="0": expected a positive integer',
    ],
    [{ CONTAINERFLARE_MAX_BODY_SIZE: "big" }, 'invalid CONTAINERFLARE_MAX_BODY_SIZE="big": expected a size in bytes'],
    [{ CONTAINERFLARE_MAX_BODY_SIZE: "10tb" }, 'invalid CONTAINERFLARE_MAX_BODY_SIZE="10tb": expected a size in bytes'],
    [{ CONTAINERFLARE_MAX_BODY_SIZE: "-1" }, 'invalid CONTAINERFLARE_MAX_BODY_SIZE="-1": expected a size in bytes'],
    [
      { CONTAINERFLARE_FORWARDED_HOPS: "0" },
      'invalid CONTAINERFLARE_FORWARDED_HOPS="0": expected an integer from 1 to 16',
    ],
    [
      { CONTAINERFLARE_FORWARDED_HOPS: "17" },
      'invalid CONTAINERFLARE_FORWARDED_HOPS="17": expected an integer from 1 to 16',
    ],
    [
      { CONTAINERFLARE_WS_ORIGINS: "app.example.com" },
      'invalid CONTAINERFLARE_WS_ORIGINS="app.example.com": expected comma-separated origins',
    ],
    [
      { CONTAINERFLARE_WS_ORIGINS: "https://app.example.com/chat" },
      'invalid CONTAINERFLARE_WS_ORIGINS="https://app.example.com/chat": expected comma-separated origins',
    ],
    [{ CONTAINERFLARE_WS_ORIGINS: "https://a.example,," }, 'invalid CONTAINERFLARE_WS_ORIGINS="https://a.example,,"'],
    [
      { CONTAINERFLARE_WS_MAX_CONNECTIONS: "0" },
      'invalid CONTAINERFLARE_WS_MAX_CONNECTIONS="0": expected a positive integer',
    ],
    [
      { CONTAINERFLARE_WS_MAX_MESSAGE_SIZE: "huge" },
      'invalid CONTAINERFLARE_WS_MAX_MESSAGE_SIZE="huge": expected a size in bytes',
    ],
    [
      { CONTAINERFLARE_WS_IDLE_TIMEOUT: "1.5" },
      'invalid CONTAINERFLARE_WS_IDLE_TIMEOUT="1.5": expected a whole number',
    ],
  ];
  it.each(bad)("rejects %j with one line naming the variable", (env, message) => {
    let caught: unknown;
    try {
      resolveConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.message).not.toContain("\n");
    expect(error.variable).toBe(Object.keys(env)[0]);
  });
});

describe("WebSocket options", () => {
  it("reads only the variables that are set; sizes take units; origins are serialized origins or *", () => {
    expect(resolveConfig({}).webSocket).toEqual({});
    expect(
      resolveConfig({
        CONTAINERFLARE_WS_MAX_MESSAGE_SIZE: "1MiB",
        CONTAINERFLARE_WS_MAX_BUFFERED: "0",
        CONTAINERFLARE_WS_MAX_CONNECTIONS: "500",
        CONTAINERFLARE_WS_IDLE_TIMEOUT: "0",
        CONTAINERFLARE_WS_ORIGINS: " https://app.example.com/ ,http://localhost:5173",
      }).webSocket,
    ).toEqual({
      maxMessageSize: 1024 * 1024,
      maxBufferedAmount: 0,
      maxConnections: 500,
      idleTimeout: 0,
      allowedOrigins: ["https://app.example.com", "http://localhost:5173"],
    });
    expect(resolveConfig({ CONTAINERFLARE_WS_ORIGINS: "*" }).webSocket).toEqual({ allowedOrigins: ["*"] });
  });
});

describe("request limits", () => {
  it("limits request bodies to 32 MiB by default; sizes take units, 0 turns the limit off", () => {
    expect(resolveConfig({}).maxRequestBodyBytes).toBe(32 * 2 ** 20);
    expect(resolveConfig({ CONTAINERFLARE_MAX_BODY_SIZE: "1048576" }).maxRequestBodyBytes).toBe(2 ** 20);
    expect(resolveConfig({ CONTAINERFLARE_MAX_BODY_SIZE: "64MiB" }).maxRequestBodyBytes).toBe(64 * 2 ** 20);
    expect(resolveConfig({ CONTAINERFLARE_MAX_BODY_SIZE: "10 mb" }).maxRequestBodyBytes).toBe(10_000_000);
    expect(resolveConfig({ CONTAINERFLARE_MAX_BODY_SIZE: "0" }).maxRequestBodyBytes).toBe(0);
    expect(
      resolveConfig({ CONTAINERFLARE_MAX_BODY_SIZE: "1gib" }, { maxRequestBodyBytes: 5 }).maxRequestBodyBytes,
    ).toBe(5);
  });

  it("trusts one X-Forwarded-For hop by default", () => {
    expect(resolveConfig({}).forwardedHops).toBe(1);
    expect(resolveConfig({ CONTAINERFLARE_FORWARDED_HOPS: "2" }).forwardedHops).toBe(2);
  });
});

describe("parseCommandEndpoint", () => {
  it("accepts every documented form", () => {
    expect(parseCommandEndpoint("stdio")).toEqual({ kind: "stdio" });
    expect(parseCommandEndpoint("disabled")).toEqual({ kind: "disabled" });
    expect(parseCommandEndpoint("unix:///run/cf.sock")).toEqual({ kind: "unix", path: "/run/cf.sock" });
    expect(parseCommandEndpoint("tcp://[::1]:9000")).toEqual({ kind: "tcp", host: "::1", port: 9000 });
    expect(parseCommandEndpoint("http://containerflare.internal/v1/commands")).toEqual({
      kind: "http",
      url: "http://containerflare.internal/v1/commands",
    });
    expect(parseCommandEndpoint("https://host.example/cmd")).toEqual({ kind: "http", url: "https://host.example/cmd" });
  });
});

describe("parseBindingList", () => {
  it("keeps names out of the prototype chain", () => {
    const bindings = parseBindingList("__proto__:kv");
    expect(Object.getPrototypeOf(bindings)).toBeNull();
    // biome-ignore lint/suspicious/noProto: the very name under test.
    expect(bindings.__proto__).toBe("kv");
    expect(({} as Record<string, unknown>).kv).toBeUndefined();
  });
});
