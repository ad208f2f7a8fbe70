/**
 * Bad input at the edge, over real sockets: slow and oversized requests,
 * broken framing, odd hosts and methods. lrp (its own HTTP/1.1 server, then
 * the handler) answers the right 4xx, never invokes, and keeps serving others.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { echoLrp } from "../helpers/in_process.ts";
import { openRequest, rawHttp, readResponse, request } from "../helpers/socket.ts";

const td = new TextDecoder();

/** An lrp with one echo function on fn.test (the event back as JSON). */
const echoSetup = (extra = "") => echoLrp(extra);

/** Asserts a normal request is still served. */
async function assertStillServing(port: number) {
  const res = await request(port, "fn.test", "/still");
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.text).rawPath, "/still");
}

Deno.test("a body that does not arrive within body_timeout gets 408 body_timeout with Connection: close, and is not invoked", async () => {
  await using env = echoSetup("body_timeout: 300ms\n");
  const conn = await openRequest(
    env.lrp.port,
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 100",
    "abc",
  );
  const text = await readResponse(conn);
  conn.close();
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(text, /\r\nconnection: close\r\n/);
  assert.equal(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error, "body_timeout");
  assert.equal(env.invocations(), 0);
  await assertStillServing(env.lrp.port);
});

Deno.test("a body trickled byte by byte past body_timeout gets 408 although bytes keep coming", async () => {
  await using env = echoSetup("body_timeout: 300ms\n");
  const conn = await openRequest(env.lrp.port, "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 1000");
  const trickle = (async () => {
    for (let i = 0; i < 1000; i++) {
      await new Promise((r) => setTimeout(r, 20));
      if (await conn.write(new Uint8Array([0x61])).catch(() => 0) === 0) return;
    }
  })();
  const text = await readResponse(conn);
  conn.close();
  await trickle;
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.equal(env.invocations(), 0);
});

Deno.test("a body over max_body_size gets 413 with Connection: close before anything is invoked", async () => {
  await using env = echoSetup("max_body_size: 1KB\n");
  const declared = await request(env.lrp.port, "fn.test", "/", { body: "x".repeat(1025) });
  assert.equal(declared.status, 413);
  assert.equal(declared.header("connection"), "close");
  assert.equal(JSON.parse(declared.text).error, "body_too_large");
  const chunked = await rawHttp(
    env.lrp.port,
    "POST / HTTP/1.1\r\nHost: fn.test\r\nTransfer-Encoding: chunked",
    new TextEncoder().encode(`400\r\n${"x".repeat(1024)}\r\n1\r\nx\r\n0\r\n\r\n`),
  );
  assert.equal(chunked.status, 413);
  assert.equal(env.invocations(), 0);
  const exact = await request(env.lrp.port, "fn.test", "/", { body: "x".repeat(1024) });
  assert.equal(exact.status, 200);
});

Deno.test("body_timeout defaults to 30 s and comes from the file, LRP_BODY_TIMEOUT or --body-timeout", () => {
  assert.equal(parseConfig("", { source: "t" }).bodyTimeoutMs, 30_000);
  assert.equal(parseConfig("body_timeout: 2s\n", { source: "t" }).bodyTimeoutMs, 2_000);
  assert.equal(parseConfig("", { source: "t", env: { LRP_BODY_TIMEOUT: "500ms" } }).bodyTimeoutMs, 500);
  assert.equal(parseConfig("", { source: "t", flags: { "body-timeout": "1m" } }).bodyTimeoutMs, 60_000);
});

/** Sends raw bytes on a fresh connection and returns the status line and whether the function was invoked. */
async function rawStatus(port: number, bytes: string): Promise<string> {
  const conn = await openRequest(port, bytes.replace(/\r\n\r\n$/, ""));
  const text = await readResponse(conn);
  conn.close();
  return text.slice(0, text.indexOf("\r\n"));
}

Deno.test("lrp's server refuses framing tricks with 400 before routing: CL+TE, differing CLs, obfuscated TE, obs-fold", async () => {
  await using env = echoSetup();
  const cases = [
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 3, 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: fn.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.0\r\nHost: fn.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: fn.test\r\nX-A: 1\r\n 2\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: fn.test\r\nHost: other.test\r\n\r\n",
    "GET / HTTP/1.2\r\nHost: fn.test\r\n\r\n",
    "\x00\x01\x02 garbage\r\n\r\n",
  ];
  for (const bytes of cases) {
    assert.equal(await rawStatus(env.lrp.port, bytes), "HTTP/1.1 400 Bad Request", JSON.stringify(bytes));
  }
  assert.equal(env.invocations(), 0);
  await assertStillServing(env.lrp.port);
});

Deno.test("a duplicated identical Content-Length is accepted as one", async () => {
  await using env = echoSetup();
  const res = await rawHttp(
    env.lrp.port,
    "POST / HTTP/1.1\r\nHost: fn.test\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nContent-Length: 3",
    new TextEncoder().encode("abc"),
  );
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(td.decode(res.body)).body, "abc");
});

Deno.test("a header block of 96 KiB or 130 lines gets 431 and is logged; 64 KiB and 125 lines pass", async () => {
  await using env = echoSetup();
  const port = env.lrp.port;
  const sized = (kib: number) =>
    `GET / HTTP/1.1\r\nHost: fn.test\r\nX-Big: ${"a".repeat(kib * 1024 - 100)}\r\n\r\n`;
  const lines = (n: number) =>
    `GET / HTTP/1.1\r\nHost: fn.test\r\n${
      Array.from({ length: n }, (_, i) => `X-H${i}: v`).join("\r\n")
    }\r\n\r\n`;
  assert.equal(await rawStatus(port, sized(96)), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.equal(await rawStatus(port, lines(130)), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.deepEqual(
    env.lrp.lines.filter((l) => l.msg === "request refused").map((l) => [l.status, l.error]),
    [[431, "headers_too_large"], [431, "headers_too_large"]],
  );
  assert.equal(env.invocations(), 0);
  assert.equal(await rawStatus(port, sized(64)), "HTTP/1.1 200 OK");
  assert.equal(await rawStatus(port, lines(125)), "HTTP/1.1 200 OK");
  assert.equal(env.invocations(), 2);
  await assertStillServing(port);
});

Deno.test("methods outside GET HEAD POST PUT PATCH DELETE OPTIONS get 501 method_not_implemented without invoking", async () => {
  await using env = echoSetup();
  for (const method of ["TRACE", "CONNECT", "PROPFIND", "FOOBAR", "get"]) {
    const target = method === "CONNECT" ? "fn.test:443" : "/";
    const res = await request(env.lrp.port, "fn.test", target, { method });
    assert.equal(res.status, 501, method);
    assert.equal(JSON.parse(res.text).error, "method_not_implemented");
  }
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    const res = await request(env.lrp.port, "fn.test", "/", { method });
    assert.equal(res.status, 200, method);
    assert.equal(JSON.parse(res.text).requestContext.http.method, method);
  }
  assert.equal(env.invocations(), 6);
});

Deno.test("a missing, empty or malformed Host gets 400 bad_request without invoking", async () => {
  await using env = echoSetup();
  const port = env.lrp.port;
  for (const head of ["GET / HTTP/1.1", "GET / HTTP/1.0", "GET / HTTP/1.1\r\nHost:"]) {
    const res = await rawHttp(port, head);
    assert.equal(res.status, 400, head);
    assert.equal(JSON.parse(td.decode(res.body)).message, "Cannot route the request: it has no Host header");
  }
  for (
    const host of [
      "fn.test/x",
      "a b",
      "user:pw@fn.test",
      "fn.test:80:90",
      "fn.test:port",
      "fn.test\\x",
      "[::1",
    ]
  ) {
    const res = await request(port, host, "/");
    assert.equal(res.status, 400, host);
    assert.equal(
      JSON.parse(res.text).message,
      "Cannot route the request: the Host header is not a valid host",
    );
  }
  assert.equal(env.invocations(), 0);
  // Internal routes still answer without a Host.
  assert.equal((await rawHttp(port, "GET /ping HTTP/1.1")).status, 200);
  await assertStillServing(port);
});

Deno.test("an absolute-form target routes only when its authority agrees with Host (RFC 9112 §3.2.2 ambiguity refused)", async () => {
  await using env = echoSetup();
  const port = env.lrp.port;
  const agree = await rawHttp(port, "GET http://FN.test:8080/p?q=1 HTTP/1.1\r\nHost: fn.test");
  assert.equal(agree.status, 200);
  const event = JSON.parse(td.decode(agree.body));
  assert.equal(event.rawPath, "/p");
  assert.equal(event.rawQueryString, "q=1");
  for (
    const head of [
      "GET http://other.test/ HTTP/1.1\r\nHost: fn.test",
      "GET http://fn.test/ HTTP/1.1\r\nHost: other.test",
      "GET http://other.test/ HTTP/1.1",
    ]
  ) {
    const res = await rawHttp(port, head);
    assert.equal(res.status, 400, head);
  }
  assert.equal(env.invocations(), 1);
});
