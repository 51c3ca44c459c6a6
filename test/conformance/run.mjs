// Runs the conformance cases (cases.mjs) while a containerflare serve() runs, and prints one JSON
// line: { runtime, mode, responseName, results: { [id]: { value } | { error } }, sent: { [id]: … } }.
//
//   node test/conformance/run.mjs fast     serve() with its fast Response (the default on Node)
//   node test/conformance/run.mjs native   serve(app, { fastResponse: false })
//   bun run test/conformance/run.mjs       Bun and Deno always use their native Response
//
// Each case runs with the global Response as serve() left it, exactly what an app sees.
import { serve } from "containerflare";
import { CASES, SENT_CASES } from "./cases.mjs";

const mode = process.argv[2] === "native" ? "native" : "fast";
const runtime = globalThis.Bun ? "bun" : globalThis.Deno ? "deno" : `node${process.versions.node.split(".")[0]}`;
// Keeps each case's time bounded: a case that hangs is recorded as such, the run goes on.
const CASE_TIMEOUT_MS = 5_000;

/** The runtime's own Response: the root of the global's constructor chain. */
function nativeResponseOf(current) {
  let candidate = current;
  for (
    let parent = Object.getPrototypeOf(candidate);
    typeof parent === "function" && parent.prototype;
    parent = Object.getPrototypeOf(parent)
  ) {
    candidate = parent;
  }
  return candidate;
}

/** Plain data as it is; BigInts and Symbols described; other objects as `[object Tag]` (a Response that did not throw). */
function plain(value) {
  if (typeof value === "bigint" || typeof value === "symbol") return `${typeof value} ${String(value)}`;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(plain);
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return Object.prototype.toString.call(value);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
}

function withTimeout(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("case timed out"), { name: "Timeout" })), CASE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runCase(testCase, tools) {
  try {
    const value = await withTimeout(Promise.resolve().then(() => testCase.run(globalThis.Response, tools)));
    return { value: plain(value) };
  } catch (error) {
    return { error: error?.name ?? typeof error };
  }
}

const server = serve(
  async (request) => {
    const index = Number(new URL(request.url).pathname.slice(1));
    const sent = SENT_CASES[index];
    return sent ? sent.respond(globalThis.Response) : new Response("no such case", { status: 404 });
  },
  { port: 0, hostname: "127.0.0.1", manageProcess: false, fastResponse: mode === "fast", config: { logLevel: -999 } },
);
await server.ready();

const tools = { NativeResponse: nativeResponseOf(globalThis.Response) };
const results = {};
for (const testCase of CASES) results[testCase.id] = await runCase(testCase, tools);

const base = server.url.replace(/\/$/, "");
const sent = {};
for (const [index, testCase] of SENT_CASES.entries()) {
  try {
    const response = await withTimeout(fetch(`${base}/${index}`, { redirect: "manual" }));
    const headers = {};
    for (const name of Object.keys(testCase.expected.headers)) headers[name] = response.headers.get(name);
    sent[testCase.id] = {
      status: response.status,
      statusText: response.statusText,
      contentType: response.headers.get("content-type"),
      headers,
      body: await response.text(),
    };
  } catch (error) {
    sent[testCase.id] = { error: error?.name ?? typeof error };
  }
}

const responseName = globalThis.Response.name;
await server.close(true);
process.stdout.write(`${JSON.stringify({ runtime, mode, responseName, results, sent })}\n`);
process.exit(0);
