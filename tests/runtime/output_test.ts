/** `LineSplitter`: a runtime's output cut into lines in linear time, each kept to at most 256 KiB. */
import assert from "node:assert/strict";
import { LineSplitter, MAX_LINE_BYTES, type OutputLine } from "../../lib/runtime/output.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function split(chunks: Uint8Array[], max?: number): OutputLine[] {
  const out: OutputLine[] = [];
  const s = new LineSplitter(max);
  for (const c of chunks) s.push(c, (l) => out.push(l));
  s.end((l) => out.push(l));
  return out;
}

Deno.test("LineSplitter joins lines across chunks, drops a CR before LF, keeps empty lines and a last unterminated line", () => {
  assert.deepEqual(split([bytes("a\r\nb"), bytes("c\n\n"), bytes("tail")]), [
    { text: "a", bytes: 2, truncated: false },
    { text: "bc", bytes: 2, truncated: false },
    { text: "", bytes: 0, truncated: false },
    { text: "tail", bytes: 4, truncated: false },
  ]);
  assert.equal(MAX_LINE_BYTES, 262_144);
});

Deno.test("LineSplitter keeps the first bytes of a long line, cut at a character boundary, and counts the whole line", () => {
  // "é" is 2 bytes: a cut after 5 bytes would split the third one.
  assert.deepEqual(split([bytes("ééé"), bytes("ééé\nnext\n")], 5), [
    { text: "éé", bytes: 12, truncated: true },
    { text: "next", bytes: 4, truncated: false },
  ]);
  const mb = new Uint8Array(1024 * 1024).fill(0x78);
  const lines = split(Array.from({ length: 64 }, () => mb));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.text.length, MAX_LINE_BYTES);
  assert.equal(lines[0]!.bytes, 64 * 1024 * 1024);
  assert.equal(lines[0]!.truncated, true);
});
