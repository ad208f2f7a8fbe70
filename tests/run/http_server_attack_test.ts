/**
 * lrp's HTTP/1.1 server under attack and picky clients: smuggling shapes in
 * chunked bodies, pipelined bytes after a closing answer, timeouts racing
 * with requests, and the framing of answers to HTTP/1.0 clients. The server
 * runs with a handler each test writes, on a real socket.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HttpConnections, parseRequest, type ServerLimits } from "../../lib/run/http_server.ts";
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

/** Sends `bytes` (a latin1 string: one character per byte) and reads until the server closes. */
async function exchange(port: number, bytes: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(Uint8Array.from(bytes, (c) => c.charCodeAt(0)));
  return await readToEnd(conn);
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

/** The status codes of the responses in `text`, in order. */
function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
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

/** A handler that answers the request body it read, or 400 when reading it failed. */
async function echoBody(request: IncomingRequest): Promise<Response> {
  try {
    return new Response(`${request.url} ${JSON.stringify(await new Response(request.body).text())}`);
  } catch (err) {
    return new Response((err as Error).message, { status: 400, headers: { connection: "close" } });
  }
}

Deno.test("chunk size lines, chunk extensions and trailers are read as RFC 9112 writes them, nothing more lenient", async () => {
  await using lrp = serve(echoBody);
  const head = "POST /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const next = "GET /smuggled HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n";
  const accepted = [
    "5\r\nhello\r\n0\r\n\r\n",
    "5;a=b\r\nhello\r\n0\r\n\r\n",
    '5 ; a = "q;x"\r\nhello\r\n0;z\r\n\r\n',
    "5\t\r\nhello\r\n0\r\n\r\n",
    "000000000000000005\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello\r\n0\r\nX-Trailer: v\r\nY: \xe9\r\n\r\n",
  ];
  // Each is read differently by some other HTTP implementation: refused, and the rest of the
  // connection (whatever it is to the other reader) is never read as a request.
  const refused = [
    " 5\r\nhello\r\n0\r\n\r\n",
    "\x0b5\r\nhello\r\n0\r\n\r\n",
    "5\xa0\r\nhello\r\n0\r\n\r\n",
    "5\x0c\r\nhello\r\n0\r\n\r\n",
    "+5\r\nhello\r\n0\r\n\r\n",
    "0x5\r\nhello\r\n0\r\n\r\n",
    "5;a\nb\r\nhello\r\n0\r\n\r\n",
    "5;a\rb\r\nhello\r\n0\r\n\r\n",
    "5;a\x00\r\nhello\r\n0\r\n\r\n",
    "5\nhello\r\n0\r\n\r\n",
    "5\r\nhello\r\n0\n\r\n",
    "5\r\nhello\n0\r\n\r\n",
    "5\r\nhello\r\n0\r\nX: a\nb\r\n\r\n",
    "5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",
    "5\r\nhello\r\n0\r\nno colon\r\n\r\n",
    "5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
    "5\r\nhello\r\n0\r\nGET /x HTTP/1.1\r\n\r\n",
    "10000000000000\r\nhello\r\n0\r\n\r\n",
  ];
  const cases = [
    ...accepted.map((body) => ({ body, ok: true })),
    ...refused.map((body) => ({ body, ok: false })),
  ];
  for (const { body, ok } of cases) {
    const text = await exchange(lrp.port, head + body + next);
    assert.deepEqual(statuses(text), ok ? [200, 200] : [400], JSON.stringify(body));
    if (ok) assert.match(text, /http:\/\/h\.test\/c "hello"/, JSON.stringify(body));
    else assert.doesNotMatch(text, /smuggled/);
  }
});

Deno.test("chunk extensions and trailers count against a cap: a body cannot grow without end outside its chunks", async () => {
  await using lrp = serve(echoBody);
  const head = "POST /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const ext = `1;${"e".repeat(4000)}\r\nx\r\n`.repeat(40);
  const extText = await exchange(lrp.port, `${head}${ext}0\r\n\r\n`);
  assert.deepEqual(statuses(extText), [400]);
  const trailers = `X-T: ${"t".repeat(4000)}\r\n`.repeat(40);
  const trailerText = await exchange(lrp.port, `${head}1\r\nx\r\n0\r\n${trailers}\r\n`);
  assert.deepEqual(statuses(trailerText), [400]);
});

Deno.test("a chunk size line over 4 KiB is refused even when it arrives in one piece with its chunk", async () => {
  await using lrp = serve(echoBody);
  const head = "POST /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const text = await exchange(lrp.port, `${head}1;${"e".repeat(6000)}\r\nx\r\n0\r\n\r\n`);
  assert.deepEqual(statuses(text), [400]);
});

/** A connection whose reads and writes a test scripts. */
class ScriptedConn {
  readonly written: string[] = [];
  closed = false;
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  readonly localAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 2 };
  #reads: ((p: Uint8Array) => Promise<number | null>)[];
  #onWrite: (() => void) | undefined;

  constructor(reads: ((p: Uint8Array) => Promise<number | null>)[], onWrite?: () => void) {
    this.#reads = reads;
    this.#onWrite = onWrite;
  }
  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    const next = this.#reads.shift();
    return next ? next(p) : new Promise(() => {});
  }
  async write(p: Uint8Array): Promise<number> {
    this.#onWrite?.();
    await sleep(50);
    if (this.closed) throw new Deno.errors.BadResource("closed");
    this.written.push(td.decode(p));
    return p.length;
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close() {
    this.closed = true;
  }
}

/** A read that fills `p` with `text`. */
const bytes = (text: string) => (p: Uint8Array) => {
  p.set(te.encode(text));
  return Promise.resolve(text.length);
};

Deno.test("a head completed while its 408 header_timeout is being written is never handled", async () => {
  let handled = 0;
  const server = new HttpConnections({
    handler: () => {
      handled++;
      return Promise.resolve(new Response("handled"));
    },
    onError: () => new Response("handler failed", { status: 500 }),
    refuse: (err) => Response.json({ error: err.code }, { status: err.status }),
    limits: { headerTimeoutMs: 40, idleTimeoutMs: 5000 },
  });
  // The rest of the head arrives just as the 408 starts going out.
  const rest = Promise.withResolvers<void>();
  const conn = new ScriptedConn([
    bytes("GET / HTTP/1.1\r\nHost: h.test\r\n"),
    async (p) => {
      await rest.promise;
      return bytes("\r\n")(p);
    },
  ], () => rest.resolve());
  server.serve(conn as unknown as Deno.Conn);
  await sleep(300);
  await server.shutdown();
  assert.equal(handled, 0);
  assert.deepEqual(conn.written.map(statuses), [[408]]);
  assert.equal(conn.closed, true);
});

Deno.test("empty lines before a request line are ignored (RFC 9112 §2.2), as after a body some clients send one", async () => {
  await using lrp = serve(echoBody);
  const text = await exchange(
    lrp.port,
    "POST /a HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\n\r\nab\r\n" +
      "\r\n\r\nGET /b HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [200, 200]);
  assert.match(text, /http:\/\/h\.test\/b ""$/);
});

Deno.test("a head with a bare LF is refused at once, not left to wait for a CRLF CRLF until header_timeout", async () => {
  await using lrp = serve(echoBody, { headerTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
  for (const head of ["GET / HTTP/1.1\nHost: h.test\n\n", "GET / HTTP/1.1\r\nHost: h.test\nX: y\r\n\r\n"]) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
    await conn.write(te.encode(head));
    const started = performance.now();
    assert.deepEqual(statuses(await readToEnd(conn)), [400], JSON.stringify(head));
    assert.ok(performance.now() - started < 5000);
  }
  assert.deepEqual(lrp.refused, ["bad_request", "bad_request"]);
});

Deno.test("a live stream to an HTTP/1.0 keep-alive client ends with the connection, and its head says close", async () => {
  await using lrp = serve(() => {
    let n = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          await sleep(10);
          if (n++ < 3) controller.enqueue(te.encode(`c${n}`));
          else controller.close();
        },
      }),
    );
  });
  const text = await exchange(lrp.port, "GET / HTTP/1.0\r\nHost: h.test\r\nConnection: keep-alive\r\n\r\n");
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\nconnection: close\r\n/);
  assert.doesNotMatch(text, /keep-alive|transfer-encoding/);
  assert.ok(text.endsWith("\r\n\r\nc1c2c3"));
});

Deno.test("a request target is a path, an absolute URI, * for OPTIONS or an authority for CONNECT; nothing else", () => {
  const host: [string, string][] = [["host", "h.test"]];
  const allowed = [["GET", "/a?b"], ["GET", "http://h.test/a"], ["OPTIONS", "*"], ["CONNECT", "h.test:443"]];
  for (const [method, target] of allowed) {
    assert.doesNotThrow(() => parseRequest(`${method} ${target} HTTP/1.1`, host), target);
  }
  for (
    const [method, target] of [
      ["GET", "?q=1"],
      ["GET", "@evil.test/x"],
      ["GET", ":81/x"],
      ["GET", "x/healthz"],
      ["GET", "*"],
      ["CONNECT", "a@b:1"],
    ]
  ) {
    assert.throws(
      () => parseRequest(`${method} ${target} HTTP/1.1`, host),
      (e: { code?: string }) => e.code === "bad_request",
      `${method} ${target}`,
    );
  }
});

Deno.test("a 204 goes without Content-Length, whatever the handler set, and the next request is answered", async () => {
  await using lrp = serve((request) =>
    request.url.endsWith("/none")
      ? new Response(null, { status: 204, headers: { "content-length": "5" } })
      : new Response("next")
  );
  const text = await exchange(
    lrp.port,
    "GET /none HTTP/1.1\r\nHost: h.test\r\n\r\nGET /b HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [204, 200]);
  const first = text.slice(0, text.indexOf("\r\n\r\n"));
  assert.doesNotMatch(first, /content-length/i);
  assert.ok(text.endsWith("\r\n\r\nnext"));
});

Deno.test("a body trickled into a large chunk keeps its bytes, not a read buffer per piece", async () => {
  const held: [number, number][] = [];
  await using lrp = serve(async (request) => {
    for await (const piece of request.body!) held.push([piece.length, piece.buffer.byteLength]);
    return new Response("read");
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
  await conn.write(
    te.encode("POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
  );
  await conn.write(te.encode("100000\r\n"));
  for (let i = 0; i < 3; i++) {
    await sleep(50);
    await conn.write(te.encode("abc"));
  }
  await sleep(50);
  await conn.write(te.encode(`${"d".repeat(0x100000 - 9)}\r\n0\r\n\r\n`));
  assert.deepEqual(statuses(await readToEnd(conn)), [200]);
  assert.deepEqual(held.slice(0, 3), [[3, 3], [3, 3], [3, 3]]);
  assert.equal(held.reduce((n, [length]) => n + length, 0), 0x100000);
});
