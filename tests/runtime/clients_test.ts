/**
 * The bundled runtime clients are real files (`lib/runtime/clients/node.mjs`,
 * `deno.ts`, `python.py`): the texts lrp embeds (`generated.ts`) are exactly
 * those files, each file passes its language's own checker, and lrp writes
 * that text unchanged for a runtime process to run.
 */
import assert from "node:assert/strict";
import { CLIENT_SOURCES, generatedModule } from "../../scripts/gen_clients.ts";
import * as generated from "../../lib/runtime/clients/generated.ts";
import { prepareClient } from "../../lib/runtime/clients.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import type { FunctionRule } from "../../lib/route/rule.ts";

const DIR = new URL("../../lib/runtime/clients/", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("each embedded client text equals its source file (run `deno task clients` after editing one)", async () => {
  const texts: Record<string, string> = {};
  for (const { name, file } of CLIENT_SOURCES) {
    texts[file] = await Deno.readTextFile(DIR + file);
    assert.equal(generated[name], texts[file], `${name} differs from ${file}`);
  }
  assert.equal(Object.keys(generated).sort().join(), "DENO_CLIENT,NODE_CLIENT,PYTHON_CLIENT");
  assert.ok(generatedModule(texts).includes("export const PYTHON_CLIENT: string = "));
});

Deno.test("node --check accepts node.mjs", async () => {
  const { code, stderr } = await run("node", ["--check", DIR + "node.mjs"]);
  assert.equal(stderr, "");
  assert.equal(code, 0);
});

Deno.test("python3 compiles python.py", async () => {
  const cfile = await Deno.makeTempFile({ suffix: ".pyc" });
  try {
    const { code, stderr } = await run("python3", [
      "-c",
      "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
      DIR + "python.py",
      cfile,
    ]);
    assert.equal(stderr, "");
    assert.equal(code, 0);
  } finally {
    await Deno.remove(cfile);
  }
});

Deno.test("a runtime process runs the client file's text, byte for byte", async () => {
  const cases: [string, string][] = [["nodejs", "node.mjs"], ["deno", "deno.ts"], ["python", "python.py"]];
  for (const [runtime, file] of cases) {
    const config = parseConfig(
      `functions:\n  - hostname: fn.test\n    runtime: ${runtime}\n    handler: a.b\n    code: /tmp\n`,
      { source: "/tmp/lrp.yaml" },
    );
    const rule = config.rules[0] as FunctionRule;
    const client = await prepareClient(rule);
    try {
      const written = client.command.at(-1)!;
      assert.equal(await Deno.readTextFile(written), await Deno.readTextFile(DIR + file), runtime);
    } finally {
      await client.close();
    }
  }
});
