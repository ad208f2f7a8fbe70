import assert from "node:assert/strict";
import { newTraceId, requestIds } from "../../lib/handle/ids.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("requestIds() gives version-4 UUID-shaped ids, distinct, from one prefix and a counter", () => {
  const next = requestIds();
  const ids = Array.from({ length: 1000 }, next);
  for (const id of ids) assert.match(id, UUID_V4);
  assert.equal(new Set(ids).size, 1000);
  assert.equal(ids[0]!.slice(24), "000000000000");
  assert.equal(ids[999]!.slice(24), "0000000003e7");
  // Two sources (two processes) do not share a prefix.
  assert.notEqual(requestIds()().slice(0, 24), ids[0]!.slice(0, 24));
});

Deno.test("newTraceId() formats Root=1-{epoch seconds hex}-{24 hex digits}", () => {
  const id = newTraceId(1_700_000_000_123);
  assert.match(id, /^Root=1-6553f100-[0-9a-f]{24}$/);
  assert.notEqual(newTraceId(1_700_000_000_123), id);
});
