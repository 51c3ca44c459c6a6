// Conformance cases for `Response`, written from the Fetch standard's algorithms
// (https://fetch.spec.whatwg.org/#response-class, #concept-bodyinit-extract, #body-mixin,
// #headers-class, #dom-response-clone) and WebIDL's conversions. Plain JavaScript so that every
// runtime runs it unchanged: Node 20 and 24 (with serve()'s fast Response and without), Bun, Deno.
//
// Each case is `{ id, run, expected, deviations? }`:
// - `run(R, tools)` exercises the class under test `R` (the global Response while the runner's
//   server runs) and returns plain JSON data; a thrown or rejected error is recorded by its name.
// - `expected` is what the standard requires, as the runner records it: `{ value }` or `{ error }`.
// - `deviations` maps a runtime ("bun", "deno", "node20", "node24", "node": every Node) to what its
//   NATIVE Response does instead, where it departs from the standard. The fast path must then do
//   exactly what native Node does; the test fails if a listed deviation stops being observed.

const encoder = new TextEncoder();

/** `[name, value]` pairs of a Headers object, in its iteration order (sorted, combined). */
const entries = (headers) => [...headers];

/** The bytes of an ArrayBuffer or view as an array of numbers. */
const bytesOf = (buffer) => Array.from(buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : buffer);

/** How a call ended: `"returns"`, `"throws <Name>"` (synchronously) or `"rejects <Name>"`. */
async function settle(call) {
  let result;
  try {
    result = call();
  } catch (error) {
    return `throws ${error?.name ?? typeof error}`;
  }
  if (result && typeof result.then === "function") {
    try {
      await result;
    } catch (error) {
      return `rejects ${error?.name ?? typeof error}`;
    }
  }
  return "returns";
}

/** A stream that yields `chunks` (strings) and closes. */
function streamOf(...chunks) {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

const value = (v) => ({ value: v });
const error = (name) => ({ error: name });
/** What the runner records for a case that returned a Response instead of throwing. */
const A_RESPONSE = value("[object Response]");

/** The Response constructor and "initialize a response". */
const construction = [
  {
    id: "constructor/defaults",
    run: (R) => {
      const r = new R();
      return [r.status, r.statusText, r.ok, r.type, r.url, r.redirected, r.body, r.bodyUsed, entries(r.headers)];
    },
    expected: value([200, "", true, "default", "", false, null, false, []]),
  },
  { id: "constructor/null body and undefined init", run: (R) => new R(null, undefined).status, expected: value(200) },
  { id: "constructor/init null", run: (R) => new R("x", null).status, expected: value(200) },
  { id: "constructor/init is a function (an object)", run: (R) => new R("x", () => {}).status, expected: value(200) },
  { id: "constructor/init is a number", run: (R) => new R("x", 5), expected: error("TypeError") },
  { id: "constructor/init is a string", run: (R) => new R("x", "status"), expected: error("TypeError") },
  { id: "status/string is converted", run: (R) => new R("x", { status: "201" }).status, expected: value(201) },
  { id: "status/fraction is truncated", run: (R) => new R("x", { status: 299.99 }).status, expected: value(299) },
  {
    id: "status/unsigned short wraps modulo 2^16",
    run: (R) => new R("x", { status: 65536 + 201 }).status,
    expected: value(201),
    deviations: { bun: error("RangeError") },
  },
  {
    id: "status/negative wraps modulo 2^16",
    run: (R) => new R("x", { status: -65536 + 202 }).status,
    expected: value(202),
    deviations: { bun: error("RangeError"), node: error("RangeError") },
  },
  {
    id: "status/valueOf is used",
    run: (R) => new R(null, { status: { valueOf: () => 204 } }).status,
    expected: value(204),
  },
  {
    id: "status/Symbol cannot be converted",
    run: (R) => new R("x", { status: Symbol("s") }),
    expected: error("TypeError"),
  },
  {
    id: "status/BigInt cannot be converted",
    run: (R) => new R("x", { status: 201n }).status,
    expected: error("TypeError"),
    deviations: { node: value(201), bun: value(201) },
  },
  { id: "status/NaN becomes 0", run: (R) => new R("x", { status: Number.NaN }), expected: error("RangeError") },
  {
    id: "status/Infinity becomes 0",
    run: (R) => new R("x", { status: Number.POSITIVE_INFINITY }),
    expected: error("RangeError"),
  },
  { id: "status/null becomes 0", run: (R) => new R("x", { status: null }), expected: error("RangeError") },
  { id: "status/true becomes 1", run: (R) => new R("x", { status: true }), expected: error("RangeError") },
  { id: "status/0", run: (R) => new R("x", { status: 0 }), expected: error("RangeError") },
  {
    id: "status/101 is outside 200-599",
    run: (R) => new R(null, { status: 101 }).status,
    expected: error("RangeError"),
    deviations: { bun: value(101), deno: value(101) },
  },
  { id: "status/199", run: (R) => new R("x", { status: 199 }), expected: error("RangeError") },
  {
    id: "status/200 and 599 are the bounds",
    run: (R) => [new R("x", { status: 200 }).status, new R("x", { status: 599 }).status],
    expected: value([200, 599]),
  },
  { id: "status/600", run: (R) => new R("x", { status: 600 }), expected: error("RangeError") },
  { id: "status/1000", run: (R) => new R("x", { status: 1000 }), expected: error("RangeError") },
  {
    id: "ok/299 and 300",
    run: (R) => [new R("x", { status: 299 }).ok, new R("x", { status: 300 }).ok],
    expected: value([true, false]),
  },
  { id: "statusText/kept", run: (R) => new R("x", { statusText: "Made It" }).statusText, expected: value("Made It") },
  {
    id: "statusText/HTAB, SP and obs-text are allowed",
    run: (R) => new R("x", { statusText: "\tA é\u00ff" }).statusText,
    expected: value("\tA é\u00ff"),
  },
  {
    id: "statusText/number is converted",
    run: (R) => new R("x", { statusText: 42 }).statusText,
    expected: value("42"),
  },
  {
    id: "statusText/null is converted",
    run: (R) => new R("x", { statusText: null }).statusText,
    expected: value("null"),
    deviations: { bun: value("") },
  },
  {
    id: "statusText/LF",
    run: (R) => new R("x", { statusText: "a\nb" }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "statusText/CR",
    run: (R) => new R("x", { statusText: "a\rb" }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "statusText/NUL",
    run: (R) => new R("x", { statusText: "a\0b" }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "statusText/DEL is no VCHAR",
    run: (R) => new R("x", { statusText: "a\u007fb" }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "statusText/not a ByteString",
    run: (R) => new R("x", { statusText: "price €" }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "statusText/Symbol cannot be converted",
    run: (R) => new R("x", { statusText: Symbol("s") }),
    expected: error("TypeError"),
  },
  {
    id: "null body status/204 with a body",
    run: (R) => new R("x", { status: 204 }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "null body status/205 with an empty string body",
    run: (R) => new R("", { status: 205 }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "null body status/304 with a bytes body",
    run: (R) => new R(new Uint8Array(0), { status: 304 }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "null body status/204 with a stream body",
    run: (R) => new R(streamOf("x"), { status: 204 }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "null body status/without a body",
    run: (R) => [204, 205, 304].map((status) => [new R(null, { status }).status, new R(undefined, { status }).body]),
    expected: value([
      [204, null],
      [205, null],
      [304, null],
    ]),
  },
  {
    id: "order/the body is extracted before init is checked",
    run: (R) => {
      const stream = streamOf("x");
      stream.getReader();
      return new R(stream, { status: 0 });
    },
    expected: error("TypeError"),
    deviations: { bun: error("RangeError") },
  },
  {
    id: "order/status is checked before the headers are filled",
    run: (R) => new R("x", { status: 0, headers: { "bad name": "1" } }),
    expected: error("RangeError"),
    deviations: { bun: error("TypeError") },
  },
];

/** Filling the response's headers from init. */
const headerFill = [
  {
    id: "headers/record",
    run: (R) => entries(new R("x", { headers: { "X-B": "2", "x-a": "1" } }).headers),
    expected: value([
      ["content-type", "text/plain;charset=UTF-8"],
      ["x-a", "1"],
      ["x-b", "2"],
    ]),
    deviations: {
      bun: value([
        ["x-a", "1"],
        ["x-b", "2"],
      ]),
    },
  },
  {
    id: "headers/pairs, combined",
    run: (R) =>
      entries(
        new R(null, {
          headers: [
            ["x-a", "1"],
            ["X-A", "2"],
            ["x-b", "3"],
          ],
        }).headers,
      ),
    expected: value([
      ["x-a", "1, 2"],
      ["x-b", "3"],
    ]),
  },
  {
    id: "headers/a Headers object",
    run: (R) => entries(new R(null, { headers: new Headers({ "x-a": "1" }) }).headers),
    expected: value([["x-a", "1"]]),
  },
  {
    id: "headers/a Map (an iterable of pairs)",
    run: (R) => entries(new R(null, { headers: new Map([["x-a", "1"]]) }).headers),
    expected: value([["x-a", "1"]]),
  },
  {
    id: "headers/set-cookie values stay apart",
    run: (R) =>
      new R(null, {
        headers: [
          ["set-cookie", "a=1"],
          ["set-cookie", "b=2"],
        ],
      }).headers.getSetCookie(),
    expected: value(["a=1", "b=2"]),
  },
  {
    id: "headers/values are normalized",
    run: (R) => new R(null, { headers: { "x-a": " \t padded \t " } }).headers.get("x-a"),
    expected: value("padded"),
  },
  {
    id: "headers/numbers are converted",
    run: (R) => new R(null, { headers: { "x-a": 5 } }).headers.get("x-a"),
    expected: value("5"),
  },
  {
    id: "headers/a control character other than CR, LF, NUL is kept",
    run: (R) => new R(null, { headers: { "x-a": "a\u0001b" } }).headers.get("x-a"),
    expected: value("a\u0001b"),
  },
  {
    id: "headers/invalid name",
    run: (R) => new R("x", { headers: { "bad name": "1" } }),
    expected: error("TypeError"),
  },
  { id: "headers/empty name", run: (R) => new R("x", { headers: { "": "1" } }), expected: error("TypeError") },
  { id: "headers/LF in a value", run: (R) => new R("x", { headers: { "x-a": "a\nb" } }), expected: error("TypeError") },
  {
    id: "headers/NUL in a value",
    run: (R) => new R("x", { headers: { "x-a": "a\0b" } }),
    expected: error("TypeError"),
  },
  {
    id: "headers/value not a ByteString",
    run: (R) => new R("x", { headers: { "x-a": "€" } }),
    expected: error("TypeError"),
  },
  {
    id: "headers/pair of three",
    run: (R) => new R("x", { headers: [["x-a", "1", "2"]] }),
    expected: error("TypeError"),
  },
  { id: "headers/null", run: (R) => new R("x", { headers: null }), expected: error("TypeError") },
  { id: "headers/a number", run: (R) => new R("x", { headers: 5 }), expected: error("TypeError") },
  {
    id: "headers/the record is copied",
    run: (R) => {
      const record = { "x-a": "1" };
      const r = new R("x", { headers: record });
      record["x-a"] = "2";
      record["x-b"] = "3";
      return [r.headers.get("x-a"), r.headers.get("x-b")];
    },
    expected: value(["1", null]),
  },
  {
    id: "headers/a Headers init is copied",
    run: (R) => {
      const init = new Headers({ "x-a": "1" });
      const r = new R("x", { headers: init });
      init.set("x-a", "2");
      r.headers.set("x-b", "3");
      return [r.headers.get("x-a"), init.has("x-b"), r.headers === init];
    },
    expected: value(["1", false, false]),
  },
  {
    id: "headers/one object for the response's life",
    run: async (R) => {
      const r = new R("x");
      const early = r.headers;
      early.set("x-early", "1");
      void r.body;
      await r.text();
      return [early === r.headers, r.headers.get("x-early")];
    },
    expected: value([true, "1"]),
  },
  {
    id: "headers/the guard lets the response's headers change",
    run: (R) => {
      const r = new R("x");
      r.headers.set("x-a", "1");
      r.headers.append("x-a", "2");
      r.headers.delete("content-type");
      return entries(r.headers);
    },
    expected: value([["x-a", "1, 2"]]),
  },
  {
    // The standard's "response" guard filters Set-Cookie; server runtimes deliberately do not
    // (it is how a server sends cookies), and the fast path must not either.
    id: "headers/server runtimes keep set-cookie on responses",
    run: (R) => new R(null, { headers: { "set-cookie": "a=1" } }).headers.get("set-cookie"),
    expected: value("a=1"),
  },
];

/** "Extract a body": what each BodyInit becomes, and its Content-Type. */
const extraction = [
  {
    id: "extract/string: Content-Type in the headers at once",
    run: async (R) => {
      const r = new R("héllo");
      return [r.headers.get("content-type"), await r.text()];
    },
    expected: value(["text/plain;charset=UTF-8", "héllo"]),
    deviations: { bun: value([null, "héllo"]) },
  },
  {
    id: "extract/string: an explicit Content-Type wins",
    run: (R) => new R("x", { headers: { "Content-Type": "text/html" } }).headers.get("content-type"),
    expected: value("text/html"),
  },
  {
    id: "extract/string: lone surrogates become U+FFFD",
    run: (R) => new R("a\ud800b").text(),
    expected: value("a\ufffdb"),
    deviations: { bun: value("a\ud800b"), deno: value("a\ud800b") },
  },
  {
    id: "extract/string: UTF-8 decode drops a leading BOM",
    run: (R) => new R("\ufeffabc").text(),
    expected: value("abc"),
    deviations: { bun: value("\ufeffabc"), deno: value("\ufeffabc") },
  },
  {
    id: "extract/empty string is a body",
    run: async (R) => {
      const r = new R("");
      return [r.body !== null, await r.text()];
    },
    expected: value([true, ""]),
  },
  {
    id: "extract/number is converted to a string",
    run: async (R) => {
      const r = new R(123);
      return [r.headers.get("content-type"), await r.text()];
    },
    expected: value(["text/plain;charset=UTF-8", "123"]),
    deviations: { bun: value([null, "123"]) },
  },
  { id: "extract/object is converted to a string", run: (R) => new R({}).text(), expected: value("[object Object]") },
  { id: "extract/Symbol cannot be converted", run: (R) => new R(Symbol("s")), expected: error("TypeError") },
  {
    id: "extract/ArrayBuffer: no Content-Type, bytes copied",
    run: async (R) => {
      const buffer = new Uint8Array([1, 2, 3]).buffer;
      const r = new R(buffer);
      new Uint8Array(buffer)[0] = 9;
      return [r.headers.get("content-type"), bytesOf(await r.arrayBuffer())];
    },
    expected: value([null, [1, 2, 3]]),
  },
  {
    id: "extract/Uint8Array: bytes copied at construction",
    run: async (R) => {
      const view = new Uint8Array([1, 2, 3]);
      const r = new R(view);
      view[0] = 9;
      return bytesOf(await r.arrayBuffer());
    },
    expected: value([1, 2, 3]),
  },
  {
    id: "extract/a view is only its own range of the buffer",
    run: async (R) => {
      const buffer = new Uint8Array([0, 1, 2, 3, 4, 5]).buffer;
      const a = await new R(new Uint8Array(buffer, 2, 2)).arrayBuffer();
      const b = await new R(new DataView(buffer, 1, 3)).arrayBuffer();
      const c = await new R(new Uint16Array(buffer, 2, 1)).arrayBuffer();
      return [bytesOf(a), bytesOf(b), bytesOf(c)];
    },
    expected: value([
      [2, 3],
      [1, 2, 3],
      [2, 3],
    ]),
  },
  {
    id: "extract/a detached ArrayBuffer is an empty body",
    run: async (R) => {
      const buffer = new ArrayBuffer(4);
      structuredClone(buffer, { transfer: [buffer] });
      return bytesOf(await new R(buffer).arrayBuffer());
    },
    expected: value([]),
    deviations: { node20: error("TypeError"), deno: error("TypeError") },
  },
  {
    id: "extract/Blob: its type, read at construction",
    run: async (R) => {
      const r = new R(new Blob(["blob body"], { type: "Text/X-Blob" }));
      return [r.headers.get("content-type"), await r.text()];
    },
    expected: value(["text/x-blob", "blob body"]),
  },
  {
    id: "extract/Blob without a type: no Content-Type",
    run: (R) => new R(new Blob(["x"])).headers.get("content-type"),
    expected: value(null),
  },
  {
    id: "extract/URLSearchParams: urlencoded, snapshot at construction",
    run: async (R) => {
      const params = new URLSearchParams({ a: "1", b: "é &" });
      const r = new R(params);
      params.set("a", "changed");
      return [r.headers.get("content-type"), await r.text()];
    },
    expected: value(["application/x-www-form-urlencoded;charset=UTF-8", "a=1&b=%C3%A9+%26"]),
  },
  {
    id: "extract/FormData: multipart with a boundary, snapshot at construction",
    run: async (R) => {
      const form = new FormData();
      form.append("a", "1");
      form.append("file", new Blob(["content"], { type: "text/plain" }), "f.txt");
      const r = new R(form);
      form.set("a", "changed");
      const type = r.headers.get("content-type");
      const parsed = await r.formData();
      const file = parsed.get("file");
      return [type.startsWith("multipart/form-data; boundary="), parsed.get("a"), file.name, await file.text()];
    },
    expected: value([true, "1", "f.txt", "content"]),
  },
  {
    id: "extract/ReadableStream: no Content-Type, read through",
    run: async (R) => {
      const r = new R(streamOf("ab", "cd"));
      return [r.headers.get("content-type"), await r.text()];
    },
    expected: value([null, "abcd"]),
  },
  {
    id: "extract/a locked stream",
    run: (R) => {
      const stream = streamOf("x");
      stream.getReader();
      return new R(stream);
    },
    expected: error("TypeError"),
  },
  {
    id: "extract/a disturbed stream",
    run: async (R) => {
      const stream = streamOf("x");
      const reader = stream.getReader();
      await reader.read();
      reader.releaseLock();
      return new R(stream);
    },
    expected: error("TypeError"),
  },
  {
    id: "extract/the stream given is the body",
    run: (R) => {
      const stream = streamOf("x");
      return new R(stream).body === stream;
    },
    expected: value(true),
  },
];

/** The Body mixin: body, bodyUsed, and the consuming methods. */
const body = [
  {
    id: "body/the same stream on every read",
    run: (R) => {
      const r = new R("x");
      // biome-ignore lint/suspicious/noSelfCompare: the standard says the getter returns the same stream each time
      return [r.body === r.body, r.body instanceof ReadableStream];
    },
    expected: value([true, true]),
  },
  {
    id: "body/text() consumes",
    run: async (R) => {
      const r = new R("once");
      const before = r.bodyUsed;
      const text = await r.text();
      return [before, text, r.bodyUsed, r.body?.locked === true, await settle(() => r.text())];
    },
    expected: value([false, "once", true, true, "rejects TypeError"]),
  },
  {
    id: "body/bodyUsed: a reader alone does not disturb",
    run: async (R) => {
      const r = new R("x");
      const reader = r.body.getReader();
      const locked = r.bodyUsed;
      await reader.read();
      return [locked, r.bodyUsed, await settle(() => r.text())];
    },
    expected: value([false, true, "rejects TypeError"]),
    deviations: { bun: value([true, true, "rejects TypeError"]) },
  },
  {
    id: "body/a locked body cannot be read",
    run: async (R) => {
      const r = new R("x");
      r.body.getReader();
      return [r.bodyUsed, await settle(() => r.arrayBuffer())];
    },
    expected: value([false, "rejects TypeError"]),
    deviations: { bun: value([true, "rejects TypeError"]) },
  },
  {
    id: "body/null body reads as empty and is never used",
    run: async (R) => {
      const r = new R(null);
      return [await r.text(), (await r.arrayBuffer()).byteLength, r.bodyUsed, r.body, await settle(() => r.json())];
    },
    expected: value(["", 0, false, null, "rejects SyntaxError"]),
  },
  { id: "body/json()", run: (R) => new R('{"a":[1,"b"]}').json(), expected: value({ a: [1, "b"] }) },
  { id: "body/json() of invalid JSON", run: (R) => new R("{nope").json(), expected: error("SyntaxError") },
  {
    id: "body/json() drops a UTF-8 BOM",
    run: (R) => new R(new Uint8Array([0xef, 0xbb, 0xbf, 0x31])).json(),
    expected: value(1),
  },
  {
    id: "body/text() decodes UTF-8 with replacement",
    run: (R) => new R(new Uint8Array([0x61, 0xff, 0x62])).text(),
    expected: value("a\ufffdb"),
  },
  {
    id: "body/arrayBuffer() and bytes()",
    run: async (R) => {
      const buffer = await new R("ab").arrayBuffer();
      const bytes = await new R("ab").bytes();
      return [buffer instanceof ArrayBuffer, bytesOf(buffer), bytes instanceof Uint8Array, bytesOf(bytes)];
    },
    expected: value([true, [97, 98], true, [97, 98]]),
  },
  {
    id: "body/blob(): type from Content-Type, parsed and lowercased",
    run: async (R) => {
      const blob = await new R("x", { headers: { "content-type": "Text/Plain;Charset=UTF-8" } }).blob();
      return [blob.type, await blob.text()];
    },
    expected: value(["text/plain;charset=utf-8", "x"]),
    deviations: { bun: value(["Text/Plain;Charset=UTF-8", "x"]) },
  },
  {
    id: "body/blob(): an unparsable Content-Type gives an empty type",
    run: async (R) => (await new R("x", { headers: { "content-type": "garbage" } }).blob()).type,
    expected: value(""),
    deviations: { bun: value("garbage") },
  },
  {
    id: "body/blob(): the Content-Type at the time of the call",
    run: async (R) => {
      const a = new R("x");
      a.headers.set("content-type", "application/x-later");
      const b = new R("x");
      void b.body;
      b.headers.delete("content-type");
      return [(await a.blob()).type, (await b.blob()).type];
    },
    expected: value(["application/x-later", ""]),
    deviations: { bun: value(["application/x-later", "text/plain;charset=utf-8"]) },
  },
  {
    id: "body/formData() of an urlencoded body",
    run: async (R) => [...(await new R(new URLSearchParams("a=1&a=2&b=3")).formData())],
    expected: value([
      ["a", "1"],
      ["a", "2"],
      ["b", "3"],
    ]),
  },
  { id: "body/formData() of text/plain", run: (R) => new R("a=1").formData(), expected: error("TypeError") },
  {
    id: "body/methods work on native responses (fetch results)",
    run: async (R) => {
      const fetched = await fetch("data:text/plain,hi%20there");
      const status = Object.getOwnPropertyDescriptor(R.prototype, "status").get.call(fetched);
      return [fetched instanceof R, status, await R.prototype.text.call(fetched)];
    },
    expected: value([true, 200, "hi there"]),
  },
];

/** clone(). */
const cloning = [
  {
    id: "clone/both read the same body",
    run: async (R) => {
      const r = new R("twice", { status: 201, statusText: "Made", headers: { "x-a": "1" } });
      const copy = r.clone();
      return [
        await r.text(),
        await copy.text(),
        copy.status,
        copy.statusText,
        copy.headers.get("x-a"),
        copy instanceof R,
      ];
    },
    expected: value(["twice", "twice", 201, "Made", "1", true]),
  },
  {
    id: "clone/a stream body is teed",
    run: async (R) => {
      const r = new R(streamOf("a", "b"));
      const before = r.body;
      const copy = r.clone();
      return [before === r.body, await copy.text(), await r.text()];
    },
    expected: value([false, "ab", "ab"]),
  },
  {
    id: "clone/headers are a copy",
    run: (R) => {
      const r = new R("x");
      const copy = r.clone();
      copy.headers.set("x-only-copy", "1");
      return [r.headers.has("x-only-copy"), copy.headers.get("content-type")];
    },
    expected: value([false, "text/plain;charset=UTF-8"]),
    deviations: { bun: value([false, null]) },
  },
  {
    id: "clone/a used body cannot be cloned",
    run: async (R) => {
      const r = new R("x");
      await r.text();
      return settle(() => r.clone());
    },
    expected: value("throws TypeError"),
  },
  {
    id: "clone/a locked body cannot be cloned",
    run: (R) => {
      const r = new R("x");
      r.body.getReader();
      return settle(() => r.clone());
    },
    expected: value("throws TypeError"),
  },
  { id: "clone/null body", run: (R) => new R(null, { status: 204 }).clone().body, expected: value(null) },
];

/** Response.json(), Response.redirect(), Response.error(). */
const statics = [
  {
    id: "json/serialized with application/json",
    run: async (R) => {
      const r = R.json({ a: 1, b: [true, null] });
      return [r.status, r.headers.get("content-type"), await r.text()];
    },
    expected: value([200, "application/json", '{"a":1,"b":[true,null]}']),
    deviations: { bun: value([200, "application/json;charset=utf-8", '{"a":1,"b":[true,null]}']) },
  },
  {
    id: "json/init is applied; an explicit Content-Type wins",
    run: (R) => {
      const r = R.json("x", {
        status: 202,
        statusText: "Queued",
        headers: { "content-type": "application/vnd.api+json", "x-a": "1" },
      });
      return [r.status, r.statusText, entries(r.headers)];
    },
    expected: value([
      202,
      "Queued",
      [
        ["content-type", "application/vnd.api+json"],
        ["x-a", "1"],
      ],
    ]),
  },
  { id: "json/undefined is not JSON", run: (R) => R.json(undefined), expected: error("TypeError") },
  { id: "json/a function is not JSON", run: (R) => R.json(() => 1), expected: error("TypeError") },
  { id: "json/BigInt", run: (R) => R.json(1n), expected: error("TypeError") },
  {
    id: "json/a cycle",
    run: (R) => {
      const cyclic = {};
      cyclic.self = cyclic;
      return R.json(cyclic);
    },
    expected: error("TypeError"),
  },
  {
    id: "json/null body status",
    run: (R) => R.json(1, { status: 204 }),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  { id: "json/status out of range", run: (R) => R.json(1, { status: 0 }), expected: error("RangeError") },
  {
    id: "error/a network error with immutable headers",
    run: async (R) => {
      const r = R.error();
      return [
        r.status,
        r.statusText,
        r.type,
        r.ok,
        r.body,
        entries(r.headers),
        await settle(() => r.headers.set("x-a", "1")),
        r instanceof R,
      ];
    },
    expected: value([0, "", "error", false, null, [], "throws TypeError", true]),
    deviations: { bun: value([0, "", "error", false, null, [], "returns", true]) },
  },
  {
    id: "error/its clone keeps type and immutable headers",
    run: async (R) => {
      const copy = R.error().clone();
      return [copy.type, copy.status, await settle(() => copy.headers.set("x-a", "1"))];
    },
    expected: value(["error", 0, "throws TypeError"]),
    deviations: { bun: value(["error", 0, "returns"]) },
  },
  {
    id: "redirect/Location is the serialized URL, headers immutable",
    run: async (R) => {
      const r = R.redirect("http://example.test/a b?q=1", 301);
      return [r.status, r.headers.get("location"), r.body, r.type, await settle(() => r.headers.set("x-a", "1"))];
    },
    expected: value([301, "http://example.test/a%20b?q=1", null, "default", "throws TypeError"]),
    deviations: { bun: value([301, "http://example.test/a%20b?q=1", null, "default", "returns"]) },
  },
  {
    id: "redirect/default status 302",
    run: (R) => R.redirect(new URL("http://example.test/")).status,
    expected: value(302),
  },
  {
    id: "redirect/every redirect status",
    run: (R) => [301, 302, 303, 307, 308].map((status) => R.redirect("http://example.test/", status).status),
    expected: value([301, 302, 303, 307, 308]),
  },
  {
    id: "redirect/200 is no redirect status",
    run: (R) => R.redirect("http://example.test/", 200),
    expected: error("RangeError"),
  },
  {
    id: "redirect/a relative URL without a base",
    run: (R) => R.redirect("/relative"),
    expected: error("TypeError"),
    deviations: { bun: A_RESPONSE },
  },
  {
    id: "redirect/its clone keeps immutable headers",
    run: (R) => settle(() => R.redirect("http://example.test/", 307).clone().headers.set("x-a", "1")),
    expected: value("throws TypeError"),
    deviations: { bun: value("returns") },
  },
];

/** The interface itself: name, instanceof, members. */
const shape = [
  {
    id: "interface/name",
    run: (R) => [R.name, new R().constructor === R, new R().constructor.name],
    expected: value(["Response", true, "Response"]),
  },
  {
    id: "interface/lengths",
    run: (R) => [R.length, R.json.length, R.redirect.length, R.error.length],
    expected: value([0, 1, 1, 0]),
    deviations: { bun: value([0, 0, 0, 0]), deno: value([0, 0, 1, 0]) },
  },
  {
    id: "interface/toStringTag",
    run: (R) => Object.prototype.toString.call(new R()),
    expected: value("[object Response]"),
  },
  {
    id: "interface/instanceof for its own and native responses",
    run: async (R, { NativeResponse }) => [
      new R() instanceof R,
      new R() instanceof NativeResponse,
      (await fetch("data:,x")) instanceof R,
    ],
    expected: value([true, true, true]),
  },
  {
    id: "interface/the prototype has exactly the native members",
    run: (R, { NativeResponse }) => {
      const names = (object) => Object.getOwnPropertyNames(object).sort();
      return JSON.stringify(names(R.prototype)) === JSON.stringify(names(NativeResponse.prototype));
    },
    expected: value(true),
  },
  {
    id: "interface/enumerable members like the native ones",
    run: (R, { NativeResponse }) => {
      const keys = (object) => {
        const found = [];
        for (const key in object) found.push(key);
        return found.sort();
      };
      return JSON.stringify(keys(new R("x"))) === JSON.stringify(keys(new NativeResponse("x")));
    },
    expected: value(true),
  },
  {
    id: "interface/statics",
    run: (R) => Object.getOwnPropertyNames(R).sort(),
    expected: value(["error", "json", "length", "name", "prototype", "redirect"]),
  },
  {
    id: "interface/a subclass",
    run: async (R) => {
      class Custom extends R {
        get kind() {
          return "custom";
        }
      }
      const r = new Custom("sub", { status: 201 });
      return [r instanceof Custom, r instanceof R, new R() instanceof Custom, r.kind, r.status, await r.text()];
    },
    expected: value([true, true, false, "custom", 201, "sub"]),
  },
  {
    id: "interface/another Response's fields as init",
    run: (R) => {
      const source = new R("x", { status: 201, statusText: "Made", headers: { "x-a": "1" } });
      const r = new R("y", source);
      return [r.status, r.statusText, r.headers.get("x-a")];
    },
    expected: value([201, "Made", "1"]),
  },
];

/** Every class-level case, in order. */
export const CASES = [...construction, ...headerFill, ...extraction, ...body, ...cloning, ...statics, ...shape];

/**
 * Responses sent by serve() and read back over HTTP with fetch() (redirects not followed): the
 * same on the wire with Node's fast path on and off. `respond(R)` builds the response in the
 * handler; `expected` is what the client receives from Node. Bun and Deno send their own reason
 * phrases and Bun its own Content-Types, so only status and body are compared there. Transfer
 * framing (Content-Length or chunked) differs by design between the paths and is not compared.
 */
export const SENT_CASES = [
  {
    id: "sent/text with status, statusText and headers",
    respond: (R) => new R("hello", { status: 201, statusText: "Made", headers: { "x-a": "1" } }),
    expected: {
      status: 201,
      statusText: "Made",
      contentType: "text/plain;charset=UTF-8",
      headers: { "x-a": "1" },
      body: "hello",
    },
  },
  {
    id: "sent/json",
    respond: (R) => R.json({ ok: true }),
    expected: { status: 200, statusText: "", contentType: "application/json", headers: {}, body: '{"ok":true}' },
  },
  {
    id: "sent/bytes copied at construction",
    respond: (R) => {
      const bytes = new Uint8Array([104, 105]);
      const r = new R(bytes, { headers: { "content-type": "application/octet-stream" } });
      bytes[0] = 72;
      return r;
    },
    expected: { status: 200, statusText: "", contentType: "application/octet-stream", headers: {}, body: "hi" },
  },
  {
    id: "sent/a header set through an early reference after the body was read",
    respond: async (R) => {
      const r = new R("x");
      const headers = r.headers;
      await r.clone().text();
      void r.body;
      headers.set("x-late", "yes");
      return r;
    },
    expected: {
      status: 200,
      statusText: "",
      contentType: "text/plain;charset=UTF-8",
      headers: { "x-late": "yes" },
      body: "x",
    },
  },
  {
    id: "sent/204 without a body",
    respond: (R) =>
      new R(null, {
        status: 204,
        headers: [
          ["set-cookie", "a=1"],
          ["set-cookie", "b=2"],
        ],
      }),
    expected: { status: 204, statusText: "", contentType: null, headers: { "set-cookie": "a=1, b=2" }, body: "" },
  },
  {
    id: "sent/URLSearchParams",
    respond: (R) => new R(new URLSearchParams("a=1&b=2")),
    expected: {
      status: 200,
      statusText: "",
      contentType: "application/x-www-form-urlencoded;charset=UTF-8",
      headers: {},
      body: "a=1&b=2",
    },
  },
  {
    id: "sent/Blob",
    respond: (R) => new R(new Blob(["blob"], { type: "text/x-blob" })),
    expected: { status: 200, statusText: "", contentType: "text/x-blob", headers: {}, body: "blob" },
  },
  {
    id: "sent/stream",
    respond: (R) => new R(streamOf("a", "b", "c"), { headers: { "content-type": "text/plain" } }),
    expected: { status: 200, statusText: "", contentType: "text/plain", headers: {}, body: "abc" },
  },
  {
    id: "sent/redirect",
    respond: (R) => R.redirect("http://example.test/next", 307),
    expected: {
      status: 307,
      statusText: "",
      contentType: null,
      headers: { location: "http://example.test/next" },
      body: "",
    },
  },
];
