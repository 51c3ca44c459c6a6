/**
 * Statuses whose responses have no body (the Fetch standard's "null body status", plus 103): a
 * Response takes none, and `assets.fetch` sends none.
 */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * Whether `path` can be the path of one of serve()'s own routes (`CONTAINERFLARE_HEALTH_PATH`,
 * `CONTAINERFLARE_PUBSUB_PATH`, `CONTAINERFLARE_SCHEDULER_PATH`): `/` and RFC 3986 path
 * characters only, at most 256 (no query, fragment or spaces), since serve() compares it with the
 * request target's path as sent, byte for byte; a path outside that could never match. The Worker
 * helpers check their `healthPath` option with it too, so that both sides refuse the same values.
 */
export function isRoutePath(path: string): boolean {
  return path.length <= 256 && /^\/[\w.~!$&'()*+,;=:@%/-]*$/.test(path);
}
