/**
 * The vendored yaml bundle (`lib/vendor/yaml.js`, written by
 * `scripts/vendor_yaml.ts`) is the pinned package: same version everywhere,
 * same documents, same errors at the same places.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as npmYaml from "npm:yaml@2.9.1";
// @ts-types="npm:yaml@2.9.1"
import * as vendored from "../../lib/vendor/yaml.js";
import { YAML_VERSION } from "../../scripts/vendor_yaml.ts";

Deno.test("the vendored yaml names the pinned version, as parse.ts's types do", async () => {
  const head = (await Deno.readTextFile(new URL("../../lib/vendor/yaml.js", import.meta.url))).slice(0, 200);
  assert.match(head, new RegExp(`^// yaml ${YAML_VERSION.replaceAll(".", "\\.")} `));
  const parse = await Deno.readTextFile(new URL("../../lib/config/parse.ts", import.meta.url));
  assert.ok(parse.includes(`// @ts-types="npm:yaml@${YAML_VERSION}"`));
  const bundled = await Deno.readTextFile(new URL("../../lib/vendor/yaml.js", import.meta.url));
  assert.ok(bundled.includes("Copyright Eemeli Aro"), "the licence travels with the code");
});

Deno.test("the vendored yaml reads documents, positions and errors exactly as the package", () => {
  const docs = [
    "local:\n  - hostname: a.test\n    endpoint: http://rie:8080\n",
    "aws:\n  - hostname: '{alias}.x.test'\n    function_name: fn:{alias}\n    allow: [a, 'b:c']\n",
    "port: 8080\nmetrics: true\nmax_body_size: 6MB\nanchors: &a {x: 1}\nref: *a\n",
    "list:\n- 1\n- two\n- 3.5\n- null\n- ~\n- yes\n",
    "bad: [1, 2\n",
    "a: 1\na: 2\n",
    "key: 'unterminated\n",
    "\t- tab indent\n",
    "multi: |\n  line one\n  line two\n",
    "",
  ];
  for (const text of docs) {
    const lcA = new npmYaml.LineCounter();
    const lcB = new vendored.LineCounter();
    const a = npmYaml.parseDocument(text, { lineCounter: lcA });
    const b = vendored.parseDocument(text, { lineCounter: lcB });
    assert.deepEqual(b.toJS(), a.toJS(), text);
    assert.deepEqual(
      b.errors.map((e) => [e.code, e.message, e.pos]),
      a.errors.map((e) => [e.code, e.message, e.pos]),
      text,
    );
    assert.equal(vendored.isMap(b.contents), npmYaml.isMap(a.contents), text);
    assert.deepEqual(lcB.lineStarts, lcA.lineStarts, text);
  }
});
