/**
 * The shape of serve()'s request parts and how they are put together. A part has srvx's
 * middleware shape with two differences: it also receives the request's context, and it hands
 * the next step the request to go on with. srvx's `next()` takes no arguments, so a srvx
 * middleware can neither pass a changed request on (the metadata headers removed from a copy,
 * a body-limited copy) nor reach the context the error and access-log parts need (the request
 * id, the request's logger). Parts are composed once, when the server starts, into one function:
 * no closure per request and per part, which srvx's composition allocates.
 *
 * @module
 */
import type { ServerRequest } from "srvx";
import type { RequestContext } from "../context.ts";

/** One step of answering a request: the handler, or the parts from a given one on. */
export type Step = (request: ServerRequest, ctx: RequestContext) => Response | Promise<Response>;

/** A request part: answers itself, or calls `next` with the request (this one or a copy) and context. */
export type Part = (request: ServerRequest, ctx: RequestContext, next: Step) => Response | Promise<Response>;

/** `parts` in front of `last`, the first part outermost; parts that are `undefined` (turned off) are left out. */
export function composeParts(parts: readonly (Part | undefined)[], last: Step): Step {
  let step = last;
  for (let index = parts.length - 1; index >= 0; index--) {
    const part = parts[index];
    if (!part) continue;
    const next = step;
    step = (request, ctx) => part(request, ctx, next);
  }
  return step;
}
