// Events on Cloud Run: a Pub/Sub push subscription and Cloud Scheduler jobs reach the app's
// queue and scheduled handlers on their configured paths, under real node, bun and deno
// processes with a Cloud Run environment; with an audience set, only requests carrying an ID
// token signed by the (local) key set get through.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTokenIssuer, type TokenIssuer } from "../fixtures/oidc.ts";
import { freePort, ROOT, RUNTIMES, type RunningApp, startApp } from "./runtimes.ts";

const APP = `${ROOT}test/fixtures/serve/cloud-run-events.mjs`;
const PUBSUB = "/_events/pubsub";
const SCHEDULER = "/_events/scheduler";
const AUDIENCE = "https://svc-abc-uc.a.run.app";
const PUSHER = "push@demo.iam.gserviceaccount.com";

async function cloudRunEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    PORT: String(await freePort()),
    K_SERVICE: "svc",
    K_REVISION: "svc-1",
    CONTAINERFLARE_LOG_FORMAT: "json",
    CONTAINERFLARE_LOG_LEVEL: "debug",
    CONTAINERFLARE_PUBSUB_PATH: PUBSUB,
    CONTAINERFLARE_SCHEDULER_PATH: SCHEDULER,
    ...extra,
  };
}

let counter = 0;
/** A push request body as Pub/Sub sends it. */
function pushBody(data: unknown, deliveryAttempt?: number): string {
  const id = String(++counter);
  const encoded = Buffer.from(data instanceof Uint8Array ? data : JSON.stringify(data)).toString("base64");
  const publishTime = "2026-12-01T10:00:00.5Z";
  return JSON.stringify({
    message: { data: encoded, attributes: {}, messageId: id, message_id: id, publishTime, publish_time: publishTime },
    subscription: "projects/demo/subscriptions/jobs",
    ...(deliveryAttempt ? { deliveryAttempt } : {}),
  });
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

describe.each(RUNTIMES)("Cloud Run events on $name", (runtime) => {
  let app: RunningApp | undefined;
  let issuer: TokenIssuer;
  beforeAll(async () => {
    issuer = await startTokenIssuer();
  });
  afterAll(() => issuer.close());
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it("delivers pushes to queue (ack 204, retry 503, throw 503) and Scheduler jobs to scheduled", async () => {
    app = await startApp(runtime, APP, await cloudRunEnv());
    const { url } = app;
    const answer = async (body: string) => {
      const response = await post(`${url}${PUBSUB}`, body, { "x-request-id": `push-${counter}` });
      return { status: response.status, text: await response.text() };
    };
    expect(await answer(pushBody({ action: "return" }))).toEqual({ status: 204, text: "" });
    expect((await answer(pushBody({ action: "ack" }))).status).toBe(204);
    const retried = await answer(pushBody({ action: "retry" }, 3));
    expect(retried.status).toBe(503);
    expect(JSON.parse(retried.text)).toMatchObject({ error: { code: "UNAVAILABLE", retryable: true } });
    const thrown = await answer(pushBody({ action: "throw" }));
    expect(thrown.status).toBe(503);
    expect(thrown.text).not.toContain("secret-detail");
    expect((await answer(pushBody({ action: "retryAll" }))).status).toBe(503);
    expect((await answer(pushBody({ action: "ack-then-throw" }))).status).toBe(204);
    expect((await answer(pushBody(new Uint8Array([0xff, 0x00, 0x80])))).status).toBe(204);

    const seen = (await (await fetch(`${url}/seen`)).json()) as Record<string, unknown>[];
    expect(seen[0]).toEqual({
      queue: "jobs",
      count: 1,
      id: expect.any(String),
      timestamp: "2026-12-01T10:00:00.500Z",
      attempts: 1,
      body: { action: "return" },
      requestId: expect.stringMatching(/^push-/),
      envIsCtxEnv: true,
    });
    expect(seen[2]).toMatchObject({ attempts: 3, body: { action: "retry" } });
    expect(seen.at(-1)).toMatchObject({ body: { bytes: [0xff, 0x00, 0x80] } });

    // The handler's error is in the log with the request id; retry's delay is logged at debug.
    await expect
      .poll(() => app!.jsonLogs().some((line) => String(line.message).includes("secret-detail-123")))
      .toBe(true);
    expect(app.jsonLogs().some((line) => String(line.message).includes("delaySeconds=10 is not honoured"))).toBe(true);
    expect(
      app.jsonLogs().filter((line) => String(line.message).includes("accept unauthenticated requests")),
    ).toHaveLength(1);

    // Cloud Scheduler: the cron from the body, else the job name; 500 on failure unless noRetry().
    const schedule = (body: string, headers: Record<string, string> = {}) =>
      post(`${url}${SCHEDULER}`, body, {
        "x-cloudscheduler": "true",
        "x-cloudscheduler-jobname": "nightly",
        "x-cloudscheduler-scheduletime": "2026-12-01T03:00:00Z",
        ...headers,
      });
    expect((await schedule('{"cron":"0 3 * * *"}')).status).toBe(200);
    expect((await schedule("")).status).toBe(200);
    const failed = await schedule('{"cron":"fail"}');
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain("secret-detail");
    expect((await schedule('{"cron":"fail-no-retry"}')).status).toBe(200);
    const crons = ((await (await fetch(`${url}/seen`)).json()) as { cron?: string; scheduledTime?: number }[]).filter(
      (entry) => entry.cron !== undefined,
    );
    expect(crons.map((entry) => entry.cron)).toEqual(["0 3 * * *", "nightly", "fail", "fail-no-retry"]);
    expect(crons[0]!.scheduledTime).toBe(Date.parse("2026-12-01T03:00:00Z"));
  });

  it("owns its paths: malformed bodies are 400, other methods 405, other paths reach the app", async () => {
    app = await startApp(runtime, APP, await cloudRunEnv());
    const { url } = app;
    const malformed = await post(`${url}${PUBSUB}`, '{"message":{}}');
    expect(malformed.status).toBe(400);
    const { error } = (await malformed.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("INVALID_PAYLOAD");
    expect(error.message).toMatch(/^invalid Pub\/Sub push: /);
    expect((await post(`${url}${PUBSUB}`, "not json")).status).toBe(400);
    expect((await post(`${url}${SCHEDULER}`, "not json")).status).toBe(400);
    const large = await post(`${url}${SCHEDULER}`, JSON.stringify({ cron: "x", pad: "p".repeat(70_000) }));
    expect(large.status).toBe(413);
    await large.body?.cancel();
    const get = await fetch(`${url}${PUBSUB}`);
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
    await get.body?.cancel();
    expect(await (await post(`${url}/_events/other`, "{}")).text()).toBe("app POST /_events/other");
    const seen = (await (await fetch(`${url}/seen`)).json()) as unknown[];
    expect(seen).toEqual([]);
  });

  it("with an audience: accepts Google-signed ID tokens, refuses others with 401", async () => {
    app = await startApp(
      runtime,
      APP,
      await cloudRunEnv({
        CONTAINERFLARE_OIDC_AUDIENCE: AUDIENCE,
        CONTAINERFLARE_OIDC_EMAILS: PUSHER,
        CONTAINERFLARE_OIDC_JWKS_URL: issuer.jwksUrl,
      }),
    );
    const { url } = app;
    const claims = { aud: AUDIENCE, email: PUSHER, email_verified: true };
    const withToken = (token: string | undefined, path = PUBSUB) =>
      post(
        `${url}${path}`,
        path === PUBSUB ? pushBody({ action: "ack" }) : "",
        token ? { authorization: `Bearer ${token}` } : {},
      );

    expect((await withToken(await issuer.sign(claims))).status).toBe(204);
    expect((await withToken(await issuer.sign(claims), SCHEDULER)).status).toBe(200);
    for (const token of [
      undefined,
      await issuer.sign({ ...claims, aud: "https://elsewhere.a.run.app" }),
      await issuer.sign({ ...claims, email: "other@demo.iam.gserviceaccount.com" }),
      await issuer.sign(claims, { key: "other" }),
    ]) {
      const refused = await withToken(token);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const { error } = (await refused.json()) as { error: { message: string } };
      expect(error.message).toBe("a valid OIDC token is required");
    }
    const seen = (await (await fetch(`${url}/seen`)).json()) as unknown[];
    expect(seen).toHaveLength(2);
    await expect
      .poll(
        () =>
          app!.jsonLogs().filter((line) => String(line.message).startsWith("refused a Pub/Sub push request:")).length,
      )
      .toBe(4);
    expect(app.jsonLogs().some((line) => String(line.message).includes("unauthenticated"))).toBe(false);
  });
});
