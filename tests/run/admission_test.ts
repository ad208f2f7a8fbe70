/**
 * The global in-flight bound: requests and reserved body bytes across all
 * rules, refused with 503 + Retry-After past either limit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bodyReservation, InFlightBudget } from "../../lib/run/admission.ts";
import { serveLrp } from "../helpers/in_process.ts";
import { request } from "../helpers/socket.ts";
import { fakeRie } from "../fakes/rie.ts";

const post = (headers: Record<string, string>) =>
  new Request("http://x/", { method: "POST", headers, body: "x" });

Deno.test("a request reserves its declared body, capped at the body limit; unknown lengths reserve the limit", () => {
  assert.equal(bodyReservation(new Request("http://x/"), 100), 0);
  assert.equal(bodyReservation(post({ "content-length": "40" }), 100), 40);
  assert.equal(bodyReservation(post({ "content-length": "4000" }), 100), 100);
  assert.equal(bodyReservation(post({}), 100), 100);
});

Deno.test("the budget admits up to its request count and byte total, and releases exactly once", () => {
  const budget = new InFlightBudget({ maxRequests: 2, maxBytes: 100 });
  const a = budget.admit(60);
  assert.ok(a);
  assert.equal(budget.admit(50), undefined);
  const b = budget.admit(40);
  assert.ok(b);
  assert.equal(budget.admit(0), undefined);
  assert.deepEqual([budget.requests, budget.bytes], [2, 100]);
  a();
  a();
  assert.deepEqual([budget.requests, budget.bytes], [1, 40]);
  b();
  // A single request larger than the byte bound is still admitted when nothing else is in flight.
  const big = budget.admit(1000);
  assert.ok(big);
  big();
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
