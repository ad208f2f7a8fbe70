/**
 * Bad input at the edge, over real sockets: slow and oversized requests,
 * broken framing, odd hosts and methods. lrp (or Deno's HTTP server in front
 * of it) answers the right 4xx, never invokes, and keeps serving others.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../lib/config.ts";
import { startRie } from "../lib/rie.ts";
import { localRule, openRequest, readResponse, serveLrp } from "./harness.ts";
import { rawHttp, request } from "./util.ts";

const td = new TextDecoder();

/** An lrp with one echo function on fn.test; `invocations()` counts calls that reached it. */
function echoSetup(extra = "") {
  const rie = startRie({
    handler: (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event),
    }),
  });
  const lrp = serveLrp(`${extra}local:\n${localRule("fn.test", rie.url)}`);
  return {
    lrp,
    invocations: () => rie.stats.invocations,
    async [Symbol.asyncDispose]() {
      await lrp.close();
      await rie.shutdown();
    },
  };
}

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
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\nconnection: close\r\n/);
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
