/**
 * WebSockets in serve() on every runtime (issue 14, first part), with a real client on loopback:
 * Node's global WebSocket for sockets, node:http for handshakes that must fail (the client sees
 * their status). The fixture is test/fixtures/ws/echo.mjs.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { signMetadataHeader } from "../../src/metadata-header-verifier.ts";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";
import { connectSocket, handshake, KEY, until, WAIT_MS, within } from "./ws-client.ts";

const APP = `${ROOT}test/fixtures/ws/echo.mjs`;
const SECRET = "ws-shared-secret";
const ENV = { CONTAINERFLARE_LOG_FORMAT: "json", CONTAINERFLARE_SHUTDOWN_TIMEOUT: "20", CONTAINERFLARE_SECRET: SECRET };
/** One masked client frame (RFC 6455 5.2) of `opcode` (1 text, 8 close), for a payload under 126 bytes. */
function clientFrame(opcode: number, payload: Buffer | string): Buffer {
  const bytes = Buffer.from(payload);
  const mask = randomBytes(4);
  const masked = bytes.map((byte, index) => byte ^ (mask[index % 4] as number));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | bytes.length]), mask, masked]);
}

/**
 * Completes the handshake over raw TCP and resolves with the socket, paused, and the bytes the
 * server sent after its 101 with them. Rejects when the answer is not a 101 within the wait.
 */
function rawUpgrade(url: string): Promise<{ socket: Socket; rest: Buffer }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no upgrade within the wait"));
    }, WAIT_MS);
    socket.once("error", reject);
    socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      socket.off("error", reject);
      socket.on("error", () => {}); // the server's reset, once it gives up on this client
      const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      if (!status.startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${status}`));
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
  });
}

/**
 * A client that completes the handshake over raw TCP, sends one text frame, then never reads
 * again (a paused socket: the kernel buffers fill, then the server's). Resolves with the socket.
 */
async function slowReader(url: string, text: string): Promise<Socket> {
  const { socket } = await rawUpgrade(url);
  socket.write(clientFrame(1, text));
  return socket;
}

/**
 * A raw client that reads the server's frames (unmasked, payloads under 64 KiB): `frame()`
 * resolves with the next one, or rejects when none arrives within the wait.
 */
async function frameReader(url: string) {
  const { socket, rest } = await rawUpgrade(url);
  let buffered = rest;
  let wake = () => {};
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake();
  });
  socket.resume();
  const parse = () => {
    if (buffered.length < 2) return undefined;
    const short = (buffered[1] as number) & 0x7f;
    const [length, start] = short === 126 ? [buffered.readUInt16BE(2), 4] : [short, 2];
    if (buffered.length < start + length) return undefined;
    const frame = { opcode: (buffered[0] as number) & 0x0f, payload: buffered.subarray(start, start + length) };
    buffered = buffered.subarray(start + length);
    return frame;
  };
  const frame = async (): Promise<{ opcode: number; payload: Buffer }> => {
    const deadline = Date.now() + WAIT_MS;
    for (let next = parse(); ; next = parse()) {
      if (next) return next;
      if (Date.now() > deadline) throw new Error("no frame within the wait");
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return { socket, frame };
}

const wsUrl = (app: RunningApp, path: string) => `${app.url.replace(/^http/, "ws")}${path}`;

/** The close lines the fixture printed. */
const serverCloses = (app: RunningApp) =>
  app.jsonLogs().flatMap((line) => (line.wsClose ? [line.wsClose as { code?: number; reason?: string }] : []));

describe.each(RUNTIMES)("WebSockets on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("echoes text, binary and a 1 MiB message; the hooks get the request's context from the signed header", async () => {
    app = await startApp(runtime, APP, ENV);
    const signed = await signMetadataHeader(SECRET, {
      request_id: "ws-ray-1",
      client_ip: "198.51.100.7",
      country: "CH",
      method: "GET",
      path: "/chat",
      raw_url: "https://example.com/chat",
    });
    const client = await connectSocket(wsUrl(app, "/chat"), {
      headers: { "x-containerflare-metadata": signed.metadata, "x-containerflare-signature": signed.signature },
    });
    expect(await client.next()).toBe("hello ws-ray-1");
    client.ws.send("ctx");
    const seen = JSON.parse((await client.next()) as string);
    expect(seen).toMatchObject({
      platform: "generic",
      request: { id: "ws-ray-1", clientIp: "198.51.100.7", country: "CH", path: "/chat", source: "worker" },
      same: true,
      logger: "function",
    });
    // The metadata headers never reach the hooks' view of the request.
    expect(seen.metadataHeader).toBeNull();

    client.ws.send("plain text ✓");
    expect(await client.next()).toBe("plain text ✓");
    client.ws.send(new Uint8Array([0, 1, 2, 254, 255]));
    expect(await client.next()).toEqual(new Uint8Array([0, 1, 2, 254, 255]));
    const big = new Uint8Array(1024 * 1024).map((_, index) => index % 251);
    client.ws.send(big);
    const echoed = (await client.next()) as Uint8Array;
    expect(echoed.byteLength).toBe(big.byteLength);
    expect(Buffer.from(echoed).equals(Buffer.from(big))).toBe(true);
    const bigText = "é".repeat(512 * 1024); // 1 MiB in UTF-8
    client.ws.send(bigText);
    expect(await client.next()).toBe(bigText);

    // A close from the client: its code and reason reach the server's close hook.
    client.ws.close(4000, "client bye");
    expect(await within(client.closed, "client close")).toMatchObject({ code: 4000 });
    await until(() => serverCloses(app as RunningApp).length === 1, "server close hook");
    expect(serverCloses(app)[0]).toEqual({ code: 4000, reason: "client bye" });
  });

  it("a close from the server reaches the client with its code; an unsigned header is not trusted", async () => {
    app = await startApp(runtime, APP, ENV);
    const client = await connectSocket(wsUrl(app, "/x"), {
      headers: {
        "x-containerflare-metadata": JSON.stringify({ request_id: "forged", client_ip: "6.6.6.6" }),
        "x-request-id": "plain-request-1",
      },
    });
    expect(await client.next()).toBe("hello plain-request-1");
    client.ws.send("ctx");
    const seen = JSON.parse((await client.next()) as string);
    expect(seen.request).toMatchObject({ id: "plain-request-1", source: "http" });
    expect(seen.request.clientIp).not.toBe("6.6.6.6");
    expect(seen.metadataHeader).toBeNull();
    client.ws.send("close:4001");
    expect(await within(client.closed, "server close")).toEqual({ code: 4001, reason: "server says bye" });
  });

  it("refuses upgrades with the hook's status, 400/426 for bad handshakes, 500 for a failing hook, and keeps serving", async () => {
    app = await startApp(runtime, APP, ENV);
    const refused = await handshake(`${app.url}/x?refuse`);
    expect(refused).toMatchObject({ status: 403, body: "no sockets for you" });
    expect((await handshake(`${app.url}/x?throw`)).status).toBe(500);
    expect((await handshake(`${app.url}/x`, { "sec-websocket-key": "short" })).status).toBe(400);
    expect((await handshake(`${app.url}/x`, { "sec-websocket-key": "" })).status).toBe(400);
    // Without `Connection: Upgrade` node:http sees no upgrade: the app answers it as a plain request.
    expect((await handshake(`${app.url}/x`, { connection: "keep-alive" })).status).toBe(
      runtime.name.startsWith("node") ? 404 : 400,
    );
    const oldVersion = await handshake(`${app.url}/x`, { "sec-websocket-version": "8" });
    expect(oldVersion.status).toBe(426);
    expect(oldVersion.headers["sec-websocket-version"]).toBe("13");
    expect((await handshake(`${app.url}/x`, {}, "POST")).status).toBe(400);
    // The accepting path with the same client: 101, with the hook's header.
    const accepted = await handshake(`${app.url}/x`, { "x-request-id": "hs-1" });
    expect(accepted.status).toBe(101);
    expect(accepted.headers["x-request-id-seen"]).toBe("hs-1");
    // A message hook that throws closes its socket with 1011; the process goes on.
    const client = await connectSocket(wsUrl(app, "/x"));
    await client.next();
    client.ws.send("throw");
    expect((await within(client.closed, "1011")).code).toBe(1011);
    const after = await connectSocket(wsUrl(app, "/x"));
    await after.next();
    after.ws.send("still here");
    expect(await after.next()).toBe("still here");
    after.ws.close();
    expect((await fetch(`${app.url}/started`)).status).toBe(200);
    expect(app.child.exitCode).toBeNull();
  });

  it("closes a socket that sends a message above maxMessageSize with 1009", async () => {
    app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_WS_MAX_MESSAGE_SIZE: "64KiB" });
    const client = await connectSocket(wsUrl(app, "/x"));
    await client.next();
    client.ws.send("a".repeat(64 * 1024)); // at the limit: fine
    expect(((await client.next()) as string).length).toBe(64 * 1024);
    client.ws.send(new Uint8Array(64 * 1024 + 1));
    expect((await within(client.closed, "1009")).code).toBe(1009);
    expect(app.child.exitCode).toBeNull();
  });

  it("closes a socket whose client does not read once its send buffer passes maxBufferedAmount", async () => {
    app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_WS_MAX_BUFFERED: "1MiB" });
    // 64 MiB at once: far past the 1 MiB bound and what loopback's socket buffers hold.
    const socket = await slowReader(wsUrl(app, "/x"), "flood:64");
    await until(() => app?.jsonLogs().some((line) => "flood" in line) === true, "flood line");
    const flood = app.jsonLogs().find((line) => "flood" in line)?.flood as { sent: number; buffered: number };
    // The socket was closed long before 64 MiB were buffered for it: on Node and Deno the send
    // that passed the bound closed it (the loop stopped on readyState); Bun drops what is sent
    // after its own close.
    expect(flood.buffered).toBeLessThan(8 * 1024 * 1024);
    if (runtime.name !== "bun") expect(flood.sent).toBeLessThan(8);
    // Node and Bun drop the connection at once. Deno's socket has no terminate and its close
    // waits for the client's close frame, which a client that never reads never sends: its
    // connection ends with the client (nothing more is buffered meanwhile).
    if (runtime.name !== "deno") await until(() => serverCloses(app as RunningApp).length === 1, "server close hook");
    socket.destroy();
    await until(() => serverCloses(app as RunningApp).length >= 1, "server close hook");
    // Once: Deno reports a reset connection's end twice, and the hook must not run twice.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(serverCloses(app)).toHaveLength(1);
    expect(app.child.exitCode).toBeNull();
  });

  it("refuses upgrades from origins not allowed (403) and past maxConnections (503), and logs an access line per upgrade", async () => {
    app = await startApp(runtime, APP, {
      ...ENV,
      CONTAINERFLARE_WS_ORIGINS: "https://app.example.com, http://localhost:5173",
      CONTAINERFLARE_WS_MAX_CONNECTIONS: "2",
      CONTAINERFLARE_ACCESS_LOG: "1",
    });
    const evil = await handshake(`${app.url}/x`, { origin: "https://evil.example", "x-request-id": "from-evil" });
    expect(evil).toMatchObject({ status: 403, body: "WebSocket origin not allowed" });
    expect((await handshake(`${app.url}/x`, { origin: "https://APP.example.com" })).status).toBe(101);
    // No Origin: no browser, nothing to check.
    const first = await connectSocket(wsUrl(app, "/x"), { headers: { "x-request-id": "first" } });
    const second = await connectSocket(wsUrl(app, "/x"), { headers: { origin: "http://localhost:5173" } });
    await first.next();
    await second.next();
    const third = await handshake(`${app.url}/x`);
    expect(third.status).toBe(503);
    expect(third.headers["retry-after"]).toBe("1");
    first.ws.close(1000);
    await within(first.closed, "close");
    await until(() => serverCloses(app as RunningApp).length >= 2, "server close hooks");
    const again = await connectSocket(wsUrl(app, "/x"));
    await again.next();
    again.ws.close(1000);
    second.ws.close(1000);
    await until(() => serverCloses(app as RunningApp).length >= 4, "server close hooks");
    const accessLines = () =>
      (app as RunningApp)
        .jsonLogs()
        .flatMap((line) => (line.httpRequest ? [line as { httpRequest: { status: number }; requestId?: string }] : []));
    // Four sockets were accepted (the raw handshake, first, second, again): one 101 line each, at its close.
    await until(
      () => accessLines().filter((line) => line.httpRequest.status === 101).length >= 4,
      "an access line per accepted socket",
    );
    const access = accessLines();
    const statuses = access.map((line) => line.httpRequest.status);
    expect(statuses.filter((status) => status === 403)).toHaveLength(1);
    expect(statuses.filter((status) => status === 503)).toHaveLength(1);
    expect(statuses.filter((status) => status === 101)).toHaveLength(4);
    expect(JSON.stringify(access)).toContain("from-evil");
    expect(JSON.stringify(access.filter((line) => line.httpRequest.status === 101))).toContain("first");
  });

  it("lets code decide the origin (webSocketOptions.allowedOrigins as a function)", async () => {
    app = await startApp(runtime, APP, { ...ENV, WS_ORIGIN_FN: ".trusted.example" });
    expect((await handshake(`${app.url}/x`, { origin: "https://chat.trusted.example" })).status).toBe(101);
    expect((await handshake(`${app.url}/x`, { origin: "https://trusted.example.evil" })).status).toBe(403);
  });

  it("gives a binary message an arrayBuffer() of exactly its bytes", async () => {
    app = await startApp(runtime, APP, ENV);
    const client = await connectSocket(wsUrl(app, "/x"));
    await client.next();
    for (const bytes of [[0xab], [0xab, 1, 2, 3], [0xab, ...new Array(300).fill(7)]]) {
      client.ws.send(new Uint8Array(bytes));
      expect(JSON.parse((await client.next()) as string)).toEqual({ arrayBuffer: bytes });
    }
    client.ws.close(1000);
  });

  it("lets the app route upgrades with upgradeWebSocket(); other answers refuse with their status", async () => {
    app = await startApp(runtime, APP, { ...ENV, WS_MODE: "app" });
    const client = await connectSocket(wsUrl(app, "/ws"), { headers: { "x-request-id": "routed-1" } });
    expect(await client.next()).toBe("hello routed-1");
    client.ws.send("ctx");
    expect(JSON.parse((await client.next()) as string)).toMatchObject({ request: { id: "routed-1" }, same: true });
    client.ws.send("echo me");
    expect(await client.next()).toBe("echo me");
    // The hooks given with the request survive a stage that copies the Response.
    const rebuilt = await connectSocket(wsUrl(app, "/ws-rebuilt"), { headers: { "x-request-id": "routed-3" } });
    expect(await rebuilt.next()).toBe("hello routed-3");
    rebuilt.ws.close(1000);
    const bound = await connectSocket(wsUrl(app, "/ws-bound"), { headers: { "x-request-id": "routed-2" } });
    expect(await bound.next()).toBe("bound routed-2");
    expect((await handshake(`${app.url}/nowhere`)).status).toBe(404);
    // The hook's refusal also holds when the app routes.
    expect((await handshake(`${app.url}/ws?refuse`)).status).toBe(403);
    // A plain request to the route gets the Response as it is: 426 Upgrade Required.
    expect((await fetch(`${app.url}/ws`)).status).toBe(426);
    client.ws.close(1000);
    bound.ws.close(1000);
    await within(client.closed, "close");
  });

  it("on SIGTERM closes open sockets with 1001 and a reason, waits for them, and exits 0", async () => {
    app = await startApp(runtime, APP, ENV);
    const clients = await Promise.all([1, 2, 3].map(() => connectSocket(wsUrl(app as RunningApp, "/x"))));
    for (const client of clients) await client.next();
    // Work a hook handed to waitUntil is waited for too.
    clients[0]?.ws.send("slow");
    const signalledAt = Date.now();
    app.child.kill("SIGTERM");
    for (const client of clients) {
      expect(await within(client.closed, "1001")).toEqual({ code: 1001, reason: "server shutting down" });
    }
    expect(await within(app.exited, "exit")).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(8000);
    expect(app.jsonLogs().find((line) => "shutdownOpenSockets" in line)).toEqual({ shutdownOpenSockets: 0 });
    expect(serverCloses(app).map((close) => close.code)).toEqual([1001, 1001, 1001]);
  });

  it("a client that drops its connection without a close frame: the close hook gets 1006 (abnormal closure)", async () => {
    app = await startApp(runtime, APP, ENV);
    const client = await frameReader(wsUrl(app, "/x"));
    expect((await client.frame()).payload.toString()).toMatch(/^hello /);
    client.socket.destroy();
    await until(() => serverCloses(app as RunningApp).length === 1, "server close hook");
    expect(serverCloses(app)).toEqual([{ code: 1006, reason: "" }]);
  });

  it("on SIGTERM the close hook gets the shutdown's 1001 also when the client's next frame is data, not the echo", async () => {
    app = await startApp(runtime, APP, ENV);
    const client = await frameReader(wsUrl(app, "/x"));
    expect((await client.frame()).payload.toString()).toMatch(/^hello /);
    app.child.kill("SIGTERM");
    const close = await client.frame();
    expect(close.opcode).toBe(8);
    expect(close.payload.readUInt16BE(0)).toBe(1001);
    // A message the client sent before it read the close frame, then its echo (RFC 6455 5.5.1).
    client.socket.write(Buffer.concat([clientFrame(1, "late"), clientFrame(8, close.payload)]));
    expect(await within(app.exited, "exit")).toBe(0);
    client.socket.destroy();
    expect(serverCloses(app)).toEqual([{ code: 1001, reason: "server shutting down" }]);
  });

  it("on SIGTERM a client that never answers the close frame does not hold the exit past the deadline", async () => {
    app = await startApp(runtime, APP, { ...ENV, CONTAINERFLARE_SHUTDOWN_TIMEOUT: "2" });
    const socket = await slowReader(wsUrl(app, "/x"), "hi");
    const signalledAt = Date.now();
    app.child.kill("SIGTERM");
    const code = await within(app.exited, "exit");
    socket.destroy();
    // 0 where the runtime ends the connection itself, 1 where the deadline had to.
    expect([0, 1]).toContain(code);
    expect(Date.now() - signalledAt).toBeLessThan(2000 + 3000);
  });
});
