import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createCommandHost } from "../../src/host/index.ts";
import { listenCommandHost } from "../../src/host/node.ts";
import { sleep } from "../../src/internal/sleep.ts";
import { signMetadataHeader } from "../../src/metadata-header-verifier.ts";
import { freePort, ROOT, RUNTIMES, type RunningApp, spawnApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/app.mjs`;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const JSON_LOGS = { CONTAINERFLARE_LOG_FORMAT: "json" };
// The fixture answers JSON that the assertions check field by field.
// biome-ignore lint/suspicious/noExplicitAny: see above.
const json = (response: Response): Promise<any> => response.json();

describe.each(RUNTIMES)("serve() on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("reports a generic platform and the connection's client ip", async () => {
    app = await startApp(runtime, APP, JSON_LOGS);
    const spoofed = JSON.stringify({ client_ip: "6.6.6.7", request_id: "spoofed" });
    const body = await json(
      await fetch(`${app.url}/`, { headers: { "x-forwarded-for": "6.6.6.6", "x-containerflare-metadata": spoofed } }),
    );
    expect(body.platform).toEqual({ kind: "generic" });
    // Not trusted without a secret off Cloudflare, and still removed before the app sees it.
    expect(body.headers).not.toContain("x-containerflare-metadata");
    expect(body.request).toMatchObject({
      method: "GET",
      path: "/",
      source: "http",
      clientIp: expect.stringMatching(/127\.0\.0\.1$/),
    });
    expect(body.request.id).toMatch(/^[\da-f-]{36}$/);
  });

  it("removes either metadata header alone, whatever its case, after requests without one", async () => {
    app = await startApp(runtime, APP, JSON_LOGS);
    // Requests without the headers come first: on Node and Deno they are answered without building
    // the request's Headers (serve/metadata-presence.ts), and the ones after must still be found.
    for (let index = 0; index < 3; index++) expect((await fetch(`${app.url}/`)).status).toBe(200);
    for (const name of ["X-Containerflare-Signature", "X-CONTAINERFLARE-METADATA", "x-containerflare-metadata"]) {
      const body = await json(await fetch(`${app.url}/`, { headers: { [name]: "forged", "x-kept": "1" } }));
      expect(body.headers).toContain("x-kept");
      expect(body.headers).not.toContain(name.toLowerCase());
    }
  });

  it("on Cloud Run: answers on PORT, reads trace and client ip, logs Cloud Logging JSON", async () => {
    app = await startApp(runtime, APP, {
      ...JSON_LOGS,
      PORT: String(await freePort()),
      K_SERVICE: "api",
      K_REVISION: "api-00007-abc",
      K_CONFIGURATION: "api",
      GOOGLE_CLOUD_PROJECT: "demo-project",
      CONTAINERFLARE_ACCESS_LOG: "1",
    });
    const headers = {
      traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
      "x-forwarded-for": "6.6.6.6, 203.0.113.9",
      "x-request-id": "req-42",
    };
    const body = await json(await fetch(`${app.url}/`, { headers }));
    expect(body.platform).toEqual({
      kind: "cloud-run",
      cloudRun: {
        resource: "service",
        service: "api",
        revision: "api-00007-abc",
        configuration: "api",
        projectId: "demo-project",
      },
    });
    expect(body.request).toMatchObject({
      id: "req-42",
      clientIp: "203.0.113.9",
      source: "platform",
      trace: { traceId: TRACE_ID, spanId: "00f067aa0ba902b7", sampled: true },
    });

    const cloudTrace = { "x-cloud-trace-context": `${TRACE_ID}/12345;o=1` };
    expect(await (await fetch(`${app.url}/log`, { headers: cloudTrace })).text()).toBe("logged");
    const handlerLines = () => app!.jsonLogs().filter((line) => line.requestId && !line.httpRequest);
    await expect.poll(() => handlerLines().length).toBe(2);
    const [info, warn] = handlerLines();
    await expect.poll(() => app!.jsonLogs().filter((line) => line.httpRequest).length).toBe(3);
    expect(
      app
        .jsonLogs()
        .find((line) => (line.httpRequest as { requestUrl?: string } | undefined)?.requestUrl?.endsWith("/log")),
    ).toMatchObject({
      severity: "INFO",
      requestId: info!.requestId,
      "logging.googleapis.com/trace": `projects/demo-project/traces/${TRACE_ID}`,
      httpRequest: {
        requestMethod: "GET",
        status: 200,
        remoteIp: "127.0.0.1",
        latency: expect.stringMatching(/^\d+\.\d+s$/),
      },
    });
    expect(info).toMatchObject({
      severity: "INFO",
      message: "hello from the handler",
      "logging.googleapis.com/trace": `projects/demo-project/traces/${TRACE_ID}`,
      "logging.googleapis.com/spanId": "0000000000003039",
      "logging.googleapis.com/trace_sampled": true,
    });
    expect(Date.parse(info!.time as string)).not.toBeNaN();
    expect(warn).toMatchObject({ severity: "WARNING", message: "with fields", answer: 42 });
    expect(app.jsonLogs().find((line) => String(line.message).startsWith("listening on"))).toMatchObject({
      severity: "INFO",
    });
  });

  it("on Cloudflare: trusts only a valid signed metadata header and strips it", async () => {
    const secret = "shared-secret";
    app = await startApp(runtime, APP, {
      ...JSON_LOGS,
      CLOUDFLARE_APPLICATION_ID: "app-1",
      CLOUDFLARE_LOCATION: "fra06",
      CONTAINERFLARE_SECRET: secret,
    });
    const signed = await signMetadataHeader(secret, {
      request_id: "cf-ray-1",
      client_ip: "198.51.100.23",
      country: "CH",
      city: "Zürich",
      colo: "ZRH",
      worker_name: "edge",
      method: "GET",
      path: "/",
      raw_url: "https://example.com/",
    });
    const trusted = await json(
      await fetch(`${app.url}/`, {
        headers: { "x-containerflare-metadata": signed.metadata, "x-containerflare-signature": signed.signature },
      }),
    );
    expect(trusted.platform).toMatchObject({
      kind: "cloudflare",
      cloudflare: { applicationId: "app-1", location: "fra06" },
    });
    expect(trusted.request).toMatchObject({
      id: "cf-ray-1",
      clientIp: "198.51.100.23",
      country: "CH",
      city: "Zürich",
      colo: "ZRH",
      workerName: "edge",
      url: "https://example.com/",
      source: "worker",
    });
    expect(trusted.headers).not.toContain("x-containerflare-metadata");
    expect(trusted.headers).not.toContain("x-containerflare-signature");

    const forged = signed.metadata.replace("198.51.100.23", "6.6.6.6");
    const response = await fetch(`${app.url}/`, {
      headers: { "x-containerflare-metadata": forged, "x-containerflare-signature": signed.signature },
    });
    expect(response.status).toBe(200);
    const untrusted = await json(response);
    expect(untrusted.request.source).not.toBe("worker");
    expect(untrusted.request.clientIp).not.toBe("6.6.6.6");
    expect(untrusted.headers).not.toContain("x-containerflare-metadata");

    const replayed = await fetch(`${app.url}/`, {
      headers: { "x-containerflare-metadata": signed.metadata, "x-containerflare-signature": signed.signature },
    });
    expect((await json(replayed)).request.source).not.toBe("worker");

    const huge = await fetch(`${app.url}/`, { headers: { "x-containerflare-metadata": "x".repeat(60 * 1024) } });
    expect(huge.status).toBeLessThan(500);
    await huge.body?.cancel();
  });

  it("serves a POST with a body and a signed metadata header (the header is stripped, the body intact)", async () => {
    app = await startApp(runtime, APP, {
      ...JSON_LOGS,
      CLOUDFLARE_APPLICATION_ID: "app-1",
      CONTAINERFLARE_SECRET: "shared-secret",
    });
    const signed = await signMetadataHeader("shared-secret", { request_id: "post-1", method: "POST", path: "/upload" });
    const response = await fetch(`${app.url}/upload`, {
      method: "POST",
      headers: { "x-containerflare-metadata": signed.metadata, "x-containerflare-signature": signed.signature },
      body: "x".repeat(100_000),
    });
    expect({ status: response.status, body: await response.text() }).toEqual({
      status: 200,
      body: JSON.stringify({ bytes: 100_000 }),
    });
  });

  it("on Cloudflare with a secret: a client-sent cf-connecting-ip never becomes the client ip", async () => {
    app = await startApp(runtime, APP, {
      ...JSON_LOGS,
      CLOUDFLARE_APPLICATION_ID: "app-1",
      CONTAINERFLARE_SECRET: "shared-secret",
    });
    const direct = await json(await fetch(`${app.url}/`, { headers: { "cf-connecting-ip": "6.6.6.6" } }));
    expect(direct.request).toMatchObject({ source: "http", clientIp: expect.stringMatching(/127\.0\.0\.1$/) });
  });

  it("answers an app error with 500 and the request id, logging the stack", async () => {
    app = await startApp(runtime, APP, JSON_LOGS);
    const response = await fetch(`${app.url}/throw`, { headers: { "x-request-id": "broken-1" } });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: "INTERNAL", message: "Internal Server Error", retryable: false, requestId: "broken-1" },
    });
    expect(text).not.toContain("boom");
    const internal = await fetch(`${app.url}/internal`, { headers: { "x-request-id": "broken-2" } });
    expect(internal.status).toBe(500);
    expect(await json(internal)).toEqual({
      error: { code: "INTERNAL", message: "Internal Server Error", retryable: false, requestId: "broken-2" },
    });
    await expect
      .poll(() => app!.jsonLogs().find((line) => line.requestId === "broken-2")?.message)
      .toMatch(/secret_table/);
    await expect
      .poll(() => app!.jsonLogs().find((line) => line.requestId === "broken-1"))
      .toMatchObject({ level: "error" });
    const logged = app.jsonLogs().find((line) => line.requestId === "broken-1")!;
    expect(logged.message).toMatch(/boom in handler[\s\S]*at /);
  });

  it("answers a binding call without a command host with a typed 503; the reason stays in the log", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, K_SERVICE: "api" });
    const response = await fetch(`${app.url}/binding`, { headers: { "x-request-id": "no-host-1" } });
    expect(response.status).toBe(503);
    const body = await json(response);
    expect(body.error).toEqual({
      code: "UNAVAILABLE",
      message: "Service Unavailable",
      retryable: false,
      requestId: "no-host-1",
    });
    await expect
      .poll(() => app!.jsonLogs().find((line) => line.requestId === "no-host-1")?.message)
      .toMatch(/no command host on Cloud Run/);
  });

  it("never shows a command error's own text to the client: unreachable host, binding not allowed", async () => {
    const host = createCommandHost({ bindings: { CACHE: new Map() }, allow: [] });
    const listener = await listenCommandHost(host, `tcp://127.0.0.1:${await freePort()}`);
    const closedPort = await freePort();
    try {
      const described = { CONTAINERFLARE_BINDINGS: "CACHE:kv", CONTAINERFLARE_COMMAND_TIMEOUT_MS: "3000" };
      app = await startApp(runtime, APP, { ...JSON_LOGS, ...described, CF_CMD_ENDPOINT: listener.url });
      const forbidden = await fetch(`${app.url}/binding`, { headers: { "x-request-id": "forbidden-1" } });
      const forbiddenText = await forbidden.text();
      expect(forbidden.status).toBe(403);
      expect(JSON.parse(forbiddenText).error).toMatchObject({
        code: "FORBIDDEN",
        message: "Forbidden",
        requestId: "forbidden-1",
      });
      expect(forbiddenText).not.toMatch(/CACHE|allowed/);
      await app.stop();

      app = await startApp(runtime, APP, {
        ...JSON_LOGS,
        ...described,
        CF_CMD_ENDPOINT: `tcp://127.0.0.1:${closedPort}`,
      });
      const unreachable = await fetch(`${app.url}/binding`, { headers: { "x-request-id": "unreachable-1" } });
      const unreachableText = await unreachable.text();
      expect(unreachable.status).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(unreachableText).error.requestId).toBe("unreachable-1");
      expect(unreachableText).not.toMatch(/127\.0\.0\.1|tcp:|ECONNREFUSED|command host/);
      await expect
        .poll(() => app!.jsonLogs().find((line) => line.requestId === "unreachable-1")?.message)
        .toMatch(/127\.0\.0\.1/);
    } finally {
      await listener.close();
    }
  });

  it("refuses request bodies above the limit with 413, declared or chunked, without buffering them", async () => {
    app = await startApp(runtime, APP, JSON_LOGS);
    // Four concurrent 100 MiB uploads with Content-Length, streamed from here (never held in memory).
    const declared = await Promise.all(
      Array.from({ length: 4 }, () => upload(`${app!.url}/upload`, 100 * 2 ** 20, true)),
    );
    for (const answer of declared) expectTooLarge(runtime.name, answer);
    // Chunked: no length to check up front, so the read fails past the limit.
    expectTooLarge(runtime.name, await upload(`${app.url}/upload`, 40 * 2 ** 20, false));
    // Below the limit bodies pass.
    expect(await upload(`${app.url}/upload`, 2 ** 20, false)).toMatchObject({
      status: 200,
      body: JSON.stringify({ bytes: 2 ** 20 }),
    });
    const { maxRss } = await json(await fetch(`${app.url}/memory`));
    expect(maxRss).toBeLessThan(400 * 2 ** 20);
  });

  it("takes the body limit from CONTAINERFLARE_MAX_BODY_SIZE", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_MAX_BODY_SIZE: "1MiB" });
    expectTooLarge(runtime.name, await upload(`${app.url}/upload`, 2 ** 20 + 1, true));
    expectTooLarge(runtime.name, await upload(`${app.url}/upload`, 2 ** 20 + 1, false));
    expect((await upload(`${app.url}/upload`, 2 ** 20, true)).status).toBe(200);
  });

  it("limits small bodies too, which a runtime may have whole before the handler runs", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_MAX_BODY_SIZE: "100" });
    for (const view of ["", "-stream", "-clone"]) {
      // Declared, and chunked (one chunk: only its size tells).
      expectTooLarge(runtime.name, await upload(`${app.url}/upload${view}`, 101, true));
      expectTooLarge(runtime.name, await upload(`${app.url}/upload${view}`, 101, false));
      expect(await upload(`${app.url}/upload${view}`, 100, false), view).toMatchObject({
        status: 200,
        body: JSON.stringify({ bytes: 100 }),
      });
    }
  });

  it("limits every way of reading a body: its stream, a copy and a clone", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_MAX_BODY_SIZE: "1MiB" });
    for (const view of ["stream", "copy", "clone"]) {
      expectTooLarge(runtime.name, await upload(`${app.url}/upload-${view}`, 2 ** 20 + 1, false));
      expectTooLarge(runtime.name, await upload(`${app.url}/upload-${view}`, 2 ** 20 + 1, true));
      expect(await upload(`${app.url}/upload-${view}`, 2 ** 20, false), view).toMatchObject({
        status: 200,
        body: JSON.stringify({ bytes: 2 ** 20 }),
      });
    }
  });

  it("with a command host: reads vars as plain values once the host has described itself", async () => {
    const host = createCommandHost({ bindings: {}, allow: [], vars: { GREETING: "hello from the host" } });
    const listener = await listenCommandHost(host, `tcp://127.0.0.1:${await freePort()}`);
    try {
      app = await startApp(runtime, APP, { ...JSON_LOGS, CF_CMD_ENDPOINT: listener.url });
      // serve() asks the host in the background at start-up, so even the first read is the value.
      await sleep(2000);
      expect(await (await fetch(`${app.url}/var`)).text()).toBe("hello from the host");
    } finally {
      await listener.close();
    }
  });

  it("drains 120 in-flight requests and waitUntil work on SIGTERM, then exits 0", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_SHUTDOWN_TIMEOUT: "10" });
    const url = app.url;
    const waited = await fetch(`${url}/wait`);
    expect(waited.status).toBe(202);
    const inFlight = Array.from({ length: 120 }, () =>
      fetch(`${url}/slow?ms=1500`).then(async (response) => [response.status, await response.text()] as const),
    );
    await expect.poll(async () => Number(await (await fetch(`${url}/started`)).text()), { timeout: 10_000 }).toBe(120);
    const signalled = Date.now();
    app.child.kill("SIGTERM");
    const results = await Promise.all(inFlight);
    expect(results.filter(([status, text]) => status === 200 && text === "done")).toHaveLength(120);
    expect(await app.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(app.stderr).toContain("waitUntil finished");
    expect(app.stderr).toContain("onShutdown hook ran");
    expect(app.stderr.indexOf("waitUntil finished")).toBeLessThan(app.stderr.indexOf("onShutdown hook ran"));
  });

  it("force-closes at the shutdown deadline, and a second signal exits at once", async () => {
    app = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_SHUTDOWN_TIMEOUT: "1" });
    const stuck = fetch(`${app.url}/slow?ms=20000`).then(
      (response) => response.status,
      () => "dropped",
    );
    await expect.poll(async () => Number(await (await fetch(`${app!.url}/started`)).text())).toBe(1);
    const signalled = Date.now();
    app.child.kill("SIGTERM");
    expect(await app.exited).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(4000);
    expect(await stuck).toBe("dropped");

    const second = await startApp(runtime, APP, { ...JSON_LOGS, CONTAINERFLARE_SHUTDOWN_TIMEOUT: "30" });
    try {
      void fetch(`${second.url}/slow?ms=20000`).catch(() => {});
      await expect.poll(async () => Number(await (await fetch(`${second.url}/started`)).text())).toBe(1);
      second.child.kill("SIGTERM");
      await sleep(300);
      const again = Date.now();
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(1);
      expect(Date.now() - again).toBeLessThan(2000);
    } finally {
      await second.stop();
    }
  });

  it("exits 1 with one line for a bad environment variable", async () => {
    for (const [name, value, expected] of [
      ["PORT", "abc", 'containerflare: invalid PORT="abc": expected an integer port from 0 to 65535'],
      [
        "CF_CMD_ENDPOINT",
        "ftp://x",
        'containerflare: invalid CF_CMD_ENDPOINT="ftp://x": expected stdio, tcp://host:port, unix:///path, http(s)://host/path or disabled',
      ],
      [
        "CONTAINERFLARE_PLATFORM",
        "aws",
        'containerflare: invalid CONTAINERFLARE_PLATFORM="aws": expected cloudflare, cloud-run or generic',
      ],
    ] as const) {
      const bad = spawnApp(runtime, APP, { [name]: value });
      expect(await bad.exited).toBe(1);
      await sleep(50);
      expect(bad.stderr.filter(Boolean)).toEqual([expected]);
      expect(bad.stdout.filter(Boolean)).toEqual([]);
    }
  });
});

/**
 * An upload refused for its size: 413 with containerflare's JSON. Bun enforces the limit natively
 * (srvx passes it on): it answers an empty 413 itself and resets the connection, sometimes before
 * its answer can be read (status 0 here); the handler never saw the body either way.
 */
function expectTooLarge(runtime: string, answer: { status: number; body: string }) {
  if (runtime === "bun") return expect([0, 413]).toContain(answer.status);
  expect(answer.status).toBe(413);
  expect(JSON.parse(answer.body).error).toMatchObject({ code: "TOO_LARGE", message: "Payload Too Large" });
}

/**
 * POSTs `bytes` zero bytes streamed in 64 KiB writes over a raw socket, with a Content-Length or
 * chunked, reading the answer while the upload still runs (a server may answer early and close the
 * connection: an EPIPE after the answer is no failure). Resolves with the status and body.
 */
function upload(url: string, bytes: number, withLength: boolean): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunk = Buffer.alloc(64 * 1024);
    const received: Buffer[] = [];
    let answer: { status: number; body: string } | undefined;
    const parse = () => {
      const text = Buffer.concat(received).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
      const body = Buffer.concat(received).subarray(end + 4);
      if (length === undefined || body.length < Number(length)) return;
      answer = { status: Number(text.slice(9, 12)), body: body.subarray(0, Number(length)).toString("utf8") };
      socket.destroy();
      resolve(answer);
    };
    socket.on("data", (part: Buffer) => {
      received.push(part);
      parse();
    });
    // A server that answered early may close at once: what arrived before the close is the answer.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (answer) return;
      const text = Buffer.concat(received).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      // Closed before any answer arrived (status 0): see expectTooLarge.
      if (text === "") return resolve({ status: 0, body: "" });
      if (!text.startsWith("HTTP/1.1 ") || end === -1)
        return reject(new Error(`no answer to the upload: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(end + 4) });
    });
    socket.write(
      `POST ${pathname} HTTP/1.1\r\nhost: ${hostname}:${port}\r\nconnection: close\r\n` +
        (withLength ? `content-length: ${bytes}\r\n\r\n` : "transfer-encoding: chunked\r\n\r\n"),
    );
    // One chunk per turn of the event loop, so an early answer is read before the next write.
    let sent = 0;
    const pump = () => {
      if (answer || socket.destroyed || received.length > 0) return;
      if (sent >= bytes) return void (withLength ? undefined : socket.write("0\r\n\r\n"));
      const size = Math.min(chunk.length, bytes - sent);
      sent += size;
      const data = size === chunk.length ? chunk : chunk.subarray(0, size);
      const framed = withLength
        ? data
        : Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), data, Buffer.from("\r\n")]);
      socket.write(framed, () => setImmediate(pump));
    };
    // A declared length above the limit is answered on the headers alone: give that answer up to
    // 3 s to arrive before the first body byte (a loaded machine can take more than a moment),
    // since body bytes that reach a server that has answered and closed make its kernel reset
    // the connection, and a reset can discard the answer before this side has read it.
    setTimeout(pump, withLength ? 3_000 : 0);
  });
}
