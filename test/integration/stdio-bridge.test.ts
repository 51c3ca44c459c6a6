/**
 * The dev stdio bridge relays an app's frames to the command host over HTTP with a bound: at most
 * 256 relays in flight (the app's stdout paused beyond that), and every frame still answered.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { bridgeStdio } from "../../src/cli/dev/stdio-bridge.ts";

const FRAMES = 600;

describe("bridgeStdio()", () => {
  it("keeps at most 256 relays in flight and answers all 600 frames an app writes at once", async () => {
    let inFlight = 0;
    let most = 0;
    const host = createServer((request, response) => {
      inFlight++;
      most = Math.max(most, inFlight);
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk));
      request.on("end", () => {
        const { id } = JSON.parse(body) as { id: number };
        setTimeout(() => {
          inFlight--;
          response.end(JSON.stringify({ v: 1, id, ok: true, payload: null }));
        }, 400);
      });
    });
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(host.address() as AddressInfo).port}/v1/commands`;
    // The "app": writes every frame at once, then counts the answers on its stdin.
    const app = spawn(
      process.execPath,
      [
        "-e",
        `let text = ""; for (let id = 1; id <= ${FRAMES}; id++) text += JSON.stringify({ v: 1, id, command: "host.ping", payload: {} }) + "\\n";
         process.stdout.write(text);
         let answered = 0, rest = "";
         process.stdin.on("data", (chunk) => {
           const lines = (rest + chunk).split("\\n"); rest = lines.pop();
           answered += lines.length;
           if (answered === ${FRAMES}) { process.stderr.write("all answered"); process.exit(0); }
         });`,
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    app.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    try {
      bridgeStdio(app, { url, secret: "dev-secret", output: () => undefined });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(-1), 20_000);
        app.once("exit", (exit) => {
          clearTimeout(timer);
          resolve(exit);
        });
      });
      expect({ code, stderr }).toEqual({ code: 0, stderr: "all answered" });
      // The host answers after 400 ms, so without the cap every frame the app wrote would be in flight.
      expect(most).toBe(256);
    } finally {
      app.kill("SIGKILL");
      host.closeAllConnections();
      await new Promise((resolve) => host.close(resolve));
    }
  });
});
