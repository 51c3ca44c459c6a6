import type { ServerRequest } from "srvx";

/**
 * A new request from `request` and `init`, keeping what srvx adds (ip, runtime, context,
 * waitUntil): for parts that must change what an immutable request carries.
 */
export function copyRequest(request: ServerRequest, init: RequestInit): ServerRequest {
  const copy: ServerRequest = new Request(request, init);
  copy.ip = request.ip;
  copy.runtime = request.runtime;
  copy.context = request.context;
  copy.waitUntil = request.waitUntil;
  return copy;
}
