/**
 * WebSockets through the framework adapters (issue 14, second part) in real node, bun and deno
 * processes with a real client: Hono's `upgradeWebSocket` from containerflare/hono, H3 v2's own
 * `defineWebSocketHandler` through containerflare/h3, an itty route returning
 * `upgradeWebSocket(hooks)`; all under `serve(handle(app), { websocket: true })`. Fixtures:
 * test/fixtures/ws/{hono,h3,itty}.mjs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";
import { connectSocket, handshake, until, within } from "./ws-client.ts";

const FIXTURES = `${ROOT}test/fixtures/ws`;
const FRAMEWORKS = ["hono", "h3", "itty"] as const;
type Framework = (typeof FRAMEWORKS)[number];

/** What a plain GET to each framework's routes answers. */
const PLAIN: Record<Framework, { ws: number; fallback?: { status: number; body: string } }> = {
  // Hono's convention (its Bun, Deno and Node helpers): no upgrade → next handler; none → 404.
  hono: { ws: 404, fallback: { status: 426, body: "WebSockets only" } },
  // H3's WebSocket handler answers 426, or its `http` handler.
  h3: { ws: 426, fallback: { status: 200, body: "WebSockets only" } },
  // upgradeWebSocket()'s own Response.
  itty: { ws: 426 },
};

/** What the "ctx" message answers beyond the request id, per framework. */
const CONTEXT_SEEN: Record<Framework, Record<string, unknown>> = {
  hono: { env: true, peer: true, sameWs: true, path: "/ws", readyState: 1, event: "message" },
  h3: { hookArgument: true },
  itty: { hookArgument: true, request: true },
};

const wsUrl = (app: RunningApp, path: string) => `${app.url.replace(/^http/, "ws")}${path}`;

/** The close lines the fixture printed. */
const serverCloses = (app: RunningApp) =>
  app.jsonLogs().flatMap((line) => (line.wsClose ? [line.wsClose as Record<string, unknown>] : []));

describe.each(RUNTIMES)("WebSockets through the adapters on $name", (runtime) => {
  describe.each(FRAMEWORKS)("containerflare/%s", (framework) => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await startApp(runtime, `${FIXTURES}/${framework}.mjs`, { CONTAINERFLARE_LOG_FORMAT: "json" });
    });
    afterAll(() => app?.stop());

    it("echoes text and binary through the framework's route; the route's context reaches the socket", async () => {
      const client = await connectSocket(wsUrl(app, "/ws"), { headers: { "x-request-id": `${framework}-ws-1` } });
      expect(await client.next()).toBe(`hello ${framework}-ws-1 open`);
      client.ws.send("ctx");
      expect(JSON.parse((await client.next()) as string)).toEqual(
        expect.objectContaining({ id: `${framework}-ws-1`, ...CONTEXT_SEEN[framework] }),
      );
      client.ws.send("plain text ✓");
      expect(await client.next()).toBe("plain text ✓");
      // Small binary messages: on Node they are views into the socket's chunk; exactly these bytes come back.
      client.ws.send(new Uint8Array([0, 1, 2, 254, 255]));
      expect(await client.next()).toEqual(new Uint8Array([0, 1, 2, 254, 255]));
      const big = new Uint8Array(256 * 1024).map((_, index) => index % 251);
      client.ws.send(big);
      expect(Buffer.from((await client.next()) as Uint8Array).equals(Buffer.from(big))).toBe(true);

      const before = serverCloses(app).length;
      client.ws.close(4000, "client bye");
      expect(await within(client.closed, "client close")).toMatchObject({ code: 4000 });
      await until(() => serverCloses(app).length === before + 1, "server close");
      expect(serverCloses(app).at(-1)).toMatchObject({ framework, code: 4000, reason: "client bye" });
    });

    it("closes from the server with a code; a handler that throws closes its socket with 1011 and the process goes on", async () => {
      const client = await connectSocket(wsUrl(app, "/ws"));
      await client.next();
      client.ws.send("close");
      expect(await within(client.closed, "server close")).toEqual({ code: 4001, reason: "server says bye" });
      const failing = await connectSocket(wsUrl(app, "/ws"));
      await failing.next();
      failing.ws.send("throw");
      expect((await within(failing.closed, "1011")).code).toBe(1011);
      const after = await connectSocket(wsUrl(app, "/ws"));
      await after.next();
      after.ws.send("still here");
      expect(await after.next()).toBe("still here");
      after.ws.close(1000);
      await within(after.closed, "close");
      expect(app.child.exitCode).toBeNull();
    });

    it("refuses an upgrade with the framework's answer; an upgrade to no route gets the router's 404", async () => {
      const refused = await handshake(`${app.url}/ws?refuse`);
      expect(refused.status).toBe(403);
      expect(refused.body).toContain("no sockets for you");
      expect((await handshake(`${app.url}/nowhere`)).status).toBe(404);
      expect((await handshake(`${app.url}/ws`)).status).toBe(101);
    });

    it("answers a plain GET to the WebSocket route as the framework does", async () => {
      const plain = await fetch(`${app.url}/ws`);
      await plain.body?.cancel();
      expect(plain.status).toBe(PLAIN[framework].ws);
      const fallback = PLAIN[framework].fallback;
      if (fallback) {
        const response = await fetch(`${app.url}/ws-fallback`);
        expect({ status: response.status, body: await response.text() }).toEqual(fallback);
      }
    });

    if (framework === "hono") {
      it("Hono: accepts the first offered subprotocol, or the option's with its headers; survives a rebuilt response", async () => {
        const client = await connectSocket(wsUrl(app, "/ws"), { protocols: ["chat.v2", "chat.v1"] });
        expect(client.ws.protocol).toBe("chat.v2");
        await client.next();
        client.ws.send("ctx");
        expect(JSON.parse((await client.next()) as string)).toMatchObject({ protocol: "chat.v2" });
        client.ws.close(1000);

        const chosen = await handshake(`${app.url}/ws-fallback`, { "sec-websocket-protocol": "other, chosen.v1" });
        expect(chosen.status).toBe(101);
        expect(chosen.headers).toMatchObject({ "sec-websocket-protocol": "chosen.v1", "x-ws-header": "set" });

        // A middleware replaced the route's Response: the hooks are found on the request.
        const rebuilt = await connectSocket(wsUrl(app, "/ws-rebuilt"), { headers: { "x-request-id": "rebuilt-1" } });
        expect(await rebuilt.next()).toBe("hello rebuilt-1 open");
        rebuilt.ws.send("echo");
        expect(await rebuilt.next()).toBe("echo");
        rebuilt.ws.close(1000);
        await within(rebuilt.closed, "close");
      });
    }

    if (framework === "h3") {
      it("H3: hooks made per request from the event reach its context", async () => {
        const client = await connectSocket(wsUrl(app, "/ws-fallback"), { headers: { "x-request-id": "h3-event-1" } });
        expect(await client.next()).toBe("event h3-event-1");
        client.ws.close(1000);
        await within(client.closed, "close");
      });
    }
  });
});
