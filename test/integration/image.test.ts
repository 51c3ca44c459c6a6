// The top-level Containerfile, built for real with buildah (vfs storage, chroot isolation) on local
// stand-in base images, then run with the image's own user, working directory, env and CMD:
// the same image must answer as a Cloud Run service on PORT and as a Cloudflare container on
// CF_CONTAINER_PORT, and exit 0 on SIGTERM.
//
// The build context is a minimal user project (what docs/deploy.md describes): package.json and
// package-lock.json, the app, and the Containerfile and .containerignore copied verbatim. Its
// containerflare dependency is this checkout, packed and served as a tarball URL on 127.0.0.1
// (standing in for the registry; the build shares the host network). The build stage therefore
// really runs `npm ci` (the other dependencies come from the npm registry) and
// `npx containerflare build`. Building this repository itself as the context
// would install every devDependency (node, bun, deno and workerd binaries: ~600 MB) into vfs
// layers for each run, minutes of I/O that would test npm rather than the Containerfile.
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BIN,
  baseEnv,
  basicApp,
  freePort,
  platformKind,
  ROOT,
  requireBuiltCli,
  runToEnd,
  type Spawned,
  spawnProcess,
  terminate,
  waitForHttp,
} from "../fixtures/cli/harness.ts";

const RUNTIMES = ["node", "bun", "deno"] as const;
type Runtime = (typeof RUNTIMES)[number];
const IMAGE_STEP_MS = 5 * 60_000;

/** Why buildah cannot build images here, or undefined when it can. */
function buildahUnavailable(): string | undefined {
  for (const tool of ["buildah", "busybox"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (apt-get install buildah busybox-static)`;
  }
  const probe = mkdtempSync(join(tmpdir(), "cf-buildah-probe-"));
  try {
    const options = ["--root", join(probe, "root"), "--runroot", join(probe, "run"), "--storage-driver", "vfs"];
    const from = spawnSync("buildah", [...options, "from", "--pull-never", "scratch"], { encoding: "utf8" });
    if (from.status !== 0)
      return `buildah cannot create a container: ${(from.stderr || from.error?.message || "").trim().split("\n")[0]}`;
    spawnSync("buildah", [...options, "rm", "--all"]);
    return undefined;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const unavailable = buildahUnavailable();
if (unavailable) console.warn(`image tests skipped: ${unavailable}`);

let work: string;
let storage: string[];
let tarballServer: { url: string; close(): Promise<void> } | undefined;
const images = {} as Record<Runtime, string>;
const timings: string[] = [];

function buildah(args: string[], timeoutMs = IMAGE_STEP_MS): string {
  return execFileSync("buildah", [...storage, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function timed<T>(label: string, step: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await step();
  timings.push(`${label} ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Serves the files of `directory` on 127.0.0.1 (the packed containerflare tarball). */
async function serveFiles(directory: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const file = join(directory, basename(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)));
    if (!existsSync(file)) return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The user project the image is built from (see the header comment). */
async function createContext(directory: string, packages: string): Promise<void> {
  mkdirSync(directory);
  mkdirSync(packages);
  const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packages], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const tarball = (JSON.parse(packed) as { filename: string }[])[0]!.filename;
  tarballServer = await serveFiles(packages);
  const dependencies = { containerflare: `${tarballServer.url}/${basename(tarball)}` };
  writeFileSync(
    join(directory, "package.json"),
    `${JSON.stringify({ name: "image-fixture", private: true, type: "module", dependencies }, null, 2)}\n`,
  );
  const locked = await runToEnd(
    "npm",
    ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
    {
      cwd: directory,
      env: { ...process.env } as Record<string, string>,
      timeoutMs: 180_000,
    },
  );
  if (locked.status !== 0) throw new Error(`npm install --package-lock-only failed: ${locked.stderr}`);
  copyFileSync(basicApp(), join(directory, "app.ts"));
  copyFileSync(join(ROOT, "Containerfile"), join(directory, "Containerfile"));
  copyFileSync(join(ROOT, ".containerignore"), join(directory, ".containerignore"));
  // Must never reach the image: the .containerignore keeps secrets out of the context.
  writeFileSync(join(directory, ".env"), "CONTAINERFLARE_SECRET=do-not-bake-me\n");
}

async function buildImage(runtime: Runtime, context: string): Promise<string> {
  const tag = `localhost/cf-image-test-${runtime}`;
  // Asynchronous: npm ci inside the build fetches the tarball from this process's file server.
  const built = await runToEnd(
    "buildah",
    [
      ...storage,
      "bud",
      "--isolation",
      "chroot",
      "--pull-never",
      // Reuse the build stage (npm ci, bundle) across the three runtime images.
      "--layers",
      "--build-arg",
      `RUNTIME=${runtime}`,
      "--build-arg",
      "APP=app.ts",
      "--build-arg",
      "NODE_IMAGE=localhost/cf-standin-node",
      "--build-arg",
      "BUN_IMAGE=localhost/cf-standin-bun",
      "--build-arg",
      "DENO_IMAGE=localhost/cf-standin-deno",
      "-f",
      join(context, "Containerfile"),
      "-t",
      tag,
      context,
    ],
    { cwd: work, env: { ...process.env } as Record<string, string>, timeoutMs: IMAGE_STEP_MS },
  );
  if (built.status !== 0)
    throw new Error(
      `buildah bud for RUNTIME=${runtime} failed (${built.status}):\n${built.stderr.slice(-4000)}\n${built.stdout.slice(-4000)}`,
    );
  return tag;
}

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
}

function imageConfig(image: string): ImageConfig {
  return (JSON.parse(buildah(["inspect", "--type", "image", image])) as { OCIv1: { config: ImageConfig } }).OCIv1
    .config;
}

/** Pids of all processes below `pid`, with their argv. */
function descendants(pid: number): { pid: number; argv: string[] }[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited while we looked.
    }
  }
  const found: { pid: number; argv: string[] }[] = [];
  const queue = [...(parents.get(pid) ?? [])];
  while (queue.length > 0) {
    const child = queue.shift()!;
    try {
      found.push({ pid: child, argv: readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").filter(Boolean) });
    } catch {
      continue;
    }
    queue.push(...(parents.get(child) ?? []));
  }
  return found;
}

/**
 * Runs the image's own command (Entrypoint + Cmd) in a fresh container with the image's user,
 * working directory and env, plus `env`. `buildah run` shares the host network under chroot
 * isolation, so the app is reachable on 127.0.0.1.
 */
function runImage(
  image: string,
  env: Record<string, string>,
): { server: Spawned; runtimePid: () => Promise<number>; cleanup: () => void } {
  const config = imageConfig(image);
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  const container = buildah(["from", "--pull-never", image]).trim();
  const envArgs = Object.entries({ CF_CONTAINER_ADDR: "127.0.0.1", ...env }).flatMap(([key, value]) => [
    "--env",
    `${key}=${value}`,
  ]);
  const server = spawnProcess(
    "buildah",
    [...storage, "run", "--isolation", "chroot", ...envArgs, container, "--", ...command],
    {
      cwd: work,
      env: baseEnv(),
    },
  );
  return {
    server,
    // A container runtime signals the container's PID 1, which is the image's CMD: find that process.
    async runtimePid() {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const match = descendants(server.child.pid!).find(
          ({ argv }) => argv[0] && basename(argv[0]) === basename(command[0]!),
        );
        if (match) return match.pid;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no ${command[0]} process under buildah run`);
    },
    cleanup() {
      buildah(["rm", container]);
    },
  };
}

describe.skipIf(unavailable !== undefined)("the Containerfile, built with buildah", () => {
  beforeAll(async () => {
    requireBuiltCli();
    work = mkdtempSync(join(tmpdir(), "cf-image-"));
    storage = ["--root", join(work, "storage"), "--runroot", join(work, "run"), "--storage-driver", "vfs"];
    const standinEnv = { ...process.env, BUILDAH_OPTS: storage.join(" ") };
    const binaries: Record<Runtime, string> = { node: `${BIN}/node`, bun: `${BIN}/bun`, deno: `${BIN}/deno` };
    await timed("stand-in bases", () => {
      for (const runtime of RUNTIMES) {
        execFileSync(
          join(ROOT, "test/fixtures/image/standin.sh"),
          [runtime, `localhost/cf-standin-${runtime}`, binaries[runtime]],
          {
            env: standinEnv,
            stdio: ["ignore", "ignore", "pipe"],
            timeout: IMAGE_STEP_MS,
          },
        );
      }
    });
    const context = join(work, "context");
    await timed("context (npm pack + lock)", () => createContext(context, join(work, "packages")));
    for (const runtime of RUNTIMES)
      images[runtime] = await timed(`image ${runtime}`, () => buildImage(runtime, context));
  }, 20 * 60_000);

  afterAll(async () => {
    console.log(`image test timings: ${timings.join(", ")}`);
    await tarballServer?.close();
    if (!work) return;
    try {
      buildah(["rm", "--all"]);
      buildah(["rmi", "--all", "--force"]);
    } catch (error) {
      console.warn(`buildah cleanup: ${(error as Error).message.split("\n")[0]}`);
    }
    // vfs layers are plain directories; never delete through a mount that is still in place.
    const mounts = readFileSync("/proc/mounts", "utf8");
    if (mounts.includes(work)) console.warn(`left ${work} in place: something is still mounted below it`);
    else rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  describe.each(RUNTIMES)("RUNTIME=%s", (runtime) => {
    it("runs as a non-root numeric user with an exec-form CMD, exposes 8787, bakes in no secret", () => {
      const config = imageConfig(images[runtime]);
      expect(config.User).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(config.Entrypoint ?? []).toEqual([]);
      expect(config.Cmd?.[0]).toBe(runtime);
      expect(config.Cmd?.at(-1)).toBe("/app/server.mjs");
      expect(config.WorkingDir).toBe("/app");
      expect(Object.keys(config.ExposedPorts ?? {})).toEqual(["8787/tcp"]);
      expect((config.Env ?? []).join("\n")).not.toMatch(/SECRET|do-not-bake-me/);
    });

    it("holds the runtime and the bundle only", () => {
      const container = buildah(["from", "--pull-never", images[runtime]]).trim();
      try {
        const root = buildah(["mount", container]).trim();
        expect(readdirSync(join(root, "app"))).toEqual(["server.mjs"]);
        expect(existsSync(join(root, "src"))).toBe(false);
        expect(existsSync(join(root, ".env"))).toBe(false);
        expect(readFileSync(join(root, "app", "server.mjs"), "utf8")).not.toContain("do-not-bake-me");
        buildah(["umount", container]);
      } finally {
        buildah(["rm", container]);
      }
    });

    it("on Cloud Run: reports cloud-run, answers on PORT, exits 0 on SIGTERM", async () => {
      const port = await freePort();
      const run = runImage(images[runtime], { PORT: String(port), K_SERVICE: "shop", K_REVISION: "shop-00001-abc" });
      try {
        const { response, ms } = await waitForHttp(`http://127.0.0.1:${port}/`, run.server, 60_000);
        timings.push(`${runtime} image first response ${Math.round(ms)} ms`);
        expect(platformKind(await response.json())).toBe("cloud-run");
        expect(await terminate(run.server, await run.runtimePid()), run.server.stderr.join("\n")).toBe(0);
      } finally {
        await run.server.kill();
        run.cleanup();
      }
    });

    it("on Cloudflare: reports cloudflare, answers on CF_CONTAINER_PORT, exits 0 on SIGTERM", async () => {
      const port = await freePort();
      const run = runImage(images[runtime], {
        CF_CONTAINER_PORT: String(port),
        CLOUDFLARE_APPLICATION_ID: "app-0123",
        CLOUDFLARE_DURABLE_OBJECT_ID: "do-4567",
        CLOUDFLARE_LOCATION: "fra06",
      });
      try {
        const { response } = await waitForHttp(`http://127.0.0.1:${port}/`, run.server, 60_000);
        expect(platformKind(await response.json())).toBe("cloudflare");
        expect(await terminate(run.server, await run.runtimePid()), run.server.stderr.join("\n")).toBe(0);
      } finally {
        await run.server.kill();
        run.cleanup();
      }
    });
  });
});
