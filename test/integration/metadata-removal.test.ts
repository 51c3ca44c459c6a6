// The metadata headers never reach the app, whichever way it looks at the request, on real node
// (24 and the machine's 20), bun and deno processes; each way works (on Node, `new Request(request)`
// needs the global Request serve() installs: serve/node.ts). On Bun and Deno, where nothing can be
// trusted, the removal waits for the app's first read of the headers
// (serve/deferred-metadata-removal.ts): every view below must still see neither name. With a
// secret the headers are read (and removed) before the app runs, on every runtime.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/serve/metadata-removal.mjs`;
const NAMES = ["x-containerflare-metadata", "x-containerflare-signature"];
const FORGED = { "X-Containerflare-Metadata": '{"client_ip":"6.6.6.6"}', "x-containerflare-SIGNATURE": "t=1,v1=00" };
const VIEWS = [
  "headers",
  "clone",
  "new-request",
  "new-request-init",
  "new-request-url",
  "fetch-init",
  "fetch-request",
  "inspect",
  "bun-inspect",
  "deno-inspect",
  "body-then-headers",
];

interface Answer {
  deferred: boolean;
  seen: string[];
  isRequest: boolean;
}

// Answers the metadata header names its request carried (what a request the app sends on shows).
let echo: Server;
let echoUrl = "";
beforeAll(async () => {
  echo = createServer((request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify(NAMES.filter((name) => request.headers[name] !== undefined)));
  });
  await new Promise<void>((listening) => echo.listen(0, "127.0.0.1", listening));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((closed) => echo.close(() => closed())));

async function look(app: RunningApp, view: string): Promise<Answer> {
  const post = view === "body-then-headers";
  const response = await fetch(`${app.url}/${view}`, {
    method: post ? "POST" : "GET",
    body: post ? "the body" : undefined,
    headers: FORGED,
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Answer;
}

describe.each(RUNTIMES)("metadata headers on $name", (runtime) => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("no view of the request shows them, where nothing can be trusted", async () => {
    // startApp's readiness probes are the first requests: on Bun, the first one is handled the
    // ordinary way (it shows that the server's requests have mutable headers), the views come after.
    app = await startApp(runtime, APP, { ECHO_URL: echoUrl });
    for (const view of VIEWS) {
      const answer = await look(app, view);
      expect(answer.seen, view).toEqual(view === "body-then-headers" ? ["the body"] : []);
      expect(answer.isRequest).toBe(true);
      // Bun and Deno defer the removal; Node has removed the headers before the app runs. A POST
      // too: nothing of serve()'s reads its headers first (Bun enforces the body limit itself, so
      // the body-limit part is left out there; on Deno the limit sits in the runtime's body getter).
      // (The fixture sees Bun's deferral by the request's prototype, which only a view that reads
      // the headers gives back: Deno.inspect is not one on Bun.)
      const deferred = runtime.name === "deno" || (runtime.name === "bun" && view !== "deno-inspect");
      expect(answer.deferred, view).toBe(deferred);
    }
  });

  it("with a secret they are read before the app runs, and removed", async () => {
    app = await startApp(runtime, APP, { ECHO_URL: echoUrl, CONTAINERFLARE_SECRET: "s".repeat(32) });
    for (const view of VIEWS) {
      const answer = await look(app, view);
      expect(answer.seen, view).toEqual(view === "body-then-headers" ? ["the body"] : []);
      expect(answer.deferred, view).toBe(false);
    }
  });
});
