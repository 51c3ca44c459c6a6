/**
 * WebSockets through `containerflare dev`: the app takes upgrades with its default export's
 * `websocket` hooks, and dev proxies them from the dev port to it, through dev's built-in Worker
 * and through the app's own Worker (a Durable Object on the Container API, whose container is
 * the app process). The client is Node's WebSocket on loopback.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyApp, startDevCli } from "../../bench/lib/dev-cli.ts";
import { checkedDev } from "./dev-checks.ts";
import { ROOT } from "./runtimes.ts";
import { connectSocket, within } from "./ws-client.ts";

const created: string[] = [];
afterAll(async () => {
  const { rmSync } = await import("node:fs");
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

/** Opens a WebSocket, sends `text`, and resolves with the messages received until the `count`-th. */
function exchange(url: string, text: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const received: string[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no ${count} messages within 20 s from ${url}: got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.addEventListener("open", () => socket.send(text));
    socket.addEventListener("message", (event) => {
      received.push(String(event.data));
      if (received.length === count) {
        clearTimeout(timer);
        socket.close(1000);
        resolve(received);
      }
    });
    socket.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`WebSocket error on ${url} after ${JSON.stringify(received)}`));
    });
  });
}

/** The Workers in front of the app: dev's own, the fixture's on the Container API, examples/basic's on @cloudflare/containers. */
const WORKERS = [
  { name: "dev's built-in Worker", worker: "builtin", example: undefined },
  { name: "a Durable Object on the Container API", worker: "main", example: undefined },
  { name: "examples/basic's Container class (@cloudflare/containers)", worker: "main", example: "basic" },
] as const;

describe.each(WORKERS)("WebSockets through containerflare dev and $name", ({ worker, example }) => {
  it("upgrades on the dev port and echoes through the Worker to the app, with the Worker's signed metadata", async () => {
    const tag = `dev-ws-${process.pid}-${worker}-${example ?? "fixture"}`;
    const fixture = join(ROOT, "test", "fixtures", "dev-ws");
    // examples/basic's Worker and wrangler.jsonc in front of the fixture's app.
    const directory = `${example ? copyApp(ROOT, join(ROOT, "examples", example), tag, ["worker.ts", "wrangler.jsonc"]) : copyApp(ROOT, fixture, tag)}/`;
    if (example) copyFileSync(join(fixture, "app.ts"), `${directory}app.ts`);
    created.push(directory);
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", args: ["--worker", worker] });
    await checkedDev(dev, directory, async () => {
      const url = `${dev.url.replace("http", "ws")}/rooms/lobby`;
      const [hello, echo] = await exchange(url, "ping", 2);
      const opened = JSON.parse(hello!);
      // The app verified the Worker's signature on the upgrade request.
      expect(opened.source).toBe("worker");
      expect(opened.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      expect(echo).toBe("echo: ping");
      // A second socket on the same instance works as well.
      expect((await exchange(url, "again", 2))[1]).toBe("echo: again");
    });
  }, 90_000);
});

describe("WebSockets through containerflare dev and a Durable Object on the Container API", () => {
  it("renews the container's inactivity timeout while a socket carries messages, and lets it stop once idle", async () => {
    const tag = `dev-ws-${process.pid}-idle`;
    const directory = `${copyApp(ROOT, join(ROOT, "test", "fixtures", "dev-ws"), tag)}/`;
    created.push(directory);
    const timeoutMs = 2_000;
    const config = readFileSync(`${directory}wrangler.jsonc`, "utf8");
    writeFileSync(
      `${directory}wrangler.jsonc`,
      config.replace('"main": "worker.ts",', `"main": "worker.ts",\n  "vars": { "INACTIVITY_MS": "${timeoutMs}" },`),
    );
    const dev = await startDevCli({ root: ROOT, directory, entry: "app.ts", args: ["--worker", "main"] });
    await checkedDev(dev, directory, async () => {
      const client = await connectSocket(`${dev.url.replace("http", "ws")}/rooms/busy`);
      expect(JSON.parse((await client.next()) as string)).toMatchObject({ source: "worker" });
      // 2.5 timeouts of traffic, a message every 400 ms: every one echoed, the socket still open.
      const busyUntil = Date.now() + 2.5 * timeoutMs;
      for (let sent = 0; Date.now() < busyUntil && sent < 50; sent++) {
        client.ws.send(`tick ${sent}`);
        expect(await client.next()).toBe(`echo: tick ${sent}`);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
      // Idle: the timeout runs out, the instance gets SIGTERM, and the app closes the socket with 1001.
      const idleFrom = Date.now();
      expect(await within(client.closed, "close once idle")).toEqual({ code: 1001, reason: "server shutting down" });
      expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(timeoutMs - 500);
      expect(dev.output.join("\n")).toMatch(/idle for [^:]+: stopping it \(SIGTERM\)/);
    });
  }, 90_000);
});
