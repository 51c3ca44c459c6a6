/**
 * The Node fast path's `Response`: a class that behaves like the runtime's own `Response` wherever
 * the Fetch standard defines how a Response behaves, and that srvx's Node adapter sends without a
 * Web-stream round trip when its body is a string or bytes.
 *
 * How it stays both fast and exact:
 * - The constructor validates like the standard asks (WebIDL conversions, status range, reason
 *   phrase, header names and values, null-body statuses) with a few cheap checks. Whenever one of
 *   them fails it lets the native constructor run on the same arguments, so the error thrown is the
 *   native one, in the native order; should the native constructor accept what the checks refused,
 *   the native response is adopted whole (native behaviour either way).
 * - A string, BufferSource or URLSearchParams body is kept as a string or a private copy of the
 *   bytes ("extract a body" copies and snapshots at construction). Every other body (streams, Blob,
 *   FormData, async iterables, objects converted to strings) is extracted by a native Response at
 *   construction, which then owns it.
 * - The headers are one native `Headers` object for the response's whole life. Without
 *   `init.headers` it is created on first read with the implicit Content-Type already in it, so a
 *   response whose headers nobody reads never builds one.
 * - Everything that needs the body as a Web stream (`body`, `bodyUsed` after a read, `text()`,
 *   `clone()`, …) hands the snapshot to a native Response once and delegates to it, so stream,
 *   locking and "disturbed" semantics are the native ones.
 * - `Response.error()` and `Response.redirect()` wrap the native result, keeping its immutable
 *   headers; their clones do too.
 * - Called on a native response (a `fetch()` result), every prototype member delegates to the
 *   native one, and `instanceof` accepts native responses.
 *
 * The one addition is `_toNodeResponse()`, the method srvx's Node adapter looks for to send a
 * response directly. It sits on a prototype of its own between this class's and the native one,
 * so `Object.getOwnPropertyNames(Response.prototype)` lists exactly the native members.
 *
 * @module
 */
import { NULL_BODY_STATUSES } from "../internal/http.ts";

/** Where srvx remembers the runtime's own Response class; reading it means both agree on it. */
const NATIVE_RESPONSE_KEY = Symbol.for("srvx.nativeResponse");

/**
 * The runtime's own Response class: srvx's remembered one, else the root of the current global's
 * constructor chain (the global may already be a subclass such as srvx's or Hono's wrapper).
 */
function findNativeResponse(): typeof Response {
  const remembered = (globalThis as unknown as Record<symbol, unknown>)[NATIVE_RESPONSE_KEY];
  if (typeof remembered === "function") return remembered as typeof Response;
  let candidate: object = globalThis.Response;
  for (
    let parent = Object.getPrototypeOf(candidate);
    typeof parent === "function" && parent.prototype;
    parent = Object.getPrototypeOf(parent)
  ) {
    candidate = parent as object;
  }
  return candidate as typeof Response;
}

const NativeResponse = findNativeResponse();
const NativeHeaders = globalThis.Headers;
const nativePrototype = NativeResponse.prototype;

type BodyInit = ConstructorParameters<typeof Response>[0];
type HeadersInit = ConstructorParameters<typeof Headers>[0];
type ResponseType = Response["type"];

/** What "extract a body" sets as Content-Type for each body kind this class keeps itself. */
const TEXT_TYPE = "text/plain;charset=UTF-8";
const FORM_URLENCODED_TYPE = "application/x-www-form-urlencoded;charset=UTF-8";
const JSON_TYPE = "application/json";

/** Characters outside the reason-phrase production (HTAB, SP, VCHAR, obs-text) or above U+00FF. */
const INVALID_REASON_PHRASE = /[^\t\x20-\x7E\x80-\xFF]/;

/** The constructor's private protocol for `Response.json()`, which extracts a JSON string. */
const JSON_BODY = Symbol("containerflare.jsonBody");
interface JsonBody {
  text: string;
  data: unknown;
  init: unknown;
}

/** What srvx's Node adapter reads from `_toNodeResponse()`: headers as a flat name/value list. */
export interface NodeResponseParts {
  status: number;
  statusText: string;
  headers: string[];
  body: string | Uint8Array | ReadableStream<Uint8Array> | null;
}

/** What the send check needs to know about a fast response without touching its lazy parts. */
export interface FastResponseState {
  status: number;
  /** The headers, or undefined while only the implicit Content-Type exists (always sendable). */
  headers: Headers | undefined;
  /** Whether the body was read, is locked, or was already sent once. */
  bodyUnusable: boolean;
  /** Whether the body is a stream the Node adapter reads chunk by chunk (its failures come late). */
  streamed: boolean;
}

/**
 * `init.status` as the native constructor converts it (WebIDL `unsigned short`, with whatever
 * liberties the runtime takes: Node accepts BigInts), for a status that is not a plain integer;
 * undefined when the native conversion or range check throws.
 */
function convertStatus(value: unknown): number | undefined {
  try {
    return new NativeResponse(null, { status: value as number }).status;
  } catch {
    return undefined;
  }
}

/** USVString conversion: lone surrogates become U+FFFD. */
function toUSVString(value: string): string {
  const text = value as string & { isWellFormed(): boolean; toWellFormed(): string };
  return text.isWellFormed() ? value : text.toWellFormed();
}

/** A private copy of the bytes of a view; throws for a detached buffer. */
function copyView(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

/**
 * Characters no runtime sends in a header value: controls other than HTAB (a Headers object
 * already refuses NUL, CR and LF, and characters above U+00FF). Node's HTTP server throws on them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const UNSENDABLE_HEADER_VALUE = /[\x00-\x08\x0A-\x1F\x7F]/;

/** A header name: an HTTP token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A header value that "normalize" leaves as it is and every HTTP stack accepts: no leading or
 * trailing whitespace, no control characters, nothing above U+00FF.
 */
const CLEAN_HEADER_VALUE = /^(?:[\x21-\x7E\x80-\xFF](?:[\t\x20-\x7E\x80-\xFF]*[\x21-\x7E\x80-\xFF])?)?$/;

/** One name/value pair of a header list, validated and lowercased; false when it needs the native path. */
function pushHeader(list: string[], name: unknown, value: unknown): boolean {
  if (
    typeof name !== "string" ||
    typeof value !== "string" ||
    !HEADER_NAME.test(name) ||
    !CLEAN_HEADER_VALUE.test(value)
  )
    return false;
  list.push(name.toLowerCase(), value);
  return true;
}

/**
 * `init.headers` as a flat lowercase name/value list when it is a plain record or an array of
 * pairs of strings that need no normalization (what apps and frameworks pass); undefined for
 * anything else (a Headers object, an iterable, numbers, whitespace to trim, an invalid name…),
 * which the native Headers constructor then converts, validates or rejects. The list is a copy,
 * as filling headers is: later changes to the record do not reach the response.
 */
function plainHeaderList(init: unknown): string[] | undefined {
  if (typeof init !== "object" || init === null) return undefined;
  const list: string[] = [];
  if (Array.isArray(init)) {
    for (const pair of init as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || !pushHeader(list, pair[0], pair[1])) return undefined;
    }
    return list;
  }
  const prototype = Object.getPrototypeOf(init);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  // WebIDL reads a record's own enumerable keys and rejects Symbol ones: leave those to it.
  if (Object.getOwnPropertySymbols(init).length > 0) return undefined;
  for (const name of Object.keys(init)) {
    if (!pushHeader(list, name, (init as Record<string, unknown>)[name])) return undefined;
  }
  return list;
}

/** Sets or removes `headers`' Content-Type so that it equals `value`. */
function setContentType(headers: Headers, value: string | null): void {
  if (value === null) headers.delete("content-type");
  else if (headers.get("content-type") !== value) headers.set("content-type", value);
}

/** A getter or method of the native prototype, to delegate to when `this` is a native response. */
function nativeMember(name: string): (...args: unknown[]) => unknown {
  const descriptor = Object.getOwnPropertyDescriptor(nativePrototype, name);
  const member = descriptor?.get ?? descriptor?.value;
  if (typeof member !== "function") return () => undefined;
  return member as (...args: unknown[]) => unknown;
}

const native = {
  status: nativeMember("status"),
  statusText: nativeMember("statusText"),
  ok: nativeMember("ok"),
  headers: nativeMember("headers"),
  type: nativeMember("type"),
  url: nativeMember("url"),
  redirected: nativeMember("redirected"),
  body: nativeMember("body"),
  bodyUsed: nativeMember("bodyUsed"),
  arrayBuffer: nativeMember("arrayBuffer"),
  blob: nativeMember("blob"),
  bytes: nativeMember("bytes"),
  formData: nativeMember("formData"),
  json: nativeMember("json"),
  text: nativeMember("text"),
  clone: nativeMember("clone"),
};

/** Reads a fast response's send state; set by the class's static block (private fields need it). */
let readState: (value: unknown) => FastResponseState | undefined = () => undefined;

/**
 * The parts srvx's Node adapter sends of a fast response, marking a string or bytes body sent;
 * with `sendableOnly`, undefined instead when a header value has a control character. Set by the
 * class's static block.
 */
let toNodeParts: (response: NodeFastResponse, sendableOnly: boolean) => NodeResponseParts | undefined;

/** The parts of a fast response that keeps its body (or has none) and can be sent; set by the static block. */
let takeParts: (value: unknown) => NodeResponseParts | undefined = () => undefined;

class NodeFastResponse {
  #status = 200;
  #statusText = "";
  #headers: Headers | undefined;
  /**
   * `init.headers` given as a plain record or pair list whose names and values need no
   * normalization: kept as a flat lowercase name/value list until someone reads the headers.
   */
  #headerList: readonly string[] | undefined;
  /** The implicit Content-Type that goes into the headers when they are created on first read. */
  #contentType: string | null = null;
  /** The body while this class keeps it: a string or a private copy of the bytes. */
  #snapshot: string | Uint8Array | null = null;
  /** A native Response that owns the body once a member needed the Web stream (or from the start). */
  #holder: Response | undefined;
  /** The holder is the whole response (Response.error(), Response.redirect(), or an adopted one). */
  #whole = false;
  /** The Node adapter has sent the snapshot: the body now reads as consumed, as a native one would. */
  #sent = false;

  constructor(body: unknown = null, init?: unknown) {
    if (body === JSON_BODY) {
      const json = init as JsonBody;
      this.#snapshot = json.text;
      if (!this.#initialize(json.init, JSON_TYPE))
        this.#adopt(NativeResponse.json(json.data, json.init as ResponseInit));
      return;
    }
    // The standard extracts the body before it reads init; so does this.
    const type = this.#extract(body);
    if (!this.#initialize(init, type)) this.#adopt(new NativeResponse(body as BodyInit, init as ResponseInit));
  }

  /** Keeps a string, BufferSource or URLSearchParams body; lets a native Response extract others. */
  #extract(body: unknown): string | null {
    if (body === null || body === undefined) return null;
    if (typeof body === "string") {
      this.#snapshot = toUSVString(body);
      return TEXT_TYPE;
    }
    try {
      if (ArrayBuffer.isView(body)) {
        if (body.buffer instanceof ArrayBuffer) {
          this.#snapshot = copyView(body);
          return null;
        }
      } else if (body instanceof ArrayBuffer) {
        this.#snapshot = new Uint8Array(body.slice(0));
        return null;
      } else if (body instanceof URLSearchParams) {
        this.#snapshot = body.toString();
        return FORM_URLENCODED_TYPE;
      }
    } catch {
      // A detached buffer: whatever the native constructor does with it is the behaviour to keep.
    }
    this.#snapshot = null;
    const holder = new NativeResponse(body as BodyInit);
    this.#holder = holder;
    return holder.headers.get("content-type");
  }

  /**
   * "Initialize a response": converts and checks init, fills the headers, refuses a body with a
   * null-body status, adds the implicit Content-Type. Returns false when a check fails (the
   * caller then lets the native constructor throw its own error).
   */
  #initialize(init: unknown, type: string | null): boolean {
    let status = 200;
    let statusText = "";
    let headersInit: unknown;
    if (init !== undefined && init !== null) {
      if (typeof init !== "object" && typeof init !== "function") return false;
      try {
        const source = init as { status?: unknown; statusText?: unknown; headers?: unknown };
        const rawStatus = source.status;
        if (rawStatus !== undefined) {
          const converted =
            typeof rawStatus === "number" && Number.isInteger(rawStatus) ? rawStatus : convertStatus(rawStatus);
          if (converted === undefined) return false;
          status = converted;
        }
        const rawText = source.statusText;
        if (rawText !== undefined) statusText = typeof rawText === "string" ? rawText : `${rawText as string}`;
        headersInit = source.headers;
      } catch {
        return false;
      }
    }
    if (status < 200 || status > 599 || (statusText !== "" && INVALID_REASON_PHRASE.test(statusText))) return false;
    if (headersInit !== undefined) {
      const list = plainHeaderList(headersInit);
      if (list) this.#headerList = list;
      else {
        try {
          this.#headers = new NativeHeaders(headersInit as HeadersInit);
        } catch {
          return false;
        }
      }
    }
    if ((this.#snapshot !== null || this.#holder) && NULL_BODY_STATUSES.has(status)) return false;
    this.#status = status;
    this.#statusText = statusText;
    if (type !== null) {
      if (this.#headers) {
        if (!this.#headers.has("content-type")) this.#headers.append("content-type", type);
      } else if (!this.#headerList?.includes("content-type")) {
        this.#contentType = type;
      }
    }
    return true;
  }

  /** Becomes a wrapper of `response`, a native Response: its status, headers and body. */
  #adopt(response: Response): void {
    this.#holder = response;
    this.#whole = true;
    this.#headers = response.headers;
    this.#status = response.status;
    this.#statusText = response.statusText;
    this.#headerList = undefined;
    this.#snapshot = null;
    this.#contentType = null;
  }

  /** The native Response that owns the body, made from the snapshot on first need. */
  #hold(): Response {
    if (this.#holder) return this.#holder;
    const holder = new NativeResponse(this.#snapshot);
    // Sent once already: a native body would have been read to its end by the adapter.
    if (this.#sent) void holder.arrayBuffer().catch(() => {});
    this.#snapshot = null;
    return (this.#holder = holder);
  }

  /** The holder, with the Content-Type of this response's headers (blob() and formData() read it). */
  #holdWithContentType(): Response {
    const holder = this.#hold();
    if (!this.#whole) setContentType(holder.headers, this.headers.get("content-type"));
    return holder;
  }

  static #is(value: unknown): value is NodeFastResponse {
    return typeof value === "object" && value !== null && #status in value;
  }

  // `this` on purpose: a subclass (srvx's, Hono's wrapper) is asked about its own instances.
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: see above.
    if (this === NodeFastResponse) return value instanceof NativeResponse;
    // biome-ignore lint/complexity/noThisInStatic: see above.
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /** A network error (status 0, type "error", immutable headers), as the native one. */
  static error(): Response {
    return NodeFastResponse.#wrap(NativeResponse.error());
  }

  /** A redirect to `url` with immutable headers; the native method validates url and status. */
  static redirect(url: string | URL, ...rest: [status?: Parameters<typeof Response.redirect>[1]]): Response {
    return NodeFastResponse.#wrap(NativeResponse.redirect(url, ...rest));
  }

  /** A JSON response: `data` serialized, Content-Type `application/json` unless init sets one. */
  static json(data: unknown, ...rest: [init?: ResponseInit]): Response {
    const text = JSON.stringify(data) as string | undefined;
    if (text === undefined) return NativeResponse.json(data, ...rest);
    return new NodeFastResponse(JSON_BODY, { text, data, init: rest[0] } satisfies JsonBody) as unknown as Response;
  }

  static #wrap(response: Response): Response {
    const wrapper = new NodeFastResponse();
    wrapper.#adopt(response);
    return wrapper as unknown as Response;
  }

  get status(): number {
    return NodeFastResponse.#is(this) ? this.#status : (native.status.call(this) as number);
  }

  get statusText(): string {
    return NodeFastResponse.#is(this) ? this.#statusText : (native.statusText.call(this) as string);
  }

  get ok(): boolean {
    if (!NodeFastResponse.#is(this)) return native.ok.call(this) as boolean;
    return this.#status >= 200 && this.#status <= 299;
  }

  get headers(): Headers {
    if (!NodeFastResponse.#is(this)) return native.headers.call(this) as Headers;
    if (this.#headers) return this.#headers;
    const headers = new NativeHeaders();
    const list = this.#headerList;
    if (list) for (let index = 0; index < list.length; index += 2) headers.append(list[index]!, list[index + 1]!);
    if (this.#contentType !== null) headers.append("content-type", this.#contentType);
    this.#headerList = undefined;
    this.#contentType = null;
    return (this.#headers = headers);
  }

  get type(): ResponseType {
    if (!NodeFastResponse.#is(this)) return native.type.call(this) as ResponseType;
    return this.#whole && this.#holder ? this.#holder.type : "default";
  }

  get url(): string {
    if (!NodeFastResponse.#is(this)) return native.url.call(this) as string;
    return this.#whole && this.#holder ? this.#holder.url : "";
  }

  get redirected(): boolean {
    if (!NodeFastResponse.#is(this)) return native.redirected.call(this) as boolean;
    return this.#whole && this.#holder ? this.#holder.redirected : false;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (!NodeFastResponse.#is(this)) return native.body.call(this) as ReadableStream<Uint8Array> | null;
    if (this.#holder) return this.#holder.body as ReadableStream<Uint8Array> | null;
    return this.#snapshot === null ? null : (this.#hold().body as ReadableStream<Uint8Array> | null);
  }

  get bodyUsed(): boolean {
    if (!NodeFastResponse.#is(this)) return native.bodyUsed.call(this) as boolean;
    if (this.#holder) return this.#holder.bodyUsed;
    return this.#sent && this.#snapshot !== null;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (!NodeFastResponse.#is(this)) return native.arrayBuffer.call(this) as Promise<ArrayBuffer>;
    return this.#hold().arrayBuffer();
  }

  bytes(): Promise<Uint8Array> {
    if (!NodeFastResponse.#is(this)) return native.bytes.call(this) as Promise<Uint8Array>;
    return (this.#hold() as Response & { bytes(): Promise<Uint8Array> }).bytes();
  }

  text(): Promise<string> {
    if (!NodeFastResponse.#is(this)) return native.text.call(this) as Promise<string>;
    return this.#hold().text();
  }

  json(): Promise<unknown> {
    if (!NodeFastResponse.#is(this)) return native.json.call(this) as Promise<unknown>;
    return this.#hold().json();
  }

  blob(): Promise<Blob> {
    if (!NodeFastResponse.#is(this)) return native.blob.call(this) as Promise<Blob>;
    return this.#holdWithContentType().blob();
  }

  formData(): Promise<FormData> {
    if (!NodeFastResponse.#is(this)) return native.formData.call(this) as Promise<FormData>;
    return this.#holdWithContentType().formData();
  }

  /** A copy with its own headers; a streamed body is teed (the native clone's own algorithm). */
  clone(): Response {
    if (!NodeFastResponse.#is(this)) return native.clone.call(this) as Response;
    if (this.#whole && this.#holder) return NodeFastResponse.#wrap(this.#holder.clone());
    // Cloning a sent or read body throws the native TypeError; a held one is teed natively.
    const body = this.#holder || this.#sent ? this.#hold().clone() : undefined;
    const copy = new NodeFastResponse();
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#headers = this.#headers ? new NativeHeaders(this.#headers) : undefined;
    copy.#headerList = this.#headerList;
    copy.#contentType = this.#contentType;
    if (body) copy.#holder = body;
    else copy.#snapshot = this.#snapshot;
    return copy as unknown as Response;
  }

  static {
    readState = (value) => {
      if (!NodeFastResponse.#is(value)) return undefined;
      const holder = value.#holder;
      const stream = holder?.body ?? null;
      return {
        status: value.#status,
        headers: value.#headers,
        bodyUnusable: holder ? holder.bodyUsed || Boolean(stream?.locked) : value.#sent && value.#snapshot !== null,
        streamed: stream !== null,
      };
    };
    takeParts = (value) => {
      // A held body is a stream (or the response a native one), and a body sent once is used up:
      // those are the general path's (node/send.ts), which also says why one cannot be sent.
      if (!NodeFastResponse.#is(value) || value.#holder || (value.#sent && value.#snapshot !== null)) return undefined;
      return toNodeParts(value, true);
    };
    toNodeParts = (response, sendableOnly) => {
      // Sent once already (serve() sends string and bytes bodies itself, see node/send.ts): the
      // adapter's own pass then finds nothing left to write.
      if (response.#sent)
        return { status: response.#status, statusText: response.#statusText, headers: [], body: null };
      let headers: string[];
      let hasLength = false;
      if (response.#headers) {
        headers = [];
        for (const [name, value] of response.#headers) {
          // A header list from init was checked when it was filled; a Headers object allows controls.
          if (sendableOnly && UNSENDABLE_HEADER_VALUE.test(value)) return undefined;
          headers.push(name, value);
          if (name === "content-length") hasLength = true;
        }
      } else {
        const list = response.#headerList;
        headers = list ? list.slice() : [];
        hasLength = list ? list.includes("content-length") : false;
        if (response.#contentType !== null) headers.push("content-type", response.#contentType);
      }
      let body: NodeResponseParts["body"] = null;
      const snapshot = response.#snapshot;
      if (response.#holder) {
        body = response.#holder.body as ReadableStream<Uint8Array> | null;
      } else if (snapshot !== null && !response.#sent) {
        body = snapshot;
        if (!hasLength)
          headers.push(
            "content-length",
            String(typeof snapshot === "string" ? Buffer.byteLength(snapshot) : snapshot.byteLength),
          );
        response.#sent = true;
      }
      return { status: response.#status, statusText: response.#statusText, headers, body };
    };
  }
}

/**
 * The prototype srvx's Node adapter finds `_toNodeResponse` on: between this class's prototype
 * and the native one, so the class's own members are exactly the native ones.
 */
const sendPrototype = Object.create(nativePrototype, {
  _toNodeResponse: {
    value: function _toNodeResponse(this: NodeFastResponse): NodeResponseParts {
      return toNodeParts(this, false) as NodeResponseParts;
    },
    writable: true,
    configurable: true,
  },
}) as object;

Object.setPrototypeOf(NodeFastResponse.prototype, sendPrototype);
Object.setPrototypeOf(NodeFastResponse, NativeResponse);
// The native interface's attributes and operations are enumerable (WebIDL); class members are not.
for (const key of Reflect.ownKeys(NodeFastResponse.prototype)) {
  const nativeDescriptor = Object.getOwnPropertyDescriptor(nativePrototype, key);
  const ownDescriptor = Object.getOwnPropertyDescriptor(NodeFastResponse.prototype, key);
  if (key !== "constructor" && nativeDescriptor && ownDescriptor) {
    Object.defineProperty(NodeFastResponse.prototype, key, {
      ...ownDescriptor,
      enumerable: nativeDescriptor.enumerable ?? false,
    });
  }
}
for (const key of ["error", "json", "redirect"] as const) {
  const nativeDescriptor = Object.getOwnPropertyDescriptor(NativeResponse, key);
  const ownDescriptor = Object.getOwnPropertyDescriptor(NodeFastResponse, key);
  if (nativeDescriptor && ownDescriptor)
    Object.defineProperty(NodeFastResponse, key, {
      ...ownDescriptor,
      enumerable: nativeDescriptor.enumerable ?? false,
    });
}
// "Response", like the native class: the class is named after what it stands in for.
Object.defineProperty(NodeFastResponse, "name", { value: NativeResponse.name });

/**
 * The fast `Response` class serve() installs as the global `Response` on Node (see the module
 * docs for what it keeps and how).
 */
export const FastResponse = NodeFastResponse as unknown as typeof Response;

/** The runtime's own `Response` class (the one `FastResponse` stands in for). */
export const NativeResponseClass: typeof Response = NativeResponse;

/**
 * The send state of a fast response, or undefined for any other value (native responses among
 * them). Reads nothing lazy: a response whose headers were never read stays without them.
 */
export function fastResponseState(value: unknown): FastResponseState | undefined {
  return readState(value);
}

/**
 * The status, flat header list and body of a fast response whose body is a string, bytes or
 * nothing, marking it sent (its body then reads as consumed, as after srvx's own send); undefined
 * for a streamed body, a body already sent or read, a header value with a control character, or
 * any other value (native responses among them).
 */
export function takeUnstreamedParts(value: unknown): NodeResponseParts | undefined {
  return takeParts(value);
}
