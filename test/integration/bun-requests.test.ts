// serve()'s requests on Bun (src/bun/requests.ts): srvx's request properties come from one
// prototype per server instead of srvx's per-request definitions, and must read exactly as
// srvx's do, on a real bun process against bare srvx. With a srvx middleware srvx's own way stays.
// A srvx that adds a request property fails the first test, until requests.ts gives it too.
import { afterEach, describe, expect, it } from "vitest";
import { ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/serve/bun-requests.mjs`;
const bun = RUNTIMES.find((runtime) => runtime.name === "bun");
if (!bun) throw new Error("the bun runtime is missing from RUNTIMES");

type Answer = Record<string, unknown> & { added: Record<string, unknown>; own: string[] };

async function ask(app: RunningApp, times = 3): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let index = 0; index < times; index++) {
    const response = await fetch(`${app.url}/`, {
      headers: { "x-containerflare-metadata": '{"client_ip":"6.6.6.6"}' },
    });
    expect(response.status).toBe(200);
    answers.push((await response.json()) as Answer);
  }
  return answers;
}

describe("serve()'s requests on bun", () => {
  const apps: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });
  const start = async (env: Record<string, string>) => {
    const app = await startApp(bun, APP, env);
    apps.push(app);
    return app;
  };

  it("show srvx's properties with srvx's values, inherited instead of own", async () => {
    const [srvx, ours] = await Promise.all([start({ SERVER: "srvx" }), start({})]);
    const [theirs, mine] = await Promise.all([ask(srvx), ask(ours)]);
    for (const [index, answer] of mine.entries()) {
      const reference = theirs[index] as Answer;
      // Names, enumerability and kind of every added property, and what they read.
      expect({ ...answer, own: [], metadataSeen: false }).toEqual({ ...reference, own: [], metadataSeen: false });
      expect(reference.own.sort()).toEqual(["ip", "runtime"]);
      expect(answer.own).toEqual([]);
      expect(answer.ip).toBe("127.0.0.1");
      expect(answer.server).toBe(true);
      expect(answer.oneWaitUntil).toBe(true);
      expect(answer.metadataSeen).toBe(false);
    }
    expect(Object.keys(mine[0]?.added ?? {}).sort()).toEqual(["ip", "runtime", "waitUntil"]);
  });

  it("keep srvx's own way where a srvx middleware runs", async () => {
    const [srvx, ours] = await Promise.all([start({ SERVER: "srvx" }), start({ SERVER: "middleware" })]);
    const [theirs, mine] = await Promise.all([ask(srvx), ask(ours)]);
    for (const [index, answer] of mine.entries()) {
      expect({ ...answer, metadataSeen: false }).toEqual({ ...(theirs[index] as Answer), metadataSeen: false });
      expect(answer.own.sort()).toEqual(["ip", "runtime"]);
      expect(answer.metadataSeen).toBe(false);
    }
  });
});
