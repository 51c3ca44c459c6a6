import type { ServerRequest } from "srvx";
import { describe, expect, it } from "vitest";
import { buildRequestMetadata, isIpAddress, lastForwardedFor } from "../../src/context.ts";
import type { PlatformInfo } from "../../src/platform.ts";

function request(url: string, headers: Record<string, string> = {}, ip = "10.0.0.9"): ServerRequest {
  const req = new Request(url, { headers }) as ServerRequest;
  req.ip = ip;
  return req;
}

const cloudRun: PlatformInfo = { kind: "cloud-run", cloudRun: { resource: "service", service: "api" } };
const cloudflare: PlatformInfo = { kind: "cloudflare", cloudflare: {} };
const generic: PlatformInfo = { kind: "generic" };

describe("client IP rules", () => {
  it("takes the rightmost X-Forwarded-For hop on Cloud Run, so a client-sent prefix cannot spoof it", () => {
    const req = request("http://svc/x", { "x-forwarded-for": "6.6.6.6, 203.0.113.7" });
    expect(buildRequestMetadata(req, cloudRun, undefined)).toMatchObject({
      clientIp: "203.0.113.7",
      source: "platform",
    });
    expect(lastForwardedFor("1.1.1.1,not-an-ip")).toBeUndefined();
    expect(lastForwardedFor("2001:db8::1")).toBe("2001:db8::1");
    expect(lastForwardedFor(null)).toBeUndefined();
  });

  it("never trusts forwarding headers on a generic host", () => {
    const req = request("http://svc/x", { "x-forwarded-for": "6.6.6.6", "cf-connecting-ip": "7.7.7.7" });
    expect(buildRequestMetadata(req, generic, undefined)).toMatchObject({ clientIp: "10.0.0.9", source: "http" });
  });

  it("uses cf-connecting-ip on Cloudflare, and the trusted Worker header above everything", () => {
    const req = request("http://svc/x", { "cf-connecting-ip": "198.51.100.4" });
    expect(buildRequestMetadata(req, cloudflare, undefined)).toMatchObject({
      clientIp: "198.51.100.4",
      source: "platform",
    });
    const fromWorker = buildRequestMetadata(req, cloudflare, {
      client_ip: "192.0.2.1",
      request_id: "abc",
      colo: "FRA",
    });
    expect(fromWorker).toMatchObject({ clientIp: "192.0.2.1", id: "abc", colo: "FRA", source: "worker" });
  });

  it("with a secret on Cloudflare: only the signed metadata names the client, never cf-connecting-ip", () => {
    const rules = { cloudflareHeader: false, forwardedHops: 1 };
    const req = request("http://svc/x", { "cf-connecting-ip": "6.6.6.6" });
    expect(buildRequestMetadata(req, cloudflare, undefined, rules)).toMatchObject({
      clientIp: "10.0.0.9",
      source: "http",
    });
    expect(buildRequestMetadata(req, cloudflare, { client_ip: "192.0.2.1" }, rules)).toMatchObject({
      clientIp: "192.0.2.1",
      source: "worker",
    });
  });

  it("behind N trusted proxies on Cloud Run: the entry N places from the right, never one further left", () => {
    const rules = { cloudflareHeader: true, forwardedHops: 2 };
    const req = request("http://svc/x", { "x-forwarded-for": "6.6.6.6, 203.0.113.7, 130.211.0.1" });
    expect(buildRequestMetadata(req, cloudRun, undefined, rules)).toMatchObject({
      clientIp: "203.0.113.7",
      source: "platform",
    });
    expect(lastForwardedFor("203.0.113.7", 2)).toBeUndefined();
    expect(lastForwardedFor("6.6.6.6, 203.0.113.7", 1)).toBe("203.0.113.7");
  });

  it("falls back to the socket peer when the platform header is missing or malformed", () => {
    expect(buildRequestMetadata(request("http://svc/"), cloudRun, undefined).clientIp).toBe("10.0.0.9");
    expect(
      buildRequestMetadata(request("http://svc/", { "cf-connecting-ip": "evil" }), cloudflare, undefined).clientIp,
    ).toBe("10.0.0.9");
  });
});

describe("isIpAddress", () => {
  it.each([
    "127.0.0.1",
    "203.0.113.7",
    "255.255.255.255",
    "0.0.0.0",
    "::1",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "fe80::1:2:3:4",
  ])("accepts %s", (value) => expect(isIpAddress(value)).toBe(true));
  it.each([
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.4 ",
    "example.com",
    ":::",
    "2001:db8::g",
    "[::1]",
    "fe80::1%eth0",
    "1::2::3",
  ])("rejects %j", (value) => expect(isIpAddress(value)).toBe(false));
});

describe("request metadata", () => {
  it("takes the request id from metadata, then x-request-id, else generates one", () => {
    expect(buildRequestMetadata(request("http://svc/", { "x-request-id": "abc-123" }), generic, undefined).id).toBe(
      "abc-123",
    );
    const generated = buildRequestMetadata(
      request("http://svc/", { "x-request-id": "bad id\twith spaces" }),
      generic,
      undefined,
    ).id;
    expect(generated).toMatch(/^[\da-f-]{36}$/);
  });

  it("reports method, path, url and trace", () => {
    const meta = buildRequestMetadata(
      request("http://svc/a/b?q=1", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
      generic,
      undefined,
    );
    expect(meta).toMatchObject({
      method: "GET",
      path: "/a/b",
      url: "http://svc/a/b?q=1",
      trace: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true },
    });
  });

  it("reports what the Worker saw for method, path and url", () => {
    const meta = buildRequestMetadata(request("http://container/a"), cloudflare, {
      method: "POST",
      path: "/public/a",
      raw_url: "https://example.com/public/a?x",
      city: "Zürich",
      worker_name: "edge",
    });
    expect(meta).toMatchObject({
      method: "POST",
      path: "/public/a",
      url: "https://example.com/public/a?x",
      city: "Zürich",
      workerName: "edge",
    });
  });
});
