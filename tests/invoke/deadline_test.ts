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

Deno.test("Deadlines lets go of the process once every entry is cancelled", () => {
  const deadlines = new Deadlines(60_000);
  const entries = [deadlines.add(() => assert.fail("expired")), deadlines.add(() => assert.fail("expired"))];
  assert.equal(deadlines.size, 2);
  for (const e of entries) e.cancel();
  assert.equal(deadlines.size, 0);
  // The leak sanitizer fails this test if a timer still holds the process (a ref'd one).
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

Deno.test("a process whose deadlines were all cancelled exits at once, not when the timer would fire", async () => {
  const url = new URL("../../lib/invoke/deadline.ts", import.meta.url).href;
  const code = `const { Deadlines } = await import(${JSON.stringify(url)});
    const d = new Deadlines(60_000);
    for (let i = 0; i < 3; i++) d.add(() => console.log("expired")).cancel();
    const kept = d.add(() => console.log("expired"));
    setTimeout(() => kept.cancel(), 50);`;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), "");
  assert.ok(performance.now() - t0 < 20_000, "the process waited for a cancelled deadline");
});

Deno.test("a pending deadline keeps the process alive until it fires", async () => {
  const url = new URL("../../lib/invoke/deadline.ts", import.meta.url).href;
  const code = `const { Deadlines } = await import(${JSON.stringify(url)});
    const d = new Deadlines(100);
    d.add(() => {}).cancel();
    d.add(() => console.log("expired"));`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" }).output();
  assert.equal(new TextDecoder().decode(out.stdout), "expired\n");
});
