import assert from "node:assert/strict";
import { parseYaml, YamlSyntaxError } from "../../lib/config/yaml.ts";

Deno.test("parseYaml() gives the value and the line of every node, block and flow, empty values at their key", () => {
  const doc = parseYaml(
    [
      "# a comment",
      "port: 8080",
      "local:",
      "  - hostname: a",
      "    endpoint: http://a:8080",
      "  - {hostname: b, endpoint: 'http://b'}",
      "aws:",
      "  -",
      "    hostname: c",
      "    allow: [f1,",
      "      f2]",
      "empty:",
      "'quoted key': 1",
      "last: x",
    ].join("\n"),
  );
  assert.equal(doc.rootIsMapping, true);
  assert.equal((doc.value as Record<string, unknown>).port, 8080);
  assert.deepEqual((doc.value as Record<string, unknown>).aws, [{ hostname: "c", allow: ["f1", "f2"] }]);
  const lines = [
    [["port"], 2],
    [["local"], 4],
    [["local", 0], 4],
    [["local", 0, "endpoint"], 5],
    [["local", 1], 6],
    [["local", 1, "endpoint"], 6],
    [["aws", 0], 9],
    [["aws", 0, "allow"], 10],
    [["aws", 0, "allow", 1], 11],
    [["empty"], 12],
    [["quoted key"], 13],
    [["last"], 14],
    [["nope"], 0],
    [["local", 2], 0],
  ] as const;
  for (const [path, line] of lines) assert.equal(doc.lineOf(path), line, path.join("."));
});

Deno.test("parseYaml() reports a repeated key with its path and both lines, the last value kept", () => {
  const doc = parseYaml("a: 1\nb:\n  - c: 1\n    c: 2\n    'c': 3\na: 4\n");
  assert.deepEqual(doc.value, { a: 4, b: [{ c: 3 }] });
  assert.deepEqual(doc.duplicates, [
    { path: ["b", 0, "c"], line: 4, firstLine: 3 },
    { path: ["b", 0, "c"], line: 5, firstLine: 3 },
    { path: ["a"], line: 6, firstLine: 1 },
  ]);
  assert.deepEqual(parseYaml("a: 1\nb: 2\n").duplicates, []);
});

Deno.test("parseYaml() keeps the YAML 1.2 core schema: yes is a string, no merge keys", () => {
  assert.deepEqual(parseYaml("a: yes\nb: 010\nc: ~\n").value, { a: "yes", b: 10, c: null });
  assert.deepEqual(parseYaml("").value, null);
  assert.equal(parseYaml("").rootIsMapping, true);
  assert.equal(parseYaml("- a\n").rootIsMapping, false);
  assert.equal(parseYaml("just text\n").rootIsMapping, false);
  const refused = (text: string, line: number, reason: string) =>
    assert.throws(() => parseYaml(text), (err: unknown) => {
      assert.ok(err instanceof YamlSyntaxError, String(err));
      assert.deepEqual([err.line, err.reason], [line, reason]);
      return true;
    });
  refused("a: 1\n---\nb: 2\n", 3, "more than one document");
  refused("a: [1,\nb: 2\n", 2, "deficient indentation");
});

Deno.test("the YAML parser is a pinned npm package, not source kept in the repository", async () => {
  const source = await Deno.readTextFile(new URL("../../lib/config/yaml.ts", import.meta.url));
  assert.match(source, /from "npm:js-yaml@\d+\.\d+\.\d+"/);
  const lock = JSON.parse(await Deno.readTextFile(new URL("../../main.lock", import.meta.url)));
  assert.equal(lock.specifiers["npm:js-yaml@5.5.0"], "5.5.0");
  for (const gone of ["../../lib/vendor", "../../scripts/vendor_yaml.ts"]) {
    await assert.rejects(Deno.stat(new URL(gone, import.meta.url)), Deno.errors.NotFound);
  }
});
