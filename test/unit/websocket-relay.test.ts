/**
 * The Durable Object's WebSocket relay (src/worker/websocket-relay.ts) with stand-in sockets: what
 * workerd does is tested through containerflare dev (test/integration/dev-websocket.test.ts);
 * here, which close codes travel and that every message in either direction is activity.
 */
import { afterEach, describe, expect, it } from "vitest";
import { relayWebSocket, sendableCloseCode } from "../../src/worker/websocket-relay.ts";

type Listener = (event: never) => void;

/** A socket that records what it is told and lets the test fire its events. */
class FakeSocket {
  sent: unknown[] = [];
  closedWith: unknown[][] = [];
  accepted = false;
  listeners = new Map<string, Listener[]>();
  accept() {
    this.accepted = true;
  }
  send(data: unknown) {
    this.sent.push(data);
  }
  close(...args: unknown[]) {
    this.closedWith.push(args);
  }
  addEventListener(type: string, listener: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  fire(type: string, event: unknown) {
    for (const listener of this.listeners.get(type) ?? []) listener(event as never);
  }
}

const pairs: FakeSocket[][] = [];
const globals = globalThis as { WebSocketPair?: unknown };

afterEach(() => {
  delete globals.WebSocketPair;
  pairs.length = 0;
});

function install(): void {
  globals.WebSocketPair = class {
    0 = new FakeSocket();
    1 = new FakeSocket();
    constructor() {
      pairs.push([this[0], this[1]]);
    }
  };
}

/** A 101 as workerd gives it: Node's Response refuses status 101, so its fields are set by hand. */
function upgraded(upstream: FakeSocket): Response {
  const response = new Response(null, { headers: { "sec-websocket-protocol": "chat" } });
  Object.defineProperty(response, "status", { value: 101 });
  Object.defineProperty(response, "webSocket", { value: upstream });
  return response;
}

describe("relayWebSocket", () => {
  it("returns a response that is no upgrade, or one outside workerd, untouched", () => {
    const plain = new Response("hi");
    expect(relayWebSocket(plain, () => {})).toBe(plain);
    const upgrade = upgraded(new FakeSocket());
    expect(relayWebSocket(upgrade, () => {})).toBe(upgrade);
  });

  it("copies messages both ways, counts each as activity, and passes closes on as far as they can be sent", () => {
    install();
    const upstream = new FakeSocket();
    let activity = 0;
    // Node's Response cannot be a 101 either: the relay's answer is caught where it is built.
    const response = upgraded(upstream);
    const built: ResponseInit[] = [];
    const NativeResponse = globalThis.Response;
    globalThis.Response = class extends NativeResponse {
      constructor(body: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
        built.push(init ?? {});
        super(body, { headers: init?.headers });
      }
    } as typeof Response;
    try {
      relayWebSocket(response, () => activity++);
    } finally {
      globalThis.Response = NativeResponse;
    }
    const [client, server] = pairs[0] as [FakeSocket, FakeSocket];
    expect(built[0]).toMatchObject({ status: 101, webSocket: client });
    expect(new Headers(built[0]?.headers).get("sec-websocket-protocol")).toBe("chat");
    expect(upstream.accepted && server.accepted).toBe(true);

    upstream.fire("message", { data: "from the app" });
    server.fire("message", { data: new ArrayBuffer(3) });
    expect(server.sent).toEqual(["from the app"]);
    expect(upstream.sent).toEqual([new ArrayBuffer(3)]);
    expect(activity).toBe(2);

    upstream.fire("close", { code: 1001, reason: "server shutting down" });
    expect(server.closedWith).toEqual([[1001, "server shutting down"]]);
    server.fire("close", { code: 1006, reason: "" });
    expect(upstream.closedWith).toEqual([[]]);
    server.fire("error", {});
    expect(upstream.closedWith[1]).toEqual([1011, "the other side of the relay failed"]);
  });

  it("sends on only the close codes a frame may carry (RFC 6455 7.4)", () => {
    for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]) expect(sendableCloseCode(code)).toBe(true);
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) expect(sendableCloseCode(code)).toBe(false);
  });
});
