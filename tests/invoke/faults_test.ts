/**
 * Upstream and client faults against real sockets: for each, the status the
 * client gets, that the endpoint's queue drains (`SlotQueue.stats`), that a
 * later request is served, and that no connection is left open. Deno's op and
 * resource sanitizers stay on, so a leaked timer, fetch or socket fails the test.
 */
import assert from "node:assert/strict";
import { RIE_MAX_PAYLOAD_BYTES as MAX_RESULT_BYTES } from "../../lib/invoke/rie.ts";
import { startRie } from "../fakes/rie.ts";
import { localRule, serveLrp, type TestLrp } from "../helpers/in_process.ts";
import { openRequest, request } from "../helpers/socket.ts";
import { type Exchange, httpResponse, startRawUpstream } from "../fakes/raw_upstream.ts";
import { waitFor } from "../helpers/process.ts";

const OK_RESULT = JSON.stringify({ statusCode: 200, headers: { "content-type": "text/plain" }, body: "ok" });
const answerOk = (ex: Exchange) => ex.write(httpResponse(200, OK_RESULT));
const IDLE = { inFlight: 0, waiting: 0 };

function lrpFor(endpoint: string, extra = ""): TestLrp {
  return serveLrp(
    `upstream_timeout: 300ms\n${extra}local:\n${localRule("fn.test", endpoint)}${
      localRule("other.test", "http://127.0.0.1:9")
    }`,
  );
}

/** Sends a request to fn.test and returns status and `error` code. */
async function call(lrp: TestLrp, host = "fn.test"): Promise<[number, string]> {
  const res = await request(lrp.port, host, "/");
  return [res.status, res.status === 200 ? res.text : JSON.parse(res.text).error];
}

/** Asserts the queue drained, a later request is served, and nothing is left open. */
async function assertRecovers(lrp: TestLrp, upstream: { open: number; close(): Promise<void> }) {
  await waitFor(
    "the queue to drain",
    () => JSON.stringify(lrp.stats("fn.test")) === JSON.stringify(IDLE) || undefined,
  );
  assert.deepEqual(await call(lrp), [200, "ok"]);
  assert.deepEqual(lrp.stats("fn.test"), IDLE);
  await lrp.close();
  await waitFor("lrp's pooled connections to close", () => upstream.open === 0 || undefined);
  await upstream.close();
}

Deno.test("an endpoint that refuses connections gets 502 upstream_unreachable and later requests are served", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await using lrp = lrpFor(`http://127.0.0.1:${closedPort}`);
  for (let i = 0; i < 3; i++) assert.deepEqual(await call(lrp), [502, "upstream_unreachable"]);
  assert.deepEqual(lrp.stats("fn.test"), IDLE);
  // The endpoint comes up on the same port: served at once.
  await using rie = startRie({ port: closedPort, handler: () => ({ statusCode: 200, body: "ok" }) });
  assert.deepEqual(await call(lrp), [200, "ok"]);
  assert.equal(rie.stats.invocations, 1);
});

Deno.test("an endpoint that closes the connection mid-response gets 502 upstream_unreachable", async () => {
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i > 0) return answerOk(ex);
    await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"statusCode":');
    ex.close();
  });
  await using lrp = lrpFor(upstream.url);
  assert.deepEqual(await call(lrp), [502, "upstream_unreachable"]);
  await assertRecovers(lrp, upstream);
});

Deno.test("an endpoint that never sends headers gets 504 after upstream_timeout; its slot is held until the endpoint gives up", async () => {
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i > 0) return answerOk(ex);
    await ex.sleep(1500);
    ex.close();
  });
  await using lrp = lrpFor(upstream.url);
  assert.deepEqual(await call(lrp), [504, "upstream_timeout"]);
  // The RIE may still be running the function: a second invocation would crash it.
  assert.deepEqual(lrp.stats("fn.test"), { inFlight: 1, waiting: 0 });
  // Other endpoints are not affected.
  assert.deepEqual(await call(lrp, "other.test"), [502, "upstream_unreachable"]);
  await assertRecovers(lrp, upstream);
  assert.equal(upstream.maxConcurrent, 1);
});

Deno.test("an endpoint that stalls mid-body gets 504 after upstream_timeout and recovers", async () => {
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i > 0) return answerOk(ex);
    await ex.write('HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{"statusCode":200,');
    await ex.sleep(1500);
    ex.close();
  });
  await using lrp = lrpFor(upstream.url);
  assert.deepEqual(await call(lrp), [504, "upstream_timeout"]);
  await assertRecovers(lrp, upstream);
});

Deno.test("an endpoint that answers non-HTTP bytes gets 502 upstream_unreachable", async () => {
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i > 0) return answerOk(ex);
    await ex.write("\x00\x01\x02SSH-2.0-garbage\r\n\r\n");
    ex.close();
  });
  await using lrp = lrpFor(upstream.url);
  assert.deepEqual(await call(lrp), [502, "upstream_unreachable"]);
  await assertRecovers(lrp, upstream);
});

Deno.test("a result of exactly 6 MiB + 100 bytes is served; one byte more is a 502 bad_result", async () => {
  // An inferred result: a JSON string, sent verbatim with its quotes.
  const result = (size: number) => `"${"x".repeat(size - 2)}"`;
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i === 0) return await ex.write(httpResponse(200, result(MAX_RESULT_BYTES)));
    if (i === 1) return await ex.write(httpResponse(200, result(MAX_RESULT_BYTES + 1)));
    return answerOk(ex);
  });
  await using lrp = lrpFor(upstream.url);
  const big = await request(lrp.port, "fn.test", "/");
  assert.equal(big.status, 200);
  assert.equal(big.body.length, MAX_RESULT_BYTES);
  assert.deepEqual(await call(lrp), [502, "bad_result"]);
  await assertRecovers(lrp, upstream);
});

Deno.test("an endpoint streaming an endless answer is cut off at the result limit without buffering it", async () => {
  let written = 0;
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i > 0) return answerOk(ex);
    await ex.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n");
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    // Stops when lrp drops the connection.
    for (;;) {
      await ex.write(chunk);
      written += chunk.length;
    }
  });
  await using lrp = lrpFor(upstream.url);
  assert.deepEqual(await call(lrp), [502, "bad_result"]);
  await assertRecovers(lrp, upstream);
  // lrp stopped reading soon after the limit (socket buffers hold a few MB more).
  assert.ok(written < 64 * 1024 * 1024, `upstream wrote ${written} bytes`);
});

Deno.test("an RIE that crashes on a concurrent invocation gets 502s, then serves again after its restart", async () => {
  const release = Promise.withResolvers<void>();
  await using rie = startRie({
    onConcurrent: "crash",
    handler: async () => {
      await release.promise;
      return { statusCode: 200, body: "ok" };
    },
  });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  const burst = Array.from({ length: 8 }, () => call(lrp));
  await waitFor("lrp's invocation to be in flight", () => rie.stats.invocations === 1 || undefined);
  // Someone bypasses lrp and invokes the RIE directly: the emulator dies.
  const outside = await fetch(rie.invokeUrl, { method: "POST", body: "{}" }).catch((e) => e);
  assert.ok(outside instanceof TypeError);
  assert.equal(rie.stats.crashed, true);
  const statuses = await Promise.all(burst);
  assert.deepEqual(statuses, Array(8).fill([502, "upstream_unreachable"]));
  assert.deepEqual(lrp.stats("fn.test"), IDLE);
  release.resolve();
  await rie.restart();
  const after = await Promise.all(Array.from({ length: 8 }, () => call(lrp)));
  assert.deepEqual(after, Array(8).fill([200, "ok"]));
  assert.deepEqual(lrp.stats("fn.test"), IDLE);
  assert.equal(rie.stats.crashed, false);
});

Deno.test("a client that disconnects while queued leaves the queue and is never invoked", async () => {
  const gate = Promise.withResolvers<void>();
  await using upstream = startRawUpstream(async (ex) => {
    await gate.promise;
    await answerOk(ex);
  });
  await using lrp = lrpFor(upstream.url);
  const first = request(lrp.port, "fn.test", "/first");
  await waitFor("the first invocation", () => upstream.requests === 1 || undefined);
  const queued = await openRequest(lrp.port, "GET /queued HTTP/1.1\r\nHost: fn.test");
  await waitFor("the second request to queue", () => lrp.stats("fn.test").waiting === 1 || undefined);
  queued.close();
  await waitFor("the queue to forget it", () => lrp.stats("fn.test").waiting === 0 || undefined);
  assert.deepEqual(lrp.stats("fn.test"), { inFlight: 1, waiting: 0 });
  gate.resolve();
  assert.equal((await first).status, 200);
  assert.equal(upstream.requests, 1);
  const cancelled = lrp.lines.find((l) => l.msg === "request cancelled by client");
  assert.equal(cancelled?.status, 499);
  assert.equal(cancelled?.path, "/queued");
  await assertRecovers(lrp, upstream);
  assert.equal(upstream.requests, 2);
});

Deno.test("a client that disconnects while invoking keeps the slot taken until the endpoint answers", async () => {
  const gate = Promise.withResolvers<void>();
  await using upstream = startRawUpstream(async (ex, i) => {
    if (i === 0) await gate.promise;
    await answerOk(ex);
  });
  await using lrp = lrpFor(upstream.url);
  const running = await openRequest(lrp.port, "GET /running HTTP/1.1\r\nHost: fn.test");
  await waitFor("the invocation", () => upstream.requests === 1 || undefined);
  running.close();
  await waitFor(
    "lrp to see the client leave",
    () => lrp.lines.some((l) => l.msg === "request cancelled by client") || undefined,
  );
  assert.deepEqual(lrp.stats("fn.test"), { inFlight: 1, waiting: 0 });
  const next = request(lrp.port, "fn.test", "/next");
  await waitFor("the next request to queue", () => lrp.stats("fn.test").waiting === 1 || undefined);
  gate.resolve();
  assert.equal((await next).status, 200);
  assert.equal(upstream.maxConcurrent, 1);
  await assertRecovers(lrp, upstream);
});

Deno.test("a client that disconnects while sending its body is not invoked", async () => {
  await using upstream = startRawUpstream(answerOk);
  await using lrp = lrpFor(upstream.url);
  const conn = await openRequest(
    lrp.port,
    "POST /partial HTTP/1.1\r\nHost: fn.test\r\nContent-Length: 100",
    "abc",
  );
  await new Promise((r) => setTimeout(r, 50));
  conn.close();
  const line = await waitFor("the request to end", () => lrp.lines.find((l) => l.path === "/partial"));
  assert.equal(line.status, 400);
  assert.equal(line.errorMessage, "Cannot read the request body: the client stopped sending");
  await assertRecovers(lrp, upstream);
  assert.equal(upstream.requests, 1);
});
