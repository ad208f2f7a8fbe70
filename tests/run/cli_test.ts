/**
 * What a new user sees from the command line: lrp's own one-line messages,
 * with a suggestion, for unknown flags, misspelt subcommands and a busy port.
 */
import assert from "node:assert/strict";
import { runLrp, tempConfig } from "../helpers/process.ts";
import { closest } from "../../lib/run/cli.ts";

Deno.test("an unknown flag gets lrp's one-line message with the closest flag", async () => {
  const { code, stdout, stderr } = await runLrp(["--prot", "9000"]);
  assert.deepEqual([code, stdout, stderr], [
    2,
    "",
    'lrp: unknown option --prot (did you mean "--port"?); run "lrp --help" for usage\n',
  ]);
  const far = await runLrp(["--zzzzzzzz"]);
  assert.equal(far.stderr, 'lrp: unknown option --zzzzzzzz; run "lrp --help" for usage\n');
  const missing = await runLrp(["--port"]);
  assert.equal(missing.stderr, 'lrp: option --port needs a value; run "lrp --help" for usage\n');
});

Deno.test("a misspelt subcommand gets a suggestion instead of being read as a config path", async () => {
  const { code, stderr } = await runLrp(["chek", "lrp.yaml"]);
  assert.equal(code, 2);
  assert.equal(stderr, 'lrp: unknown command "chek" (did you mean "check"?); run "lrp --help" for usage\n');
  const demo = await runLrp(["dmeo"]);
  assert.equal(
    demo.stderr,
    'lrp: unknown command "dmeo" (did you mean "demo"?); run "lrp --help" for usage\n',
  );
});

Deno.test("a busy port says so and suggests --port", async () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/lrp.yaml`,
      "local:\n  - hostname: a.test\n    endpoint: http://127.0.0.1:1\n",
    );
    const { code, stderr } = await runLrp(["--host", "127.0.0.1", "--port", String(port), `${dir}/lrp.yaml`]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `lrp: cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --port (or LRP_PORT, or port: in the file)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closest() suggests within edit distance 2 and nothing further", () => {
  assert.equal(closest("chek", ["check", "demo"]), "check");
  assert.equal(closest("helthcheck", ["check", "healthcheck"]), "healthcheck");
  assert.equal(closest("xyz", ["check", "demo"]), undefined);
});

Deno.test("more than one config operand is one line naming them", async () => {
  const res = await runLrp(["a.yaml", "b.yaml"]);
  assert.equal(res.code, 2);
  assert.equal(res.stderr, 'lrp: too many arguments: a.yaml b.yaml; run "lrp --help" for usage\n');
});

Deno.test("lrp check lists every mistake of the file, one file:line: key: message each, and serving refuses the same list", async () => {
  const path = await tempConfig(
    "prot: 8080\nlocal:\n  - hostname: a.test\n    endpoint: nope\n  - hostname: b.test\n    endpont: http://x\n",
  );
  try {
    const mistakes = [
      `${path}:1: prot: unknown key (did you mean "port"?)`,
      `${path}:4: local[0].endpoint: "nope" is not a valid URL (expected e.g. http://lambda-1:8080)`,
      `${path}:5: local[1]: missing required key "endpoint"`,
      `${path}:6: local[1].endpont: unknown key (did you mean "endpoint"?)`,
    ];
    const expected = `lrp: invalid configuration, 4 mistakes:\n${mistakes.join("\n")}\n`;
    const check = await runLrp(["check", path]);
    assert.deepEqual([check.code, check.stdout, check.stderr], [1, "", expected]);
    const serve = await runLrp(["--port", "0", path]);
    assert.deepEqual([serve.code, serve.stderr], [1, expected]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("--watch still switches watch_config on, with a warning naming --watch-config", async () => {
  const path = await tempConfig("local:\n  - hostname: a.test\n    endpoint: http://127.0.0.1:1\n");
  try {
    const old = await runLrp(["check", "--watch", path]);
    assert.deepEqual([old.code, old.stderr], [
      0,
      "lrp: warning: --watch is deprecated, use --watch-config (it reloads the configuration file when it " +
      "changes; watch_code: in a functions rule restarts a function when its code changes)\n",
    ]);
    const current = await runLrp(["check", "--watch-config", path]);
    assert.deepEqual([current.code, current.stderr], [0, ""]);
  } finally {
    await Deno.remove(path);
  }
});
