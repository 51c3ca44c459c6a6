/**
 * A minimal WebSocket client over node:net for the benchmark's load generator, written from
 * RFC 6455: the opening handshake (a 101 with the right `Sec-WebSocket-Accept`), one text message
 * masked with one random key per socket (so each socket's frame is built once and then written
 * as it is), and the server's frames: text and binary (compared with the message sent),
 * continuations, ping (answered with a pong), pong, close. Enough for an echo, not a general
 * client: no extensions, no subprotocols, nothing but loopback `ws://`.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";

/** One socket of the echo loop. */
export interface EchoSocket {
  /** Called for each message from the server, with whether it equals the message sent. */
  onEcho: (same: boolean) => void;
  /** Called once when the connection ends after the handshake. */
  onClose: () => void;
  /** Sends the message once. */
  send(): void;
  /** Sends a close frame (1000) and ends the connection. */
  close(): void;
}

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Largest frame or fragmented message accepted from a server (what it can make the client hold). */
const MAX_MESSAGE = 16 * 1024 * 1024;
/** Largest handshake answer read before giving up on it. */
const MAX_HEAD = 16 * 1024;

/** A client frame: FIN, `opcode`, the payload masked with `mask`. */
function clientFrame(opcode: number, payload: Uint8Array, mask: Uint8Array): Buffer {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.set(mask, header);
  for (let index = 0; index < length; index++) frame[header + 4 + index] = payload[index]! ^ mask[index & 3]!;
  return frame;
}

/** Opens one socket to `url` (ws://127.0.0.1:port/path) whose messages are `payload`. */
export function connectRaw(url: string, payload: string, timeoutMs: number): Promise<EchoSocket> {
  const { hostname, port, pathname, search } = new URL(url);
  const expected = Buffer.from(payload);
  const mask = randomBytes(4);
  const message = clientFrame(0x1, expected, mask);
  const key = randomBytes(16).toString("base64");
  const accept = createHash("sha1")
    .update(key + ACCEPT_GUID)
    .digest("base64");

  return new Promise((resolve, reject) => {
    const tcp = connect({ host: hostname, port: Number(port), noDelay: true });
    let buffered: Buffer = Buffer.alloc(0);
    let open = false;
    let ended = false;
    let fragments: Buffer[] = [];
    let fragmentBytes = 0;
    const socket: EchoSocket = {
      onEcho: () => {},
      onClose: () => {},
      send: () => {
        tcp.write(message);
      },
      close: () => {
        if (ended) return;
        tcp.write(clientFrame(0x8, Uint8Array.of(0x03, 0xe8), mask));
        tcp.end();
      },
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      tcp.destroy();
      if (!open) reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no WebSocket handshake within ${timeoutMs} ms`)), timeoutMs);
    tcp.on("error", fail);
    tcp.on("close", () => {
      if (!open) return fail(new Error("the connection closed during the handshake"));
      if (ended) return;
      ended = true;
      socket.onClose();
    });

    /** One whole frame from the server. */
    const handle = (opcode: number, fin: boolean, data: Buffer) => {
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
        if (opcode !== 0x0) fragments = [];
        if (fin && fragments.length === 0) return socket.onEcho(data.equals(expected));
        fragmentBytes = (opcode === 0x0 ? fragmentBytes : 0) + data.length;
        if (fragmentBytes > MAX_MESSAGE) return fail(new Error("a message from the server is too big"));
        fragments.push(Buffer.from(data));
        if (!fin) return;
        const whole = Buffer.concat(fragments);
        fragments = [];
        return socket.onEcho(whole.equals(expected));
      }
      if (opcode === 0x9) return void tcp.write(clientFrame(0xa, data, mask));
      if (opcode === 0x8) {
        // Echo the status code, then the server closes the connection.
        tcp.write(clientFrame(0x8, data.subarray(0, 2), mask));
        tcp.end();
      }
      // 0xA (pong) and anything else: nothing to do.
    };

    /** Takes every whole frame off the buffer (each pass consumes one frame). */
    const parse = () => {
      while (buffered.length >= 2) {
        const first = buffered[0]!;
        const second = buffered[1]!;
        if (second & 0x80) return fail(new Error("the server sent a masked frame"));
        let length = second & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffered.length < 10) return;
          const big = buffered.readBigUInt64BE(2);
          if (big > BigInt(MAX_MESSAGE)) return fail(new Error("a frame from the server is too big"));
          length = Number(big);
          offset = 10;
        }
        if (buffered.length < offset + length) return;
        const data = buffered.subarray(offset, offset + length);
        buffered = buffered.subarray(offset + length);
        handle(first & 0x0f, (first & 0x80) !== 0, data);
      }
    };

    tcp.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (!open) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) {
          if (buffered.length > MAX_HEAD) fail(new Error("the handshake answer is too long"));
          return;
        }
        const [status = "", ...fields] = buffered.subarray(0, end).toString("latin1").split("\r\n");
        buffered = buffered.subarray(end + 4);
        if (!/^HTTP\/1\.1 101\b/.test(status)) return fail(new Error(`the handshake was answered ${status}`));
        const answer = fields.find((field) => /^sec-websocket-accept:/i.test(field));
        if (answer?.slice(answer.indexOf(":") + 1).trim() !== accept)
          return fail(new Error("the handshake answer has no matching Sec-WebSocket-Accept"));
        open = true;
        clearTimeout(timer);
        resolve(socket);
      }
      parse();
    });

    tcp.write(
      `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}
