/**
 * lrp's own HTTP/1.1 server over real sockets: header and idle timeouts,
 * connections really closed after a `Connection: close` answer, pipelining,
 * `Expect: 100-continue`, `HEAD`, and a client that goes away mid-request.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseRequest } from "../../lib/run/http_server.ts";
import { echoLrp, localRule, serveLrp } from "../helpers/in_process.ts";
import { openRequest, readAll, readResponse, request } from "../helpers/socket.ts";
import { fakeRie } from "../fakes/rie.ts";
import { alive, startLrpChild } from "../helpers/process.ts";
import { serveResilient } from "../../lib/run/listen.ts";
import { refusals } from "../../lib/run/serve.ts";
import { createLogger } from "../../lib/obs/log.ts";

const te = new TextEncoder();

/** An lrp whose function on fn.test answers with the request's raw path. */
const echoSetup = (extra = "") =>
  echoLrp(extra, (event) => ({ statusCode: 200, body: (event as { rawPath: string }).rawPath }));

/** Resolves with what the peer sent until it closed, or "open" when it is still open after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<string> {
  const timer = new Promise<"open">((r) => setTimeout(() => r("open"), ms));
  const text = readAll(conn);
  const result = await Promise.race([text, timer]);
  if (result === "open") {
    conn.close();
    await text.catch(() => {});
  }
  return result;
}

Deno.test("a header block not complete within header_timeout gets 408 header_timeout, logged, and the socket closes", async () => {
  await using env = echoSetup("header_timeout: 300ms\n");
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: env.lrp.port });
  await slow.write(te.encode("GET / HTTP/1.1\r\nHost: fn.test\r\nX-Slow: a"));
  for (let i = 0; i < 3; i++) {
    await slow.write(te.encode("a"));
    // Others are served meanwhile.
    assert.equal((await request(env.lrp.port, "fn.test", "/other")).status, 200);
  }
  const text = await closedWithin(slow, 3000);
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(text, /\r\nconnection: close\r\n/);
  assert.equal(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error, "header_timeout");
  assert.deepEqual(
    env.lrp.lines.filter((l) => l.msg === "request refused").map((l) => [l.status, l.error]),
    [[408, "header_timeout"]],
  );
  assert.equal(env.invocations(), 3);
});

Deno.test("a connection that sends nothing is closed after header_timeout, without an answer", async () => {
  await using env = echoSetup("header_timeout: 200ms\nidle_timeout: 10s\n");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: env.lrp.port });
  assert.equal(await closedWithin(conn, 3000), "");
  assert.equal(env.lrp.lines.filter((l) => l.msg === "request refused").length, 0);
});

Deno.test("an idle keep-alive connection is closed after idle_timeout; a busy one is not", async () => {
  await using env = echoSetup("idle_timeout: 300ms\n");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: env.lrp.port });
  // Requests closer together than idle_timeout keep the connection.
  for (let i = 0; i < 4; i++) {
    await conn.write(te.encode(`GET /r${i} HTTP/1.1\r\nHost: fn.test\r\n\r\n`));
    assert.match(await readResponse(conn), new RegExp(`^HTTP/1\\.1 200 OK\\r\\n[^]*\\r\\n\\r\\n/r${i}$`));
    await new Promise((r) => setTimeout(r, 150));
  }
  const started = performance.now();
  assert.equal(await closedWithin(conn, 3000), "");
  assert.ok(performance.now() - started < 2000);
});

Deno.test("after a 413 or 408 answer with Connection: close the socket is really closed", async () => {
  await using env = echoSetup("max_body_size: 10\nbody_timeout: 200ms\n");
  const big = await openRequest(
    env.lrp.port,
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 100",
    "x".repeat(100) + "GET /smuggled HTTP/1.1\r\nHost: fn.test\r\n\r\n",
  );
  const text413 = await closedWithin(big, 3000);
  assert.match(text413, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(text413, /smuggled/);
  const slow = await openRequest(env.lrp.port, "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 5", "ab");
  const text408 = await closedWithin(slow, 3000);
  assert.match(text408, /^HTTP\/1\.1 408 /);
  assert.equal(env.invocations(), 0);
});

Deno.test("pipelined requests are answered in order on one connection", async () => {
  await using env = echoSetup();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: env.lrp.port });
  const one = (path: string, close = false) =>
    `GET ${path} HTTP/1.1\r\nHost: fn.test\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
  await conn.write(te.encode(one("/a") + one("/b") + one("/c", true)));
  const text = await readAll(conn);
  const bodies = text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((part) =>
    part.slice(part.indexOf("\r\n\r\n") + 4)
  );
  assert.deepEqual(bodies, ["/a", "/b", "/c"]);
});

Deno.test("Expect: 100-continue gets 100 Continue before the body is read, then the answer", async () => {
  await using env = echoSetup();
  const conn = await openRequest(
    env.lrp.port,
    "POST /up HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 5\r\nExpect: 100-continue",
  );
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "HTTP/1.1 100 Continue\r\n\r\n");
  await conn.write(te.encode("hello"));
  assert.match(await readResponse(conn), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\/up$/);
  conn.close();
});

Deno.test("HEAD gets the length a GET would have, and no body", async () => {
  await using env = echoSetup();
  const conn = await openRequest(env.lrp.port, "HEAD /abc HTTP/1.1\r\nHost: fn.test\r\nConnection: close");
  const text = await readAll(conn);
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\ncontent-length: 4\r\n/);
  assert.ok(text.endsWith("\r\n\r\n"));
});

Deno.test("a client that closes its connection while queued is dropped from the queue, never invoked", async () => {
  const gate = Promise.withResolvers<void>();
  await using rie = fakeRie(async () => {
    await gate.promise;
    return { statusCode: 200, body: "late" };
  });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  const first = request(lrp.port, "fn.test", "/first");
  await new Promise((r) => setTimeout(r, 50));
  const queued = await openRequest(lrp.port, "GET /queued HTTP/1.1\r\nHost: fn.test");
  await new Promise((r) => setTimeout(r, 50));
  queued.close();
  await new Promise((r) => setTimeout(r, 50));
  gate.resolve();
  assert.equal((await first).status, 200);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(rie.invocations, 1);
  assert.ok(lrp.lines.some((l) => l.msg === "request cancelled by client"));
});

Deno.test("request heads are checked as RFC 9112 asks", () => {
  const ok = parseRequest("GET /a%20b?x=1 HTTP/1.1", [["host", "h.test"]]);
  assert.equal(ok.url, "http://h.test/a%20b?x=1");
  assert.equal(parseRequest("GET http://h.test/x HTTP/1.1", [["host", "h.test"]]).url, "http://h.test/x");
  const refused: [string, [string, string][], string][] = [
    ["GET / HTTP/2.0", [], "version_not_supported"],
    ["GET / HTTP/1.2", [], "bad_request"],
    ["GET /\x7f HTTP/1.1", [], "bad_request"],
    ["GET  / HTTP/1.1", [], "bad_request"],
    ["G(T / HTTP/1.1", [], "bad_request"],
    ["GET / HTTP/1.1", [["host", "a"], ["host", "b"]], "bad_request"],
    ["POST / HTTP/1.1", [["content-length", "1"], ["transfer-encoding", "chunked"]], "bad_request"],
    ["POST / HTTP/1.0", [["transfer-encoding", "chunked"]], "bad_request"],
    ["POST / HTTP/1.1", [["transfer-encoding", "gzip, chunked"]], "bad_request"],
    ["POST / HTTP/1.1", [["content-length", "-1"]], "bad_request"],
  ];
  for (const [line, headers, code] of refused) {
    assert.throws(() => parseRequest(line, headers), (e: { code?: string }) => e.code === code, line);
  }
});

/** RFC 9110 tchar. */
const isTchar = (b: number) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(String.fromCharCode(b));

Deno.test("every byte value in the target, a header name and a header value gets exactly the RFC's answer; lrp keeps serving", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lrp.yaml`, `local:\n  - hostname: fn.test\n    endpoint: ${rie.url}\n`);
    await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", `${dir}/lrp.yaml`]);
    const port = Number(new URL(lrp.url).port);
    const send = async (parts: (string | number)[]): Promise<number> => {
      const bytes = parts.flatMap((p) => typeof p === "number" ? [p] : [...te.encode(p)]);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new Uint8Array(bytes));
      const text = await readAll(conn);
      return Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
    };
    const end = "\r\nConnection: close\r\n\r\n";
    const wrong: string[] = [];
    for (let b = 0; b < 256; b++) {
      const target = await send(["GET /a", b, "b HTTP/1.1\r\nHost: fn.test", end]);
      const targetOk = b > 0x20 && b < 0x7f && b !== 0x23 && b !== 0x3f;
      // `#` starts a fragment and `?` a query: valid, answered like any other path.
      if (target !== (targetOk || b === 0x23 || b === 0x3f ? 200 : 400)) wrong.push(`target ${b}: ${target}`);
      const name = await send(["GET / HTTP/1.1\r\nHost: fn.test\r\nX-", b, "A: v", end]);
      if (name !== (isTchar(b) || b === 0x3a ? 200 : 400)) wrong.push(`name ${b}: ${name}`);
      const value = await send(["GET / HTTP/1.1\r\nHost: fn.test\r\nX-A: a", b, "b", end]);
      const valueOk = b === 0x09 || (b >= 0x20 && b !== 0x7f);
      if (value !== (valueOk ? 200 : 400)) wrong.push(`value ${b}: ${value}`);
    }
    assert.deepEqual(wrong, []);
    assert.equal((await request(port, "fn.test", "/")).status, 200);
    assert.equal(await alive(lrp.process.pid), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client that stops reading a large answer is closed after send_timeout without progress", async () => {
  const big = "x".repeat(5_000_000);
  await using rie = fakeRie(() => ({ statusCode: 200, body: big }));
  await using lrp = serveLrp(`send_timeout: 300ms\nlocal:\n${localRule("fn.test", rie.url)}`);
  const stalled = await openRequest(lrp.port, "GET / HTTP/1.1\r\nHost: fn.test");
  await new Promise((r) => setTimeout(r, 1500));
  // Whatever was buffered is readable, then the connection ends: the answer never completes.
  let received = 0;
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await stalled.read(buf);
      if (n === null) break;
      received += n;
    }
  } catch {
    // A reset is an end too.
  }
  stalled.close();
  assert.ok(received < big.length, `received ${received}`);
  assert.equal((await request(lrp.port, "fn.test", "/")).status, 200);
});

Deno.test("a 413 reaches a client still sending its body: the connection lingers instead of resetting", async () => {
  await using env = echoSetup("max_body_size: 1000\n");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: env.lrp.port });
  const size = 3_000_000;
  await conn.write(te.encode(`POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: ${size}\r\n\r\n`));
  // lrp answers at once (the declared length is over the cap) while the body is still on its way.
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  for (let sent = 0; sent < size; sent += chunk.length) {
    await conn.write(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    await new Promise((r) => setTimeout(r, 4));
  }
  const text = await readAll(conn);
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.equal(env.invocations(), 0);
});

Deno.test("a streamed answer's head goes out at once, before its first chunk; a buffered one has a length", async () => {
  const log = createLogger("error", () => {});
  const server = serveResilient({
    hostname: "127.0.0.1",
    port: 0,
    log,
    limits: { headerTimeoutMs: 5000, idleTimeoutMs: 5000 },
    refuse: refusals(log),
    onError: () => new Response("bug", { status: 500 }),
    handler: (request) => {
      if (request.url.endsWith("/buffered")) return Promise.resolve(Response.json({ ok: true }));
      return Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            async start(c) {
              await new Promise((r) => setTimeout(r, 600));
              c.enqueue(te.encode("late"));
              c.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
      );
    },
  });
  try {
    const conn = await openRequest(
      server.addr.port,
      "GET /stream HTTP/1.1\r\nHost: s.test\r\nConnection: close",
    );
    const started = performance.now();
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    const headAfter = performance.now() - started;
    const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n[^]*transfer-encoding: chunked\r\n/);
    assert.ok(headAfter < 400, `the head came after ${Math.round(headAfter)} ms`);
    assert.match(head + await readAll(conn), /\r\n4\r\nlate\r\n0\r\n\r\n$/);
    const buffered = await openRequest(
      server.addr.port,
      "GET /buffered HTTP/1.1\r\nHost: s.test\r\nConnection: close",
    );
    assert.match(await readAll(buffered), /\r\ncontent-length: 11\r\n[^]*\r\n\r\n\{"ok":true\}$/);
  } finally {
    await server.shutdown();
  }
});
