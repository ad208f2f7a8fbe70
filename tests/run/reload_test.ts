import assert from "node:assert/strict";
import { startLrp } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { fakeRie } from "../fakes/rie.ts";
import { runLrp, startLrpChild } from "../helpers/process.ts";

const configFor = (endpoint: string, extra = "") =>
  parseConfig(
    `host: 127.0.0.1\nport: 0\n${extra}local:\n  - hostname: 127.0.0.1\n    endpoint: ${endpoint}\n`,
    {
      source: "test.yaml",
    },
  );

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger("debug", (l) => lines.push(JSON.parse(l))) };
}

Deno.test("reload() swaps routes; a request in flight finishes on the configuration it started with", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using slow = fakeRie(async () => {
    await gate;
    return { statusCode: 200, body: "old" };
  });
  await using fresh = fakeRie(() => ({ statusCode: 200, body: "new" }));
  const { log, lines } = capture();
  const running = startLrp(configFor(slow.url), log, "test");
  try {
    const url = `http://127.0.0.1:${running.addr.port}/`;
    const inFlight = fetch(url);
    while (slow.invocations === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await running.reload(() => configFor(fresh.url)), true);
    assert.equal(await (await fetch(url)).text(), "new");
    release();
    const old = await inFlight;
    assert.equal(old.status, 200);
    assert.equal(await old.text(), "old");
    assert.equal(running.config.rules[0]!.kind === "local" && running.config.rules[0]!.endpoint, fresh.url);
    assert.equal(lines.filter((l) => l.msg === "configuration reloaded").length, 1);
    assert.equal(running.metrics.reloads.get({ result: "ok" }), 1);
  } finally {
    await running.shutdown();
  }
});

Deno.test("reload() rejects an invalid configuration with one log line and keeps serving the old one", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "still here" }));
  const { log, lines } = capture();
  const running = startLrp(configFor(rie.url), log, "test");
  try {
    const ok = await running.reload(() => parseConfig("local: nope\n", { source: "lrp.yaml" }));
    assert.equal(ok, false);
    const rejected = lines.filter((l) => l.level === "error");
    assert.deepEqual(rejected.map((l) => [l.msg, l.error]), [[
      "reload rejected: invalid configuration; still serving the previous one",
      "lrp.yaml:1: local: must be a list of rules",
    ]]);
    assert.equal(await (await fetch(`http://127.0.0.1:${running.addr.port}/`)).text(), "still here");
    assert.equal(running.metrics.reloads.get({ result: "error" }), 1);
  } finally {
    await running.shutdown();
  }
});

Deno.test("reload() keeps the queue of an unchanged rule: an RIE never gets two invocations at once", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let running = 0;
  let most = 0;
  await using rie = fakeRie(async () => {
    most = Math.max(most, ++running);
    await gate;
    running--;
    return { statusCode: 200, body: "x" };
  });
  const { log, lines } = capture();
  const lrp = startLrp(configFor(rie.url), log, "test");
  try {
    const url = `http://127.0.0.1:${lrp.addr.port}/`;
    const first = fetch(url);
    while (rie.invocations === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await lrp.reload(() => ({ ...configFor(rie.url), port: 1234 })), true);
    const second = fetch(url);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rie.invocations, 1, "the second request waits for the first one's slot");
    release();
    assert.deepEqual(await Promise.all([first, second].map(async (p) => (await p).text())), ["x", "x"]);
    assert.equal(most, 1);
    const warn = lines.find((l) => l.level === "warn");
    assert.equal(warn?.msg, "reload cannot change the listen address; restart lrp to move it");
    assert.equal(warn?.configured, "127.0.0.1:1234");
  } finally {
    release();
    await lrp.shutdown();
  }
});

Deno.test("reload() reports a loader that fails otherwise as a failed reload", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "x" }));
  const { log, lines } = capture();
  const running = startLrp(configFor(rie.url), log, "test");
  try {
    assert.equal(
      await running.reload(() => {
        throw new Error("boom");
      }),
      false,
    );
    assert.deepEqual([lines.at(-1)?.msg, lines.at(-1)?.error], [
      "reload failed; still serving the previous configuration",
      "boom",
    ]);
  } finally {
    await running.shutdown();
  }
});

Deno.test("SIGHUP under load swaps routes without a failed request; a bad file is rejected", async () => {
  if (Deno.build.os === "windows") return;
  await using a = fakeRie(() => ({ statusCode: 200, body: "A" }));
  await using b = fakeRie(() => ({ statusCode: 200, body: "B" }));
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lrp.yaml`;
  const yaml = (endpoint: string) => `local:\n  - hostname: 127.0.0.1\n    endpoint: ${endpoint}\n`;
  await Deno.writeTextFile(path, yaml(a.url));
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path]);

  const seen: string[] = [];
  const perWorker: string[] = Array.from({ length: 8 }, () => "");
  const failures: string[] = [];
  let stop = false;
  const worker = async (_: unknown, n: number) => {
    while (!stop) {
      try {
        const r = await fetch(`${lrp.url}/`);
        const text = await r.text();
        perWorker[n] += text;
        if (r.status === 200) seen.push(text);
        else failures.push(`${r.status} ${text}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  while (seen.length < 200) await new Promise((r) => setTimeout(r, 10));
  await Deno.writeTextFile(path, yaml(b.url));
  lrp.process.kill("SIGHUP");
  await lrp.waitForLine((l) => l.msg === "configuration reloaded");
  while (b.invocations < 200) await new Promise((r) => setTimeout(r, 10));

  await Deno.writeTextFile(path, "local: [\n");
  lrp.process.kill("SIGHUP");
  const rejected = await lrp.waitForLine((l) => String(l.msg).startsWith("reload rejected"));
  assert.equal(
    rejected.error,
    `${path}:2: YAML syntax error: deficient indentation`,
  );
  const atReject = seen.length;
  while (seen.length < atReject + 100) await new Promise((r) => setTimeout(r, 10));
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(failures, []);
  assert.equal(seen[0], "A");
  assert.equal(seen.at(-1), "B");
  // Each client sends one request after another: once one of its requests got
  // B, none of its later ones reached A.
  for (const answers of perWorker) assert.match(answers, /^A+B+$/);
  assert.ok(a.invocations >= 200 && b.invocations >= 300, `${a.invocations} ${b.invocations}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("watch_config: true reloads when the file is replaced", async () => {
  await using a = fakeRie(() => ({ statusCode: 200, body: "A" }));
  await using b = fakeRie(() => ({ statusCode: 200, body: "B" }));
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lrp.yaml`;
  const yaml = (endpoint: string) =>
    `watch_config: true\nlocal:\n  - hostname: 127.0.0.1\n    endpoint: ${endpoint}\n`;
  await Deno.writeTextFile(path, yaml(a.url));
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path]);
  assert.equal(await (await fetch(`${lrp.url}/`)).text(), "A");
  // As editors do: write a temporary file, rename it over the original.
  await Deno.writeTextFile(`${path}.tmp`, yaml(b.url));
  await Deno.rename(`${path}.tmp`, path);
  await lrp.waitForLine((l) => l.msg === "configuration reloaded");
  assert.equal(await (await fetch(`${lrp.url}/`)).text(), "B");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reload() refuses an empty file or one without routes and keeps serving, unless allow_empty_reload", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "still here" }));
  const { log, lines } = capture();
  const running = startLrp(configFor(rie.url), log, "test");
  try {
    const url = `http://127.0.0.1:${running.addr.port}/`;
    for (const text of ["", "# all rules commented out\nlocal: []\n"]) {
      assert.equal(await running.reload(() => parseConfig(text, { source: "lrp.yaml" })), false);
      assert.equal(await (await fetch(url)).text(), "still here");
    }
    const rejected = lines.filter((l) => l.level === "error");
    assert.deepEqual(rejected.map((l) => [l.msg, l.routes]), [
      ["reload rejected: the new configuration has no routes; still serving the previous one", 1],
      ["reload rejected: the new configuration has no routes; still serving the previous one", 1],
    ]);
    assert.equal(running.metrics.reloads.get({ result: "error" }), 2);
    const allowed = parseConfig("", { source: "lrp.yaml", env: { LRP_ALLOW_EMPTY_RELOAD: "true" } });
    assert.equal(await running.reload(() => allowed), true);
    assert.equal((await fetch(url)).status, 404);
  } finally {
    await running.shutdown();
  }
});

Deno.test("lrp check warns about a configuration with no routes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lrp.yaml`, "port: 9000\n");
    const { code, stdout, stderr } = await runLrp(["check", `${dir}/lrp.yaml`]);
    assert.equal(code, 0);
    assert.equal(stdout, `${dir}/lrp.yaml: ok, 0 route(s), listening on 0.0.0.0:9000\n`);
    assert.equal(
      stderr,
      `lrp: warning: ${dir}/lrp.yaml has no routes: every request will get 404 (add "local:", "aws:" or "functions:" rules)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload() keeps a functions rule's warm process when only its routes change", async () => {
  const code = new URL("../runtime/fixtures/node_echo", import.meta.url).pathname;
  const functions = (extra: string) =>
    parseConfig(
      `host: 127.0.0.1\nport: 0\nfunctions:\n  - hostname: 127.0.0.1\n    runtime: nodejs\n` +
        `    handler: index.handler\n    code: ${code}\n${extra}`,
      { source: "test.yaml" },
    );
  const { log } = capture();
  const lrp = startLrp(functions(""), log, "test");
  try {
    const url = `http://127.0.0.1:${lrp.addr.port}`;
    const before = await (await fetch(`${url}/a`)).json();
    assert.equal(await lrp.reload(() => functions('    routes: ["ANY /{proxy+}"]\n')), true);
    const after = await (await fetch(`${url}/b`)).json();
    assert.equal(after.pid, before.pid, "the same runtime process answers");
    assert.equal(after.count, 2);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("a reload logs the new file's deprecated keys, as a start does", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const { log, lines } = capture();
  const running = startLrp(configFor(rie.url), log, "test");
  try {
    const code = new URL("../runtime/fixtures/node_echo", import.meta.url).pathname;
    const next = parseConfig(
      `host: 127.0.0.1\nport: 0\nfunctions:\n  - hostname: fn.test\n    runtime: nodejs\n` +
        `    handler: index.handler\n    code: ${code}\n    watch: false\n`,
      { source: "test.yaml" },
    );
    assert.equal(await running.reload(() => next), true);
    assert.deepEqual(lines.filter((l) => l.level === "warn").map((l) => l.msg), [
      "test.yaml:8: functions[0].watch: deprecated, use watch_code (it restarts the function when its code " +
      "changes; watch_config reloads this file)",
    ]);
  } finally {
    await running.shutdown();
  }
});
