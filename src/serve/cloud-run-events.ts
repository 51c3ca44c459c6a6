/**
 * The Cloud Run events part: on Cloud Run no Worker forwards events, so a Pub/Sub push
 * subscription and Cloud Scheduler jobs call the service on paths of their own
 * (`CONTAINERFLARE_PUBSUB_PATH`, `CONTAINERFLARE_SCHEDULER_PATH`), which reach the app's `queue`
 * and `scheduled` handlers (src/events/cloud-run-receive.ts, loaded on the first such request).
 *
 * The paths are opt-in, so a configured path belongs to this part: every request to it (any
 * method, any headers) is answered here and never reaches the app's fetch, even when the app
 * has a route of that name. Other paths go on untouched. The part is there only when a path is
 * configured: a server without one pays nothing, one with a path pays a path compare per request.
 *
 * @module
 */
import type { ConsolaInstance } from "consola";
import type { CloudRunEventsConfig } from "../config.ts";
import { type RequestContext, requestPath } from "../context.ts";
import type { CloudRunEventKind, CloudRunReceiver } from "../events/cloud-run-receive.ts";
import type { EventHandlers } from "../events/types.ts";
import type { EventRunner } from "./events.ts";
import type { Part } from "./parts.ts";

/** Options of {@link cloudRunEventsPart}. */
export interface CloudRunEventsPartOptions {
  handlers: EventHandlers;
  settings: CloudRunEventsConfig;
  logger: ConsolaInstance;
  /** serve()'s body limit (`0`: none): the routes read at most the lower of it and their own bound. */
  maxBodyBytes: number;
  /** Wraps each handler's run; default: runs it. */
  runner?: EventRunner | undefined;
}

/**
 * The part, or `undefined` when neither path is configured. Created once per server: its
 * start-up warnings are logged here, and its receiver (with the OIDC key set cache) is shared by
 * every composition of the parts.
 */
export function cloudRunEventsPart(options: CloudRunEventsPartOptions): Part | undefined {
  const { pubsubPath, schedulerPath } = options.settings;
  if (pubsubPath === undefined && schedulerPath === undefined) return undefined;
  for (const warning of startUpWarnings(options.settings, options.handlers)) options.logger.warn(warning);
  let receiver: Promise<CloudRunReceiver> | undefined;
  const receive = (kind: CloudRunEventKind, request: Request, ctx: RequestContext) =>
    (receiver ??= import("../events/cloud-run-receive.ts").then(({ createCloudRunReceiver }) =>
      createCloudRunReceiver(options),
    )).then((answer) => answer(kind, request, ctx));
  return (request, ctx, next) => {
    const path = requestPath(request);
    if (path === pubsubPath) return receive("pubsub", request, ctx);
    if (path === schedulerPath) return receive("scheduler", request, ctx);
    return next(request, ctx);
  };
}

/** What is worth one line at start-up: routes without authentication, routes without a handler. */
export function startUpWarnings(settings: CloudRunEventsConfig, handlers: EventHandlers): string[] {
  const routes = [
    ["CONTAINERFLARE_PUBSUB_PATH", settings.pubsubPath, "queue"],
    ["CONTAINERFLARE_SCHEDULER_PATH", settings.schedulerPath, "scheduled"],
  ] as const;
  const warnings: string[] = [];
  const open = routes.filter(([, path]) => path !== undefined).map(([variable, path]) => `${variable}=${path}`);
  if (settings.oidcAudience === undefined && open.length > 0)
    warnings.push(
      `${open.join(" and ")} accept${open.length === 1 ? "s" : ""} unauthenticated requests: set CONTAINERFLARE_OIDC_AUDIENCE to require Google-signed OIDC tokens (Cloud Run's IAM invoker check may still protect the service: it verifies the tokens itself)`,
    );
  for (const [variable, path, handler] of routes) {
    if (path !== undefined && !handlers[handler])
      warnings.push(
        `${variable}=${path} is set, but the app has no ${handler} handler: requests to it are answered 404`,
      );
  }
  return warnings;
}
