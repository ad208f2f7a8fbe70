/**
 * The global in-flight bound: requests and reserved body bytes across all
 * rules, refused with 503 + Retry-After past either limit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { InFlightBudget } from "../../lib/run/admission.ts";
import { serveLrp } from "../helpers/in_process.ts";
import { request } from "../helpers/socket.ts";
import { fakeRie } from "../fakes/rie.ts";

Deno.test("a claim holds bytes up to the byte bound and takes a slot up to the count; release gives both back once", () => {
  const budget = new InFlightBudget({ maxRequests: 2, maxBytes: 100 });
  const a = budget.claim();
  a.hold(60);
  const b = budget.claim();
  assert.throws(() => b.hold(50), {
    message: "Cannot take the request: lrp has 60 bytes in flight (max_in_flight_bytes)",
  });
  b.hold(40);
  a.admit();
  b.admit();
  const c = budget.claim();
  assert.throws(() => c.admit(), {
    message: "Cannot take the request: lrp has 2 requests in flight (max_in_flight)",
  });
  assert.deepEqual([budget.requests, budget.bytes], [2, 100]);
  a.release();
  a.release();
  assert.deepEqual([budget.requests, budget.bytes], [1, 40]);
  b.release();
  // One body larger than the byte bound still grows while it is all there is.
  const big = budget.claim();
  big.hold(60);
  big.hold(940);
  big.admit();
  assert.deepEqual([budget.requests, budget.bytes], [1, 1000]);
  big.release();
  assert.deepEqual([budget.requests, budget.bytes], [0, 0]);
});

Deno.test("an answer's bytes stay held after its request finishes, until released; past the bound an answer is dropped", () => {
  const budget = new InFlightBudget({ maxRequests: 10, maxBytes: 100 });
  const writing = budget.claim();
  writing.hold(20);
  writing.admit();
  writing.holdAnswer(70);
  writing.finish();
  assert.deepEqual([budget.requests, budget.bytes], [0, 70]);
  const next = budget.claim();
  next.admit();
  assert.throws(() => next.holdAnswer(50), {
    message:
      "Cannot pass on the function's answer (50 bytes, dropped): lrp has 70 bytes in flight (max_in_flight_bytes)",
  });
  next.holdAnswer(30);
  assert.equal(budget.bytes, 100);
  writing.release();
  writing.release();
  next.release();
  assert.deepEqual([budget.requests, budget.bytes], [0, 0]);
  // Past the byte bound (one answer larger than it, alone) no new request starts, even without a body.
  const huge = budget.claim();
  huge.holdAnswer(150);
  huge.finish();
  assert.throws(() => budget.claim().admit(), {
    message: "Cannot take the request: lrp has 150 bytes in flight (max_in_flight_bytes)",
  });
  huge.release();
  assert.deepEqual([budget.requests, budget.bytes], [0, 0]);
});

Deno.test("past max_in_flight lrp answers 503 overloaded with Retry-After and serves again afterwards", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  await using rie = fakeRie(async () => {
    await gate;
    return { statusCode: 200, body: "ok" };
  });
  await using lrp = await serveLrp(
    `max_in_flight: 2\nlocal:\n  - hostname: app.test\n    endpoint: ${rie.url}\n    concurrency: 2\n`,
  );
  const first = [request(lrp.port, "app.test", "/"), request(lrp.port, "app.test", "/")];
  while (rie.invocations < 2) await new Promise((r) => setTimeout(r, 5));
  const refused = await request(lrp.port, "app.test", "/");
  assert.deepEqual(
    [refused.status, refused.header("retry-after"), refused.header("x-lrp-error")],
    [503, "1", "overloaded"],
  );
  assert.equal(
    JSON.parse(refused.text).message,
    "Cannot take the request: lrp has 2 requests in flight (max_in_flight)",
  );
  release();
  assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
  assert.equal((await request(lrp.port, "app.test", "/")).status, 200);
  const logged = lrp.lines.filter((l) => l.error === "overloaded");
  assert.deepEqual(logged.map((l) => [l.msg, l.level, l.status]), [["request", "warn", 503]]);
});
