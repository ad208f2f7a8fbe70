/**
 * `HeaderLines` reads exactly as a fetch `Headers` built from the same lines:
 * `get`, `has` and iteration (sorted, repeats joined, `set-cookie` apart), for
 * generated line sets with repeated names and every latin1 value byte the
 * server lets through.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { HeaderLines } from "../../lib/wire/header_lines.ts";

/** A small pool of names, so repeats (and set-cookie, cookie) are frequent. */
const name = fc.constantFrom("a", "b", "accept", "cookie", "set-cookie", "x-y", "host", "z", "content-type");
/** Values as the server passes them: trimmed, HTAB and bytes 0x20–0x7E, 0x80–0xFF. */
const valueChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
).map((c) => String.fromCharCode(c));
const value = fc.array(valueChar, { maxLength: 12 }).map((cs) => cs.join("").replace(/^[ \t]+|[ \t]+$/g, ""));
const lines = fc.array(fc.tuple(name, value), { maxLength: 12 });

Deno.test("HeaderLines reads as Headers reads the same lines", () => {
  fc.assert(
    fc.property(lines, (ls) => {
      const headers = new Headers();
      for (const [n, v] of ls) headers.append(n, v);
      const view = new HeaderLines(ls.map(([n, v]) => [n, v]));
      assert.deepEqual([...view], [...headers]);
      for (const n of ["a", "A", "Accept", "cookie", "set-cookie", "Set-Cookie", "host", "missing"]) {
        assert.equal(view.get(n), headers.get(n), n);
        assert.equal(view.has(n), headers.has(n), n);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("HeaderLines keeps the lines as received and iterates as often as asked", () => {
  const view = new HeaderLines([["b", "2"], ["a", "1"], ["b", "3"]]);
  assert.deepEqual(view.lines, [["b", "2"], ["a", "1"], ["b", "3"]]);
  assert.deepEqual([...view], [["a", "1"], ["b", "2, 3"]]);
  assert.deepEqual([...view], [["a", "1"], ["b", "2, 3"]]);
  assert.deepEqual(view.lines, [["b", "2"], ["a", "1"], ["b", "3"]]);
});
