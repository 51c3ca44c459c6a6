/**
 * The built-in health route (`CONTAINERFLARE_HEALTH_PATH` or serve()'s `healthPath`; off unless
 * one is given): `GET` or `HEAD` on exactly that path answers `200 {"status":"serving"}` while
 * the server serves and `503 {"status":"draining"}` once its shutdown has begun, so that a probe
 * (Cloud Run's startup and liveness probes, the Worker's readiness wait) can tell the two apart.
 *
 * It never shadows the app: the app answers first, and only the 404 it returns for that path and
 * method becomes the health answer (what it throws goes to the error part as ever). An app
 * that routes the path itself keeps it, draining or not; an app with a catch-all route that
 * answers 200 everywhere answers its probes itself.
 *
 * Cost: off, none (the part is left out of the composition). On, one comparison of the request
 * target's path with the path per request, without parsing a URL (context.ts's `requestPath`). Only a request for the path waits for the app's answer to look at it.
 *
 * Probes are logged like any other request by the access part (no option to leave them out: a
 * line per probe is what the server answered, the access log is off by default with JSON logs,
 * and a log query can drop the path).
 *
 * @module
 */
import { requestPath } from "../context.ts";
import type { Part } from "./parts.ts";

/** The JSON the health route answers: `serving` (200) or `draining` (503). */
export type HealthStatus = "serving" | "draining";

/** The health answer for `status`: small JSON, never cached. */
export function healthResponse(status: HealthStatus): Response {
  return new Response(`{"status":"${status}"}`, {
    status: status === "serving" ? 200 : 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/**
 * The health part for `path`, or undefined without one (the route is off). `draining` tells
 * whether the server's shutdown has begun. It sits inside the error part, so that its answer is
 * checked and sent like the app's, and the access part logs it.
 */
export function healthPart(path: string | undefined, draining: () => boolean): Part | undefined {
  if (path === undefined) return undefined;
  const answer = () => healthResponse(draining() ? "draining" : "serving");
  const instead = (response: Response): Response => {
    if (!(response instanceof Response) || response.status !== 404) return response;
    // The app's 404 is not sent: its body (maybe a stream) is let go.
    void response.body?.cancel().catch(() => {});
    return answer();
  };
  return (request, ctx, next) => {
    // The path as sent (query ignored, not percent-decoded), without parsing a URL.
    if (requestPath(request) !== path) return next(request, ctx);
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") return next(request, ctx);
    const result = next(request, ctx);
    return result instanceof Response ? instead(result) : Promise.resolve(result).then(instead);
  };
}
