/** Baseline: raw `node:http`, no Fetch API objects at all. */
import { createServer } from "node:http";
import process from "node:process";

const body = "Hello, world!";
createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain;charset=UTF-8", "content-length": body.length });
  res.end(body);
}).listen(Number(process.env.PORT), "127.0.0.1");
