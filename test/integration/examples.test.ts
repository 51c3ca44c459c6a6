/**
 * examples/hono, examples/h3 and examples/itty end to end: their four routes through
 * `containerflare dev` (the Worker code in workerd with local KV, D1 and Queues, the app as a
 * child process), and the bundle the image ships (`containerflare build`) under a Cloud Run
 * environment on node, bun and deno, where the binding routes answer 503 UNAVAILABLE.
 * examples/durable-object the same way: its own Worker on the Durable Object Container API
 * (containerflareContainer, ContainerflareHost) under dev, one container per room.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BIN,
  baseEnv,
  CLI,
  requireBuiltCli,
  runToEnd,
  spawnProcess,
  terminate,
  waitForHttp,
} from "../fixtures/cli/harness.ts";
import { freePort, ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";
import { connectSocket, within } from "./ws-client.ts";

/** The example's `/ws`: greets with the request id, echoes a message; a plain GET answers 426. */
async function checkWebSocket(url: string, requestId?: string): Promise<void> {
  const client = await connectSocket(`${url.replace(/^http/, "ws")}/ws`, {
    headers: requestId ? { "x-request-id": requestId } : {},
  });
  expect(await client.next()).toMatch(requestId ? `connected ${requestId}` : /^connected \S+$/);
  client.ws.send("echo me");
  expect(await client.next()).toBe("echo me");
  client.ws.close(1000);
  await within(client.closed, "close");
  const plain = await fetch(`${url}/ws`);
  await plain.body?.cancel();
  expect(plain.status).toBe(426);
}

/** Each example, and the runtime its `containerflare dev` run uses (one each, all three covered). */
const EXAMPLES = [
  { name: "hono", devRuntime: "bun" },
  { name: "h3", devRuntime: "deno" },
  { name: "itty", devRuntime: "node" },
] as const;

interface RootBody {
  platform: { kind: string; cloudflare?: Record<string, string>; cloudRun?: Record<string, string> };
  request: { id: string; method: string; path: string; source: string; clientIp?: string; workerName?: string };
}

let work: string;
beforeAll(() => {
  requireBuiltCli();
  work = mkdtempSync(join(tmpdir(), "cf-examples-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(EXAMPLES)("examples/$name through containerflare dev on $devRuntime", ({ name, devRuntime }) => {
  it("serves its four routes with local KV, D1 and Queue bindings, and its WebSocket", async () => {
    const port = await freePort();
    const dev = spawnProcess(
      `${BIN}/node`,
      [
        CLI,
        "dev",
        `examples/${name}/app.ts`,
        "--runtime",
        devRuntime,
        "--port",
        String(port),
        "--persist",
        join(work, `dev-${name}`),
        "--no-watch",
      ],
      { cwd: ROOT, env: baseEnv() },
    );
    const url = `http://127.0.0.1:${port}`;
    // waitForHttp throws with the dev output when dev exits or never answers.
    const { response: first } = await waitForHttp(`${url}/`, dev, 45_000);
    try {
      expect(first.status).toBe(200);
      const root = (await first.json()) as RootBody;
      // The request went through the Worker, which signed the metadata header.
      expect(root.platform.kind).toBe("cloudflare");
      expect(root.request).toMatchObject({
        method: "GET",
        path: "/",
        source: "worker",
        workerName: `containerflare-${name}`,
      });

      const put = await fetch(`${url}/kv/greeting%20one`, { method: "PUT", body: `hello from ${name}` });
      expect(await put.json()).toEqual({ key: "greeting one", stored: true });
      const get = await fetch(`${url}/kv/greeting%20one`);
      expect(get.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await get.text()).toBe(`hello from ${name}`);
      const missing = await fetch(`${url}/kv/never-written`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        error: { code: "NOT_FOUND", message: "no value stored under never-written" },
      });

      const visits = [];
      for (let i = 0; i < 2; i++)
        visits.push(((await (await fetch(`${url}/visits`)).json()) as { count: number }).count);
      expect(visits[1]).toBe(visits[0]! + 1);

      const job = { example: name, at: 42 };
      const queued = await fetch(`${url}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(job),
      });
      expect(queued.status).toBe(202);
      expect(await queued.json()).toEqual({ queued: true });
      // The dev Worker consumes the queue and logs each message it receives.
      await expect
        .poll(() => dev.stdout.concat(dev.stderr).join("\n"), { timeout: 15_000 })
        .toContain(JSON.stringify(job));
      const invalid = await fetch(`${url}/jobs`, { method: "POST", body: "not json" });
      expect(invalid.status).toBe(400);
      await invalid.body?.cancel();

      const unknown = await fetch(`${url}/no/such/route`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({
        error: { code: "NOT_FOUND", message: "no route for GET /no/such/route" },
      });
      // Through the example's Worker: the request id is the Worker's.
      await checkWebSocket(url);
    } finally {
      expect(await terminate(dev)).toBe(0);
    }
    // Miniflare, workerd and the app start in a few seconds, but far slower on a loaded CI machine:
    // the start-up wait (45 s) ends before the test does, so a failure shows the dev output.
  }, 120_000);
});

describe("examples/durable-object through containerflare dev", () => {
  interface RoomBody {
    room: string;
    durableObjectId: string | null;
    visits: number;
    greeting: string;
    request: { method: string; path: string; source: string };
  }

  it("gives each room its own Durable Object and container, with the Worker's KV and vars", async () => {
    const port = await freePort();
    const dev = spawnProcess(
      `${BIN}/node`,
      [
        CLI,
        "dev",
        "examples/durable-object/app.ts",
        "--port",
        String(port),
        "--persist",
        join(work, "dev-durable-object"),
        "--no-watch",
      ],
      { cwd: ROOT, env: baseEnv() },
    );
    const url = `http://127.0.0.1:${port}`;
    // The Worker answers what is not a room itself; dev is up once it does.
    const { response: outside } = await waitForHttp(`${url}/`, dev, 45_000);
    try {
      expect(outside.status).toBe(404);
      expect(await outside.json()).toMatchObject({ error: { code: "NOT_FOUND" } });

      const room = async (name: string) => {
        const response = await fetch(`${url}/rooms/${name}/`, { signal: AbortSignal.timeout(30_000) });
        expect(response.status, `GET /rooms/${name}/`).toBe(200);
        return (await response.json()) as RoomBody;
      };
      const blue = await room("blue");
      expect(blue).toMatchObject({
        room: "blue",
        visits: 1,
        greeting: "hello from wrangler.jsonc",
        // Forwarded by containerflareContainer with the metadata header the app verified.
        request: { method: "GET", path: "/rooms/blue/", source: "worker" },
      });
      expect(blue.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      const red = await room("red");
      expect(red).toMatchObject({ room: "red", visits: 1 });
      expect(red.durableObjectId).toMatch(/^[0-9a-f]{64}$/);
      expect(red.durableObjectId).not.toBe(blue.durableObjectId);
      const again = await room("blue");
      expect(again).toMatchObject({ room: "blue", visits: 2, durableObjectId: blue.durableObjectId });

      // The room's chat: both sockets reach blue's container, and one's message reaches the other.
      const wsUrl = `${url.replace("http", "ws")}/rooms/blue/ws`;
      const alice = await connectSocket(wsUrl);
      const bob = await connectSocket(wsUrl);
      for (const client of [alice, bob]) {
        expect(JSON.parse((await client.next()) as string)).toEqual({
          joined: "blue",
          durableObjectId: blue.durableObjectId,
        });
      }
      alice.ws.send("hi bob");
      expect(await bob.next()).toBe("hi bob");
      bob.ws.send("hi alice");
      expect(await alice.next()).toBe("hi alice");
      alice.ws.close(1000);
      bob.ws.close(1000);
      await within(bob.closed, "close");
    } finally {
      expect(await terminate(dev)).toBe(0);
    }
  }, 120_000);

  it("its bundle answers / on Cloud Run and 503 UNAVAILABLE for a room (no command host there)", async () => {
    const out = join(work, "bundle-durable-object");
    const built = await runToEnd(`${BIN}/node`, [CLI, "build", "examples/durable-object/app.ts", "--out", out], {
      cwd: ROOT,
      env: baseEnv(),
    });
    expect(built.status, built.stderr).toBe(0);
    const app = await startApp(RUNTIMES[0]!, join(out, "server.mjs"), {
      PORT: String(await freePort()),
      K_SERVICE: "containerflare-durable-object",
      CONTAINERFLARE_LOG_FORMAT: "json",
    });
    try {
      const root = await fetch(`${app.url}/`);
      expect(await root.json()).toMatchObject({ platform: { kind: "cloud-run" }, rooms: "GET /rooms/:name/" });
      const room = await fetch(`${app.url}/rooms/blue/`);
      expect(room.status).toBe(503);
      expect(await room.json()).toMatchObject({ error: { code: "UNAVAILABLE", message: "Service Unavailable" } });
    } finally {
      await app.stop();
    }
  }, 120_000);
});

describe("the image's bundle under a Cloud Run environment", () => {
  const bundles: Record<string, string> = {};
  beforeAll(async () => {
    for (const { name } of EXAMPLES) {
      const out = join(work, `bundle-${name}`);
      const built = await runToEnd(`${BIN}/node`, [CLI, "build", `examples/${name}/app.ts`, "--out", out], {
        cwd: ROOT,
        env: baseEnv(),
      });
      expect(built.status, built.stderr).toBe(0);
      bundles[name] = join(out, "server.mjs");
    }
  }, 120_000);

  describe.each(RUNTIMES)("on $name", (runtime) => {
    let app: RunningApp | undefined;
    afterEach(async () => {
      await app?.stop();
      app = undefined;
    });

    it.each(EXAMPLES.map(({ name }) => name))("examples/%s: /, /ws, and 503 on its binding routes", async (name) => {
      app = await startApp(runtime, bundles[name]!, {
        PORT: String(await freePort()),
        K_SERVICE: `containerflare-${name}`,
        K_REVISION: `containerflare-${name}-00001-abc`,
        K_CONFIGURATION: `containerflare-${name}`,
        GOOGLE_CLOUD_PROJECT: "demo-project",
        CONTAINERFLARE_LOG_FORMAT: "json",
      });
      const root = await fetch(`${app.url}/`, {
        headers: { "x-forwarded-for": "6.6.6.6, 203.0.113.9", "x-request-id": "run-1" },
      });
      expect(root.status).toBe(200);
      expect((await root.json()) as RootBody).toMatchObject({
        platform: { kind: "cloud-run", cloudRun: { service: `containerflare-${name}`, projectId: "demo-project" } },
        request: { id: "run-1", method: "GET", path: "/", clientIp: "203.0.113.9", source: "platform" },
      });

      const bindingRoutes: [string, RequestInit][] = [
        ["/kv/some-key", { method: "GET" }],
        ["/kv/some-key", { method: "PUT", body: "value" }],
        ["/visits", { method: "GET" }],
        ["/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }],
      ];
      for (const [path, init] of bindingRoutes) {
        const response = await fetch(`${app.url}${path}`, init);
        const text = await response.text();
        expect({ route: `${init.method} ${path}`, status: response.status }).toEqual({
          route: `${init.method} ${path}`,
          status: 503,
        });
        expect(response.headers.get("content-type")).toMatch(/application\/json/);
        expect(text).toContain("UNAVAILABLE");
        // The reason (no command host, set CF_CMD_ENDPOINT) is for the log, not the client.
        expect(JSON.parse(text).error).toMatchObject({ code: "UNAVAILABLE", message: "Service Unavailable" });
        expect(text).not.toContain("CF_CMD_ENDPOINT");
      }
      await checkWebSocket(app.url, "run-ws-1");
    });
  });
});

describe.each(EXAMPLES.map(({ name }) => name))("examples/%s/deploy-cloudrun.sh", (name) => {
  const script = `${ROOT}examples/${name}/deploy-cloudrun.sh`;
  const dryRun = (extra: Record<string, string> = {}) =>
    runToEnd("bash", [script], {
      cwd: ROOT,
      env: baseEnv({ DRY_RUN: "1", PROJECT: "demo-project", REGION: "europe-west1", TAG: "t1", ...extra }),
    });
  const image = `europe-west1-docker.pkg.dev/demo-project/containerflare/containerflare-${name}:t1`;

  it("builds the example's linux/amd64 image with Cloud Build and deploys it private by default", async () => {
    const { status, stdout, stderr } = await dryRun();
    expect(status, stderr).toBe(0);
    expect(stdout).toContain(
      `"--platform", "linux/amd64", "-f", "Containerfile", "--build-arg", "APP=examples/${name}/app.ts", "--build-arg", "RUNTIME=node", "-t", "${image}"`,
    );
    expect(stdout).toMatch(/^gcloud builds submit --project demo-project --region europe-west1 --config \S+ \.\s*$/m);
    const deploy = stdout.split("\n").find((line) => line.startsWith("gcloud run deploy"));
    expect(deploy).toBe(
      `gcloud run deploy containerflare-${name} --project demo-project --region europe-west1 --image ${image} --no-allow-unauthenticated --set-env-vars GOOGLE_CLOUD_PROJECT=demo-project `,
    );
  });

  it("opens the service only when asked, builds locally on request, and rejects an unknown runtime", async () => {
    const open = await dryRun({ PUBLIC: "1", LOCAL_BUILD: "1", RUNTIME: "bun" });
    expect(open.status, open.stderr).toBe(0);
    expect(open.stdout).toContain(
      `docker build --platform linux/amd64 -f Containerfile --build-arg APP=examples/${name}/app.ts --build-arg RUNTIME=bun -t ${image} .`,
    );
    expect(open.stdout).toContain(`docker push ${image}`);
    expect(open.stdout).toMatch(/--allow-unauthenticated/);
    expect(open.stdout).not.toMatch(/--no-allow-unauthenticated/);
    const wrong = await dryRun({ RUNTIME: "java" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim()).toBe("deploy-cloudrun: RUNTIME=java: expected node, bun or deno");
  });
});
