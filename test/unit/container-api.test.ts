/**
 * containerflareContainer (src/worker/container-api.ts), the Durable Object side of the Durable
 * Object Container API, against a scripted stand-in of `ctx.container`: the start sequence and
 * the container's env, coalesced starts, the readiness wait (timeout, an exit while waiting),
 * forwarding with the signed metadata header, the graceful stop, and a missing host. That the
 * real @cloudflare/workers-types objects fit its structural types is checked by tsc over
 * test/types/workers (test/integration/host-entrypoint.test.ts).
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import { isContainerflareError } from "../../src/errors.ts";
import { METADATA_HEADER, SIGNATURE_HEADER } from "../../src/metadata-header.ts";
import { createMetadataVerifier } from "../../src/metadata-header-verifier.ts";
import { REQUEST_SIGNATURE_HEADER, signCommandRequest } from "../../src/request-signature.ts";
import {
  type ContainerflareContainerOptions,
  containerflareContainer,
  DEFAULT_INACTIVITY_TIMEOUT_MS,
} from "../../src/worker/container-api.ts";
import { describeExit } from "../../src/worker/container-exit.ts";
import { KEEPALIVE_PATH } from "../../src/worker/keep-alive.ts";
import type { ContainerLike, ContainerStartOptionsLike, FetcherLike } from "../../src/worker/types.ts";

const SECRET = "a secret of the container-api tests";
const NOT_LISTENING = "the container is not listening";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Console lines, by level, while a test runs. */
function captureConsole() {
  const lines = { error: [] as string[], warn: [] as string[], info: [] as string[] };
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.error.push(String(line)));
  vi.spyOn(console, "warn").mockImplementation((line: unknown) => void lines.warn.push(String(line)));
  vi.spyOn(console, "info").mockImplementation((line: unknown) => void lines.info.push(String(line)));
  return lines;
}

interface Script {
  /** The probe on which the app starts listening (1 = the first); never when undefined. */
  listenOnProbe?: number;
  /** SIGTERM does not stop the app. */
  ignoresSigterm?: boolean;
  /** What the app answers once it listens. */
  app?: (request: Request) => Response | Promise<Response>;
  /** Already running when the object is created (it outlived an earlier instance). */
  running?: boolean;
}

/**
 * A scripted `ctx.container`: records every call in order; its app listens from the Nth probe
 * on; `exit()` ends the run as the platform does (monitor() resolves on 0, rejects otherwise).
 */
class ScriptedContainer implements ContainerLike {
  readonly calls: string[] = [];
  readonly forwarded: Request[] = [];
  startOptions: ContainerStartOptionsLike | undefined;
  interceptedWith: FetcherLike | undefined;
  probes = 0;
  running = false;
  #listening = false;
  #draining = false;
  #settle: ((error?: Error) => void) | undefined;
  #exited: Promise<void> | undefined;

  constructor(readonly script: Script = {}) {
    if (script.running) this.#begin();
  }

  #begin(): void {
    this.running = true;
    this.#listening = false;
    this.#draining = false;
    this.probes = 0;
    this.#exited = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error ? reject(error) : resolve());
    });
    // A run nobody watches must not fail the test process.
    this.#exited.catch(() => undefined);
  }

  /** Ends the current run: exit code 0 resolves monitor(), anything else rejects it with the platform's words. */
  exit(code: number, signalled = false): void {
    if (!this.running) return;
    this.running = false;
    this.#listening = false;
    this.#settle?.(
      code === 0
        ? undefined
        : new Error(
            signalled
              ? `runtime signalled the container to exit: ${code}`
              : `container exited with unexpected exit code: ${code}`,
          ),
    );
  }

  /** The app drains: it stops listening at once and exits with 0 after `exitAfterMs` (never when undefined). */
  drain(exitAfterMs?: number): void {
    this.#draining = true;
    if (exitAfterMs !== undefined) setTimeout(() => this.exit(0), exitAfterMs);
  }

  start(options?: ContainerStartOptionsLike): void {
    this.calls.push("start");
    if (this.running) throw new Error("start() cannot be called on a container that is already running.");
    this.startOptions = options;
    this.#begin();
  }

  monitor(): Promise<void> {
    this.calls.push("monitor");
    if (!this.#exited) return Promise.reject(new Error("the container is not running"));
    return this.#exited;
  }

  async destroy(): Promise<void> {
    this.calls.push("destroy");
    this.exit(137, true);
  }

  signal(signo: number): void {
    this.calls.push(`signal ${signo}`);
    if (signo === 15 && !this.script.ignoresSigterm) setTimeout(() => this.exit(0), 10);
  }

  getTcpPort(port: number): FetcherLike {
    return {
      fetch: async (input, init) => {
        const request = new Request(input, init);
        if (!this.running) throw new Error("the container is not running");
        if (this.#draining) throw new Error(`${NOT_LISTENING} on port ${port}`);
        if (!this.#listening) {
          this.probes++;
          if (this.script.listenOnProbe === undefined || this.probes < this.script.listenOnProbe) {
            throw new Error(`${NOT_LISTENING} on port ${port}`);
          }
          this.#listening = true;
        }
        if (request.url === "http://ping/") return new Response("not found", { status: 404 });
        this.forwarded.push(request);
        return this.script.app ? this.script.app(request) : new Response("ok");
      },
    };
  }

  async setInactivityTimeout(durationMs: number): Promise<void> {
    this.calls.push(`setInactivityTimeout ${durationMs}`);
  }

  async interceptOutboundHttp(address: string, binding: FetcherLike): Promise<void> {
    this.calls.push(`interceptOutboundHttp ${address}`);
    this.interceptedWith = binding;
  }
}

const HOST: FetcherLike = { fetch: async () => new Response("host") };

function setup(
  script: Script,
  options: Partial<ContainerflareContainerOptions> = {},
  env = { CONTAINERFLARE_SECRET: SECRET },
) {
  const container = new ScriptedContainer(script);
  const handle = containerflareContainer({ container }, env, { host: HOST, ...options });
  return { container, handle };
}

describe("containerflareContainer: start", () => {
  it("intercepts the command host, starts with the env and the secret, watches the run, then waits for the port", async () => {
    const { container, handle } = setup(
      { listenOnProbe: 3 },
      { env: { GREETING: "hi" }, entrypoint: ["node", "server.mjs"], enableInternet: false },
    );
    expect(handle.running).toBe(false);
    await handle.start();
    expect(container.calls).toEqual([
      "interceptOutboundHttp containerflare.internal",
      "start",
      "monitor",
      `setInactivityTimeout ${DEFAULT_INACTIVITY_TIMEOUT_MS}`,
    ]);
    expect(container.interceptedWith).toBe(HOST);
    expect(container.startOptions).toEqual({
      env: { GREETING: "hi", CONTAINERFLARE_SECRET: SECRET },
      entrypoint: ["node", "server.mjs"],
      enableInternet: false,
    });
    // Two probes refused ("not listening"), the third answered.
    expect(container.probes).toBe(3);
    expect(handle.running).toBe(true);
    // Ready: a second start does nothing.
    await handle.start();
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
  });

  it("a secret in the env wins over the user's CONTAINERFLARE_SECRET; without one it warns once", async () => {
    const lines = captureConsole();
    const withSecret = setup({ listenOnProbe: 1 }, { env: { CONTAINERFLARE_SECRET: "user's" } });
    await withSecret.handle.start();
    expect(withSecret.container.startOptions?.env).toEqual({ CONTAINERFLARE_SECRET: SECRET });

    const { container, handle } = setup({ listenOnProbe: 1 }, { inactivityTimeoutMs: 0 }, {} as never);
    await handle.start();
    expect(container.startOptions).toEqual({ env: {} });
    expect(container.calls).not.toContainEqual(expect.stringMatching(/^setInactivityTimeout/));
    container.exit(0);
    await vi.waitFor(() => expect(handle.running).toBe(false));
    await handle.start();
    expect(container.calls.filter((call) => call === "start")).toHaveLength(2);
    expect(lines.warn.filter((line) => line.includes("CONTAINERFLARE_SECRET is not set"))).toHaveLength(1);
  });

  it("concurrent starts and requests share one start", async () => {
    const { container, handle } = setup({ listenOnProbe: 4 });
    const results = await Promise.all([
      handle.start(),
      handle.start(),
      handle.fetch(new Request("https://room.example/a")),
      handle.fetch(new Request("https://room.example/b")),
    ]);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
    expect(container.calls.filter((call) => call === "monitor")).toHaveLength(1);
    expect(container.calls.filter((call) => call.startsWith("interceptOutboundHttp"))).toHaveLength(1);
    expect(await (results[2] as Response).text()).toBe("ok");
    expect(container.forwarded.map((request) => new URL(request.url).pathname).sort()).toEqual(["/a", "/b"]);
  });

  it("gives up after startTimeoutMs with an error naming the port and the timeout", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({}, { startTimeoutMs: 400, port: 8080 });
    const began = Date.now();
    const error = await handle.start().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    const took = Date.now() - began;
    expect(isContainerflareError(error) && error.code).toBe("UNAVAILABLE");
    expect((error as Error).message).toBe(
      `the container's port 8080 did not answer within 400 ms (last: ${NOT_LISTENING} on port 8080)`,
    );
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(3_000);
    // Backoff between probes: more than one, far fewer than a busy loop would make.
    expect(container.probes).toBeGreaterThan(2);
    expect(container.probes).toBeLessThan(30);
    expect(lines.error).toEqual([`containerflare: the container did not start: ${(error as Error).message}`]);
  });

  it("answers a client 503 without the platform's words when the port never answered", async () => {
    captureConsole();
    const { handle } = setup({}, { startTimeoutMs: 300, port: 8080 });
    const response = await handle.fetch(new Request("https://room.example/"));
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text).error).toEqual({
      code: "UNAVAILABLE",
      message: "the container is not available: it did not start (see the Worker's log)",
      retryable: true,
    });
    expect(text).not.toContain(NOT_LISTENING);
  });

  it("fails at once with the exit's reason when the container exits while it waits", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({}, { startTimeoutMs: 20_000 });
    setTimeout(() => container.exit(1), 100);
    const began = Date.now();
    const response = await handle.fetch(new Request("https://room.example/"));
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: {
        code: "UNAVAILABLE",
        message: "the container is not available: the container exited with code 1 before its port 8787 answered",
        retryable: true,
      },
    });
    expect(lines.error).toContain(
      "containerflare: the container did not start: the container exited with code 1 before its port 8787 answered",
    );
    // The run's end is logged once, in one line.
    expect(lines.error).toContain("containerflare: the container exited with code 1");
  });

  it("adopts a container that is already running: no start(), the interception and the watch again", async () => {
    const { container, handle } = setup({ running: true, listenOnProbe: 1 });
    await handle.start();
    expect(container.calls).toEqual([
      "interceptOutboundHttp containerflare.internal",
      "monitor",
      `setInactivityTimeout ${DEFAULT_INACTIVITY_TIMEOUT_MS}`,
    ]);
  });

  it("an adopted container that exits before it answers was stopping: a new one is started and answers", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({ running: true, listenOnProbe: 1 });
    // Its inactivity timeout ran out after the earlier object was evicted: it drains, then exits.
    container.drain(100);
    const response = await handle.fetch(new Request("https://room.example/status"));
    expect(response.status).toBe(200);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
    expect(container.forwarded).toHaveLength(1);
    expect(lines.info).toContain("containerflare: the container exited with code 0");
    expect(lines.error).toEqual([]);
  });

  it("a container this object started that exits before it answers is not started again: 503", async () => {
    captureConsole();
    const { container, handle } = setup({});
    setTimeout(() => container.exit(0), 100);
    const response = await handle.fetch(new Request("https://room.example/status"));
    expect(response.status).toBe(503);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
  });

  it("starts a new run after the container exited, and logs the exit in one line", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({ listenOnProbe: 1 });
    await handle.fetch(new Request("https://room.example/"));
    container.exit(143, true);
    await vi.waitFor(() =>
      expect(lines.error).toEqual(["containerflare: the container was stopped by the runtime (exit code 143)"]),
    );
    const again = await handle.fetch(new Request("https://room.example/again"));
    expect(again.status).toBe(200);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(2);
    expect(container.calls.filter((call) => call === "monitor")).toHaveLength(2);
  });
});

describe("containerflareContainer: fetch", () => {
  it("forwards with the signed metadata header (a client's own removed) and returns the app's response as it is", async () => {
    const answer = new Response("from the app", { status: 201, headers: { "x-app": "1" } });
    const { container, handle } = setup({ listenOnProbe: 1, app: () => answer }, { workerName: "rooms" });
    const incoming = new Request("https://room.example/rooms/blue/?q=1", {
      method: "POST",
      body: "hello",
      headers: { "cf-connecting-ip": "203.0.113.9", [METADATA_HEADER]: '{"client_ip":"6.6.6.6"}', "x-keep": "yes" },
    });
    const response = await handle.fetch(incoming);
    expect(response).toBe(answer);

    const [sent] = container.forwarded;
    expect(sent!.method).toBe("POST");
    expect(await sent!.text()).toBe("hello");
    expect(sent!.headers.get("x-keep")).toBe("yes");
    const verifier = createMetadataVerifier({ secret: SECRET });
    const verdict = await verifier.verify(sent!.headers.get(METADATA_HEADER)!, sent!.headers.get(SIGNATURE_HEADER));
    expect(verdict).toMatchObject({
      ok: true,
      metadata: { client_ip: "203.0.113.9", path: "/rooms/blue/?q=1", worker_name: "rooms", method: "POST" },
    });
    // Another secret does not verify it: the header is signed with the Worker's.
    const other = createMetadataVerifier({ secret: "another secret" });
    expect(await other.verify(sent!.headers.get(METADATA_HEADER)!, sent!.headers.get(SIGNATURE_HEADER))).toEqual({
      ok: false,
      reason: "bad-signature",
    });
  });

  it("passes a WebSocket upgrade through: its request headers and the response object untouched", async () => {
    // Node cannot build a 101; workerd returns its 101 (with webSocket) the same way: as it is.
    const upgraded = Object.assign(new Response(null, { status: 200 }), { webSocket: { accept() {} } });
    const { container, handle } = setup({ listenOnProbe: 1, app: () => upgraded });
    const response = await handle.fetch(
      new Request("https://room.example/rooms/blue/socket", {
        headers: { upgrade: "websocket", connection: "Upgrade" },
      }),
    );
    expect(response).toBe(upgraded);
    expect(container.forwarded[0]!.headers.get("upgrade")).toBe("websocket");
  });

  it("a request that fails once sent answers 502 and is not sent again", async () => {
    const lines = captureConsole();
    let attempts = 0;
    const { handle } = setup({
      listenOnProbe: 1,
      app: () => {
        attempts++;
        throw new Error("Network connection lost.");
      },
    });
    const response = await handle.fetch(new Request("https://room.example/pay", { method: "POST", body: "1" }));
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: { code: "UNAVAILABLE", message: "the container did not answer", retryable: false },
    });
    expect(attempts).toBe(1);
    expect(lines.error).toEqual(["containerflare: a request to the container failed: Network connection lost."]);
  });

  it("a GET that fails as the container stops (its app no longer listens) waits for the exit and goes once to a new container", async () => {
    const lines = captureConsole();
    const script: Script = { listenOnProbe: 1 };
    const { container, handle } = setup(script);
    let sent = 0;
    script.app = () => {
      if (sent++ > 0) return new Response("the new run");
      // The platform's inactivity timeout stopped it as the request arrived.
      container.drain(100);
      throw new Error("Network connection lost.");
    };
    const response = await handle.fetch(new Request("https://room.example/status"));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("the new run");
    expect(sent).toBe(2);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(2);
    expect(lines.info).toContain(
      "containerflare: the container stopped under a request, which goes to a new one: Network connection lost.",
    );
    expect(lines.error).toEqual([]);
  });

  it("a request with a body, or with a method that is not idempotent, is never sent again when the container stops", async () => {
    const lines = captureConsole();
    const script: Script = { listenOnProbe: 1 };
    const { container, handle } = setup(script);
    let sent = 0;
    script.app = () => {
      sent++;
      container.drain(50);
      throw new Error("Network connection lost.");
    };
    const put = await handle.fetch(new Request("https://room.example/doc", { method: "PUT", body: "v2" }));
    expect(put.status).toBe(502);
    expect(sent).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const post = await handle.fetch(new Request("https://room.example/pay", { method: "POST" }));
    expect(post.status).toBe(502);
    expect(sent).toBe(2);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(2);
    expect(lines.error).toEqual([
      "containerflare: a request to the container failed: Network connection lost.",
      "containerflare: a request to the container failed: Network connection lost.",
    ]);
  });

  it("a GET that fails while the app still answers on its port failed alone: 502 at once, no new container", async () => {
    captureConsole();
    let sent = 0;
    const { container, handle } = setup({
      listenOnProbe: 1,
      app: () => {
        sent++;
        throw new Error("Network connection lost.");
      },
    });
    const response = await handle.fetch(new Request("https://room.example/status"));
    expect(response.status).toBe(502);
    expect(sent).toBe(1);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
  });

  it("an app that stops answering but does not exit within drainTimeoutMs gets its request a 502, with one line why", async () => {
    const lines = captureConsole();
    const script: Script = { listenOnProbe: 1 };
    const { container, handle } = setup(script, { drainTimeoutMs: 200 });
    script.app = () => {
      container.drain();
      throw new Error("Network connection lost.");
    };
    const response = await handle.fetch(new Request("https://room.example/status"));
    expect(response.status).toBe(502);
    expect(lines.error).toEqual([
      "containerflare: the container stopped answering on port 8787 and did not exit within 200 ms",
      "containerflare: a request to the container failed: Network connection lost.",
    ]);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(1);
  });

  it("without a host, start throws one line saying what to export and which date; fetch answers 503 without it", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({ listenOnProbe: 1 }, { host: undefined });
    const error = await handle.start().then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    expect(isContainerflareError(error) && error.code).toBe("INVALID_CONFIG");
    expect(error!.message).toContain('export { ContainerflareHost } from "containerflare/worker"');
    expect(error!.message).toContain('"2025-11-17" or later');
    expect(error!.message).not.toContain("\n");
    expect(container.calls).toEqual([]);

    const response = await handle.fetch(new Request("https://room.example/"));
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { message: string; retryable: boolean } };
    expect(body.error).toEqual({
      code: "UNAVAILABLE",
      message: "the container is not available: the Worker is not set up for its container (see the Worker's log)",
      retryable: false,
    });
    expect(lines.error).toHaveLength(2);
    expect(lines.error[0]).toContain("export { ContainerflareHost }");
  });

  it("without ctx.container, start names the wrangler.jsonc field", async () => {
    captureConsole();
    const handle = containerflareContainer({}, {}, { host: HOST });
    await expect(handle.start()).rejects.toThrow(
      /no container \(ctx\.container is undefined\).*"containers" of wrangler\.jsonc/,
    );
    expect(handle.running).toBe(false);
  });
});

describe("containerflareContainer: stop", () => {
  it("SIGTERM, then destroy() only once the drain window has passed", async () => {
    const lines = captureConsole();
    const { container, handle } = setup({ listenOnProbe: 1, ignoresSigterm: true }, { drainTimeoutMs: 300 });
    await handle.start();
    const began = Date.now();
    const stopped = handle.stop();
    expect(container.calls.at(-1)).toBe("signal 15");
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(container.calls).not.toContain("destroy");
    await stopped;
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    expect(container.calls.slice(-2)).toEqual(["signal 15", "destroy"]);
    expect(handle.running).toBe(false);
    expect(lines.warn).toEqual(["containerflare: the container did not exit within 300 ms of SIGTERM; destroying it"]);
    // The end of a run this object stopped is not an error.
    await vi.waitFor(() =>
      expect(lines.info).toEqual(["containerflare: the container was stopped by the runtime (exit code 137)"]),
    );
    expect(lines.error).toEqual([]);
  });

  it("an app that drains and exits is never destroyed; a request meanwhile waits and starts a new container", async () => {
    captureConsole();
    const { container, handle } = setup({ listenOnProbe: 1 }, { drainTimeoutMs: 5_000 });
    await handle.start();
    const began = Date.now();
    const stopped = handle.stop();
    const during = handle.fetch(new Request("https://room.example/after"));
    await stopped;
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(container.calls).not.toContain("destroy");
    expect((await during).status).toBe(200);
    expect(container.calls.filter((call) => call === "start")).toHaveLength(2);
  });

  it("the default drain window is the app's CONTAINERFLARE_SHUTDOWN_TIMEOUT plus 5 s", async () => {
    captureConsole();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { container, handle } = setup(
        { running: true, ignoresSigterm: true },
        { env: { CONTAINERFLARE_SHUTDOWN_TIMEOUT: "2" } },
      );
      const stopped = handle.stop();
      await vi.advanceTimersByTimeAsync(6_990);
      expect(container.calls).not.toContain("destroy");
      await vi.advanceTimersByTimeAsync(20);
      await stopped;
      expect(container.calls).toContain("destroy");
    } finally {
      vi.useRealTimers();
    }
  });

  it("stop() on a container that does not run does nothing", async () => {
    const { container, handle } = setup({});
    await handle.stop();
    expect(container.calls).toEqual([]);
  });
});

describe("describeExit", () => {
  it("reads the platform's words into one line of its own", () => {
    expect(describeExit()).toEqual({ ok: true, code: 0, reason: "exited with code 0" });
    expect(describeExit(new Error("container exited with unexpected exit code: 2"))).toEqual({
      ok: false,
      code: 2,
      reason: "exited with code 2",
    });
    expect(
      describeExit(new Error("there is no container instance that can be provided to this durable object")),
    ).toEqual({ ok: false, reason: "got no container instance from the platform" });
    expect(describeExit(new Error(`boom\n${"x".repeat(10)}`)).reason).toBe("failed: boom");
    expect(describeExit(new Error("y".repeat(500))).reason).toHaveLength("failed: ".length + 200);
  });
});

describe("containerflareContainer: the host's keep-alive request", () => {
  const keepAliveRequest = async (secret?: string) => {
    const headers = new Headers();
    if (secret) {
      headers.set(
        REQUEST_SIGNATURE_HEADER,
        await signCommandRequest(secret, { method: "POST", path: KEEPALIVE_PATH, body: new Uint8Array() }),
      );
    }
    return new Request(`http://containerflare.internal${KEEPALIVE_PATH}`, { method: "POST", headers });
  };

  it("renews the inactivity timeout for a signed keep-alive (204) and never hands it to the app", async () => {
    const { container, handle } = setup({ listenOnProbe: 1 }, { inactivityTimeoutMs: 4_000 });
    await handle.start();
    const renewals = () => container.calls.filter((call) => call === "setInactivityTimeout 4000").length;
    expect(renewals()).toBe(1);
    // Past the renewal spacing (a quarter of the timeout, at least 1 s) of the start's setting.
    vi.useFakeTimers({ now: Date.now() + 1_500, toFake: ["Date"] });
    try {
      expect((await handle.fetch(await keepAliveRequest(SECRET))).status).toBe(204);
    } finally {
      vi.useRealTimers();
    }
    expect(renewals()).toBe(2);
    expect(container.forwarded).toEqual([]);
  });

  it("refuses an unsigned, forged or replayed keep-alive with 401 when it has a secret, and renews nothing", async () => {
    const { container, handle } = setup({ listenOnProbe: 1 }, { inactivityTimeoutMs: 4_000 });
    await handle.start();
    const before = container.calls.length;
    const unsigned = await keepAliveRequest();
    const forged = await keepAliveRequest("another secret");
    const signed = await keepAliveRequest(SECRET);
    // Past the renewal spacing of the start's setting: a renewal would be sent at once.
    vi.useFakeTimers({ now: Date.now() + 1_500, toFake: ["Date"] });
    try {
      const refused = await handle.fetch(unsigned);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ code: "FORBIDDEN" });
      expect((await handle.fetch(forged)).status).toBe(401);
      expect(container.calls.slice(before)).toEqual([]);
      expect((await handle.fetch(signed.clone())).status).toBe(204);
      expect(container.calls.slice(before)).toEqual(["setInactivityTimeout 4000"]);
      expect((await handle.fetch(signed)).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
    expect(container.calls.slice(before)).toEqual(["setInactivityTimeout 4000"]);
    expect(container.forwarded).toEqual([]);
  });

  it("reads no more than 1 KiB of a keep-alive's body: a larger one is refused with 413 and renews nothing", async () => {
    const { container, handle } = setup({ listenOnProbe: 1 }, { inactivityTimeoutMs: 4_000 });
    await handle.start();
    const before = container.calls.length;
    const big = new Request(`http://containerflare.internal${KEEPALIVE_PATH}`, {
      method: "POST",
      body: new Uint8Array(64 * 1024),
      headers: {
        [REQUEST_SIGNATURE_HEADER]: await signCommandRequest(SECRET, {
          method: "POST",
          path: KEEPALIVE_PATH,
          body: new Uint8Array(64 * 1024),
        }),
      },
    });
    vi.useFakeTimers({ now: Date.now() + 1_500, toFake: ["Date"] });
    let refused: Response;
    try {
      refused = await handle.fetch(big);
    } finally {
      vi.useRealTimers();
    }
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ code: "TOO_LARGE" });
    expect(container.calls.slice(before)).toEqual([]);
    expect(container.forwarded).toEqual([]);
  });

  it("does not start a container for a keep-alive", async () => {
    const { container, handle } = setup({ listenOnProbe: 1 });
    expect((await handle.fetch(await keepAliveRequest(SECRET))).status).toBe(204);
    expect(container.calls).toEqual([]);
  });

  it("makes its host from allow and vars with this object's id, for host.keepalive", async () => {
    const made: unknown[] = [];
    const container = new ScriptedContainer({ listenOnProbe: 1 });
    const ctx = {
      container,
      id: { toString: () => "ab".repeat(32) },
      exports: {
        ContainerflareHost: (options: unknown) => {
          made.push(options);
          return HOST;
        },
      },
    };
    const handle = containerflareContainer(
      ctx,
      { CONTAINERFLARE_SECRET: SECRET },
      { allow: ["CACHE"], vars: ["GREETING"] },
    );
    await handle.start();
    expect(made).toEqual([{ props: { allow: ["CACHE"], vars: ["GREETING"], object: "ab".repeat(32) } }]);
    expect(container.interceptedWith).toBe(HOST);
  });
});

describe("containerflareContainer: healthPath", () => {
  /** An app whose health route answers 503 (still draining a previous life, say) `notReady` times, then 200. */
  function healthApp(notReady: number) {
    const asked: string[] = [];
    const app = (request: Request) => {
      const { pathname } = new URL(request.url);
      asked.push(pathname);
      if (pathname !== "/healthz") return new Response("app", { status: 404 });
      const ready = asked.filter((path) => path === "/healthz").length > notReady;
      return Response.json({ status: ready ? "serving" : "draining" }, { status: ready ? 200 : 503 });
    };
    return { app, asked };
  }

  it("gives the container CONTAINERFLARE_HEALTH_PATH and is ready only once that path answers 200", async () => {
    const { app, asked } = healthApp(2);
    const { container, handle } = setup({ listenOnProbe: 1, app }, { healthPath: "/healthz", env: { A: "1" } });
    await handle.start();
    expect(container.startOptions?.env).toEqual({
      A: "1",
      CONTAINERFLARE_SECRET: SECRET,
      CONTAINERFLARE_HEALTH_PATH: "/healthz",
    });
    // Two 503s were not ready; the 200 was.
    expect(asked).toEqual(["/healthz", "/healthz", "/healthz"]);
  });

  it("times out naming the path and its last answer when it never answers 200", async () => {
    const lines = captureConsole();
    const { app } = healthApp(Number.POSITIVE_INFINITY);
    const { handle } = setup({ listenOnProbe: 1, app }, { healthPath: "/healthz", startTimeoutMs: 300 });
    const error = await handle.start().then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    expect(error?.message).toBe(
      "the container's port 8787 did not answer 200 at /healthz within 300 ms (last: /healthz answered 503)",
    );
    expect(lines.error).toHaveLength(1);
  });

  it("takes the path from the options' env by default; the option wins over it, so both sides agree", async () => {
    const fromEnv = healthApp(0);
    const first = setup({ listenOnProbe: 1, app: fromEnv.app }, { env: { CONTAINERFLARE_HEALTH_PATH: "/healthz" } });
    await first.handle.start();
    expect(fromEnv.asked).toEqual(["/healthz"]);

    const asked: string[] = [];
    const second = setup(
      {
        listenOnProbe: 1,
        app: (request) => {
          asked.push(new URL(request.url).pathname);
          return new Response("ok");
        },
      },
      { healthPath: "/ready", env: { CONTAINERFLARE_HEALTH_PATH: "/healthz" } },
    );
    await second.handle.start();
    expect(asked).toEqual(["/ready"]);
    expect(second.container.startOptions?.env?.CONTAINERFLARE_HEALTH_PATH).toBe("/ready");
  });

  it("without one, any answer on the port is ready, and the container's env has no path", async () => {
    const { container, handle } = setup({ listenOnProbe: 1, app: () => new Response("draining", { status: 503 }) });
    await handle.start();
    expect(container.startOptions?.env).not.toHaveProperty("CONTAINERFLARE_HEALTH_PATH");
  });

  it("refuses a path that is not one before starting anything", async () => {
    captureConsole();
    const { container, handle } = setup({ listenOnProbe: 1 }, { healthPath: "healthz" });
    const response = await handle.fetch(new Request("https://room.example/"));
    expect(response.status).toBe(503);
    expect(container.calls).toEqual([]);
    const error = await handle.start().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(isContainerflareError(error) && error.code).toBe("INVALID_CONFIG");
  });
});
