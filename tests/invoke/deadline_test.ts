import assert from "node:assert/strict";
import { Deadlines } from "../../lib/invoke/deadline.ts";

Deno.test("Deadlines expires uncancelled entries in the order they were added, on one shared timer", async () => {
  const deadlines = new Deadlines(5);
  const fired: string[] = [];
  const all = Promise.withResolvers<void>();
  deadlines.add(() => fired.push("a"));
  const b = deadlines.add(() => fired.push("b"));
  deadlines.add(() => {
    fired.push("c");
    all.resolve();
  });
  b.cancel();
  await all.promise;
  assert.deepEqual(fired, ["a", "c"]);
  assert.equal(deadlines.size, 0);
});

Deno.test("Deadlines stops its timer once every entry is cancelled", () => {
  const deadlines = new Deadlines(60_000);
  const entries = [deadlines.add(() => assert.fail("expired")), deadlines.add(() => assert.fail("expired"))];
  assert.equal(deadlines.size, 2);
  for (const e of entries) e.cancel();
  assert.equal(deadlines.size, 0);
  // The leak sanitizer fails this test if a timer is still pending.
});

Deno.test("Deadlines keeps one timer when an expiry adds a new deadline", async () => {
  const deadlines = new Deadlines(2);
  const done = Promise.withResolvers<void>();
  let n = 0;
  const again = () => {
    if (++n < 3) deadlines.add(again);
    else done.resolve();
  };
  deadlines.add(again);
  await done.promise;
  assert.equal(n, 3);
  assert.equal(deadlines.size, 0);
});
