/**
 * lrp's HTTP/1.1 server under attack and picky clients: smuggling shapes in
 * chunked bodies, pipelined bytes after a closing answer, timeouts racing
 * with requests, and the framing of answers to HTTP/1.0 clients. The server
 * runs with a handler each test writes, on a real socket.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HttpConnections, type ServerLimits } from "../../lib/run/http_server.ts";
import type { IncomingRequest } from "../../lib/wire/request.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** lrp's server on 127.0.0.1 with `handler`; refusals answer `{ error }` with their status. */
function serve(
  handler: (request: IncomingRequest) => Promise<Response> | Response,
  limits: ServerLimits = { headerTimeoutMs: 5000, idleTimeoutMs: 5000 },
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refused: string[] = [];
  const server = new HttpConnections({
    handler: async (request) => await handler(request),
    onError: () => new Response("handler failed", { status: 500 }),
    refuse: (err) => {
      refused.push(err.code);
      return Response.json({ error: err.code, message: err.message }, { status: err.status });
    },
    limits,
  });
  const accepting = (async () => {
    for await (const conn of listener) server.serve(conn);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    refused,
    server,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await server.shutdown();
    },
  };
}

/** What the server sends until it closes (or resets: the text so far, then `<reset>`). */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n), { stream: true });
    }
  } catch {
    text += "<reset>";
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}

Deno.test("a closing answer reaches a client that keeps pipelining: the close lingers instead of resetting", async () => {
  const size = 400_000;
  await using lrp = serve(async () => {
    await sleep(20);
    return new Response("x".repeat(size));
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
  await conn.write(te.encode("GET /a HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n"));
  // More requests after the last one: a pipelining client that has not seen the answer yet.
  const more = te.encode("GET /b HTTP/1.1\r\nHost: h.test\r\n\r\n".repeat(100));
  const sending = (async () => {
    for (let i = 0; i < 20; i++) {
      await conn.write(more);
      await sleep(5);
    }
  })().catch(() => {});
  // The answer is not read at once: unread bytes are still in lrp's send buffer when it is done.
  await sleep(300);
  const text = await readToEnd(conn);
  await sending;
  assert.doesNotMatch(text, /<reset>/);
  assert.equal(text.length - text.indexOf("\r\n\r\n") - 4, size);
});
