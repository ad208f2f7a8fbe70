import assert from "node:assert/strict";
import { encodeInvokeComplete, encodePayloadChunk, WriteCutter } from "./event_stream.ts";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().split(/\s+/), (b) => parseInt(b, 16));
}
function ascii(text: string): string {
  return Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

Deno.test('encodeInvokeComplete() produces the 102-byte InvokeComplete frame for success (docs/wire-format.md, "Event-stream frames")', () => {
  const expected = hex(`
    00 00 00 66 00 00 00 54 1f 56 c8 69
    0b ${ascii(":event-type")} 07 00 0e ${ascii("InvokeComplete")}
    0d ${ascii(":content-type")} 07 00 10 ${ascii("application/json")}
    0d ${ascii(":message-type")} 07 00 05 ${ascii("event")}
    7b 7d
    70 06 d4 67`);
  assert.equal(expected.length, 102);
  assert.deepEqual(encodeInvokeComplete(), expected);
});

Deno.test('encodePayloadChunk() produces the 108-byte PayloadChunk frame for payload hi (docs/wire-format.md, "Event-stream frames")', () => {
  const expected = hex(`
    00 00 00 6c 00 00 00 5a b2 5e fd cf
    0b ${ascii(":event-type")} 07 00 0c ${ascii("PayloadChunk")}
    0d ${ascii(":content-type")} 07 00 18 ${ascii("application/octet-stream")}
    0d ${ascii(":message-type")} 07 00 05 ${ascii("event")}
    68 69
    11 62 e4 69`);
  assert.equal(expected.length, 108);
  assert.deepEqual(encodePayloadChunk("hi"), expected);
  assert.deepEqual(encodePayloadChunk(new TextEncoder().encode("hi")), expected);
});

Deno.test("encodeInvokeComplete() writes error members in model order as JSON", () => {
  const frame = encodeInvokeComplete({ ErrorDetails: "boom", ErrorCode: "Error" });
  const payload = new TextDecoder().decode(frame.subarray(12 + 0x54, frame.length - 4));
  assert.equal(payload, '{"ErrorCode":"Error","ErrorDetails":"boom"}');
});

Deno.test("WriteCutter cuts at absolute stream offsets across frames", () => {
  const cutter = new WriteCutter([4, 10, 110, 112]);
  const first = encodePayloadChunk("hi"); // bytes 0..108
  const second = encodeInvokeComplete(); // bytes 108..210
  assert.deepEqual(cutter.cut(first).map((w) => w.length), [4, 6, 98]);
  assert.deepEqual(cutter.cut(second).map((w) => w.length), [2, 2, 98]);
});

Deno.test("WriteCutter splits into single bytes or whole frames", () => {
  const frame = encodePayloadChunk("hi");
  assert.deepEqual(new WriteCutter("byte").cut(frame).length, 108);
  assert.deepEqual(new WriteCutter().cut(frame), [frame]);
});
