/**
 * examples/basic's `/kv/:key` routes written as a plain Worker: the reference of bench/dev.ts
 * (`GET /kv/:key` through `containerflare dev` vs the same route in Miniflare). Same answers:
 * the value as text/plain, 404 JSON when missing; `PUT` stores the body.
 */
const KV_ROUTE = /^\/kv\/([^/]+)$/;

function notFound(message) {
  return Response.json({ error: { code: "NOT_FOUND", message } }, { status: 404 });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const method = request.method;
    const kv = KV_ROUTE.exec(pathname);
    if (kv) {
      const key = decodeURIComponent(kv[1]);
      if (method === "PUT") {
        await env.CACHE.put(key, await request.text());
        return Response.json({ key, stored: true });
      }
      if (method === "GET") {
        const value = await env.CACHE.get(key);
        if (value === null) return notFound(`no value stored under ${key}`);
        return new Response(value, { headers: { "content-type": "text/plain; charset=utf-8" } });
      }
    }
    return notFound(`no route for ${method} ${pathname}`);
  },
};
