import assert from "node:assert/strict";
import { perSecond } from "../lib/time.ts";

Deno.test("perSecond() formats the whole second once and again only when the second changes", () => {
  const seen: number[] = [];
  const format = perSecond((ms) => {
    seen.push(ms);
    return `s${ms}`;
  });
  assert.equal(format(5_000), "s5000");
  assert.equal(format(5_999), "s5000");
  assert.equal(format(6_000), "s6000");
  assert.equal(format(5_500), "s5000");
  assert.deepEqual(seen, [5_000, 6_000, 5_000]);
});
