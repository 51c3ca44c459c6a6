/**
 * Whether a browser sent a request: what the command routes (the Worker's command host, dev's
 * instance routes) check before anything else, since a web page on the developer's machine can
 * reach loopback ports. Web APIs only, no imports: dev's container stand-in bundles it too.
 *
 * @module
 */

/**
 * Whether a browser sent the request: browsers add `Origin` to every POST and `Sec-Fetch-Site`
 * (with `-Dest`, `-Mode`) to every request, and a page cannot remove them. The one exception
 * allowed: Node's fetch (undici) adds `Sec-Fetch-Mode: cors` alone to every request it sends.
 */
export function isBrowserRequest(headers: Headers): boolean {
  if (headers.has("origin")) return true;
  for (const [name, value] of headers) {
    if (name.startsWith("sec-fetch-") && !(name === "sec-fetch-mode" && value === "cors")) return true;
  }
  return false;
}
