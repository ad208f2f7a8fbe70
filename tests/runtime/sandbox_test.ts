/**
 * What a function may do to lrp, end to end (`deno run main.ts` with real
 * node runtimes): its environment holds only what Lambda would give it, its
 * memory is bounded, its exit ends its process group, and its output (huge
 * lines, floods) neither stalls lrp nor costs lrp its own log lines.
 */
import assert from "node:assert/strict";
import { alive, startLrpChild, tempConfig, waitFor } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const CODE = new URL("./fixtures/node_sandbox/", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

function config(rules: string, top = ""): string {
  return `host: 127.0.0.1\nport: 0\n${top}functions:\n${rules}`;
}

function rule(hostname: string, extra = ""): string {
  return `  - hostname: ${hostname}\n    runtime: nodejs\n    handler: index.handler\n    code: ${CODE}\n${extra}`;
}

Deno.test("a function gets its environment, Lambda's variables and what its runtime needs, never lrp's credentials or LRP_ settings", async () => {
  const path = await tempConfig(config(
    rule("plain.test", "    name: plain\n    environment: { STAGE: local }\n") +
      rule(
        "creds.test",
        "    name: creds\n    environment_passthrough: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n",
      ),
  ));
  await using lrp = await startLrpChild([path], {
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH")!,
      HOME: "/home/fn-test",
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret-key",
      AWS_SESSION_TOKEN: "session-token",
      LRP_QUEUE_LIMIT: "50",
      UNRELATED: "x",
    },
  });
  const plain = JSON.parse((await request(lrp.port, "plain.test", "/env")).text);
  const lambda = (name: string) => ({
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "128",
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_TIMEOUT: "3",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "$LATEST",
    AWS_LAMBDA_RUNTIME_API: plain.AWS_LAMBDA_RUNTIME_API,
    AWS_REGION: "us-east-1",
    DENO_DIR,
    HOME: "/home/fn-test",
    LAMBDA_RUNTIME_DIR: CODE,
    LAMBDA_TASK_ROOT: CODE,
    LANG: "en_US.UTF-8",
    NO_COLOR: "1",
    PATH: Deno.env.get("PATH")!,
    TZ: ":UTC",
    _HANDLER: "index.handler",
  });
  const { NO_COLOR: _, ...expected } = lambda("plain");
  // The bundled client sets the trace id of each invocation, as Lambda's do.
  assert.match(plain._X_AMZN_TRACE_ID, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  assert.deepEqual(plain, { ...expected, STAGE: "local", _X_AMZN_TRACE_ID: plain._X_AMZN_TRACE_ID });
  const creds = JSON.parse((await request(lrp.port, "creds.test", "/env")).text);
  const { NO_COLOR: __, ...expectedCreds } = lambda("creds");
  assert.deepEqual(creds, {
    ...expectedCreds,
    AWS_LAMBDA_RUNTIME_API: creds.AWS_LAMBDA_RUNTIME_API,
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "secret-key",
    _X_AMZN_TRACE_ID: creds._X_AMZN_TRACE_ID,
  });
});

Deno.test("a node function's Buffers beyond its memory fail the invocation instead of growing the process", async () => {
  const path = await tempConfig(config(rule("fn.test", "    memory: 256\n    timeout: 20s\n")));
  await using lrp = await startLrpChild([path]);
  const big = await request(lrp.port, "fn.test", "/buffers?mb=512");
  assert.equal(big.status, 502);
  const error = await lrp.waitForLine((l) => l.stream === "stderr" && /RangeError/.test(String(l.msg)));
  assert.match(String(error.msg), /Array buffer allocation failed/);
  const small = await request(lrp.port, "fn.test", "/buffers?mb=64");
  assert.equal(small.status, 200);
  assert.deepEqual(JSON.parse(small.text), { allocatedMb: 64 });
});

Deno.test("a runtime's exit ends its process group and is answered at once, even while a detached child holds its output", async () => {
  const path = await tempConfig(config(rule("fn.test", "    timeout: 20s\n"), "shutdown_timeout: 2s\n"));
  await using lrp = await startLrpChild([path]);
  const detachedPids: number[] = [];
  try {
    for (const detached of [false, true]) {
      const t0 = performance.now();
      const res = await request(lrp.port, "fn.test", `/child-exit?detached=${detached ? 1 : 0}`);
      const ms = performance.now() - t0;
      assert.equal(res.status, 502, res.text);
      assert.ok(ms < 3_000, `answered in ${ms.toFixed(0)} ms, not at the function timeout`);
      const line = await waitFor(
        "the runtime's child pid",
        () => lrp.lines.filter((l) => /^child \d+$/.test(String(l.msg)))[detached ? 1 : 0],
      );
      const pid = Number(String(line.msg).slice(6));
      await lrp.waitForLine((l) =>
        l.requestId === line.requestId &&
        /its runtime exited \(Runtime\.ExitError\): RequestId: \S+ Error: Runtime exited with error: exit status 3$/
          .test(String(l.msg))
      );
      if (detached) {
        detachedPids.push(pid);
        // lrp gave up its end of the pipe the escaped child still writes to (no descriptor kept for it).
        const pipe = Deno.readLinkSync(`/proc/${pid}/fd/1`);
        const fds = `/proc/${lrp.process.pid}/fd`;
        const held = [...Deno.readDirSync(fds)].filter((e) => {
          try {
            return Deno.readLinkSync(`${fds}/${e.name}`) === pipe;
          } catch {
            return false;
          }
        });
        assert.equal(held.length, 0);
      } else {
        // Killed with its group when the runtime exited: gone by the time the 502 is logged.
        assert.equal(await alive(pid), false, "the runtime's child died with it");
      }
      const next = await request(lrp.port, "fn.test", "/pid");
      assert.equal(next.status, 200, "a fresh process answers the next request");
    }
    const t0 = performance.now();
    const status = await lrp.stop("SIGTERM");
    assert.equal(status.code, 0);
    assert.ok(performance.now() - t0 < 4_000, "SIGTERM ends lrp within its shutdown_timeout");
  } finally {
    for (const pid of detachedPids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
});

Deno.test("a 100 MB output line without a newline is read in linear time and capped at 256 KiB; lrp stays responsive", async () => {
  const path = await tempConfig(config(rule("fn.test", "    timeout: 30s\n    memory: 1024\n")));
  await using lrp = await startLrpChild([path]);
  await request(lrp.port, "fn.test", "/pid"); // warm: the cold start is not measured
  const long = request(lrp.port, "fn.test", "/long-line?mb=100");
  let done = false;
  let slowest = 0;
  long.finally(() => done = true);
  while (!done) {
    const t0 = performance.now();
    const ping = await fetch(`${lrp.url}/ping`);
    await ping.body?.cancel();
    slowest = Math.max(slowest, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await long).status, 200);
  assert.ok(slowest < 1_000, `slowest /ping during the long line: ${slowest.toFixed(0)} ms`);
  const cut = await lrp.waitForLine((l) => l.truncated === true);
  assert.equal(String(cut.msg), "x".repeat(256 * 1024));
  assert.equal(cut.lineBytes, 100 * 1024 * 1024);
  assert.equal(cut.stream, "stdout");
  const after = await lrp.waitForLine((l) => l.msg === "after the long line");
  assert.equal(after.requestId, cut.requestId);
  assert.equal(after.truncated, undefined);
});

Deno.test("a function flooding 100 MB of output costs lrp none of its own lines; dropped output lines are counted and reported", async () => {
  const path = await tempConfig(config(
    rule("flood.test", "    timeout: 60s\n    memory: 1024\n") + rule("other.test", "    name: other\n"),
  ));
  await using lrp = await startLrpChild([path]);
  await request(lrp.port, "other.test", "/pid");
  const flood = request(lrp.port, "flood.test", "/flood?mb=100");
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await request(lrp.port, "other.test", `/pid?i=${i}`);
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal((await flood).status, 200);
  for (let i = 0; i < 20; i++) {
    const line = await lrp.waitForLine((l) =>
      l.msg === "request" && l.path === "/pid" && l.host === "other.test" &&
      !ids.includes(String(l.requestId))
    );
    ids.push(String(line.requestId));
  }
  assert.equal(ids.length, 20);
  const total = 100 * 1024;
  let metrics = "";
  let dropped = 0;
  let floodLines = 0;
  for (const until = Date.now() + 20_000; Date.now() < until;) {
    metrics = await (await fetch(`${lrp.url}/metrics`)).text();
    dropped = Number(/^lrp_log_lines_dropped_total\{source="function"\} (\d+)$/m.exec(metrics)?.[1]);
    floodLines = lrp.lines.filter((l) => String(l.msg).startsWith("flood ")).length;
    if (floodLines + dropped >= total) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(metrics, /^lrp_log_lines_dropped_total\{source="lrp"\} 0$/m);
  await lrp.stop();
  const reports = lrp.lines.filter((l) => l.level === "warn" && typeof l.dropped === "number");
  const reported = reports.reduce((n, l) => n + Number(l.dropped), 0);
  // 100 MB in about a second outruns the reader of lrp's stderr (this test, parsing every line).
  assert.ok(dropped > 0 && reports.length > 0, `dropped ${dropped} in ${reports.length} warnings`);
  assert.equal(reported, dropped, "every dropped line is in a warning");
  assert.equal(floodLines + dropped, total, "each flood line is either logged or counted");
});

Deno.test("a function's output lines appear between its invocation's START and END, in order, for each invocation", async () => {
  const path = await tempConfig(config(rule("fn.test")));
  await using lrp = await startLrpChild([path]);
  const rounds = 30;
  for (let i = 0; i < rounds; i++) {
    const res = await request(lrp.port, "fn.test", `/order?tag=t${i}&n=${i % 3 === 0 ? 200 : 5}`);
    assert.equal(res.status, 200);
  }
  await lrp.waitForLine((l) =>
    String(l.msg).startsWith("REPORT ") &&
    lrp.lines.filter((x) => String(x.msg).startsWith("REPORT ")).length === rounds
  );
  await lrp.stop();
  const msgs = lrp.lines.map((l) => String(l.msg));
  for (let i = 0; i < rounds; i++) {
    const n = i % 3 === 0 ? 200 : 5;
    const first = msgs.indexOf(`order t${i} 0`);
    const id = String(lrp.lines[first]!.requestId);
    const start = msgs.indexOf(`START RequestId: ${id} Version: $LATEST`);
    const end = msgs.indexOf(`END RequestId: ${id}`);
    const report = msgs.findIndex((m) => m.startsWith(`REPORT RequestId: ${id}\t`));
    const stderr = lrp.lines.map((l, at) => ({ l, at })).filter(({ l }) =>
      String(l.msg).startsWith(`order t${i} `) && l.stream === "stderr"
    );
    assert.deepEqual(stderr.map(({ l }) => l.msg), Array.from({ length: n }, (_, k) => `order t${i} ${k}`));
    const out = msgs.indexOf(`order t${i} stdout`);
    for (const at of [...stderr.map((x) => x.at), out]) {
      assert.equal(lrp.lines[at]!.requestId, id, `round ${i}: line ${msgs[at]} has its invocation's id`);
      assert.ok(
        start < at && at < end,
        `round ${i}: ${msgs[at]} (${at}) between START (${start}) and END (${end})`,
      );
    }
    assert.equal(report, end + 1, `round ${i}: REPORT right after END`);
  }
});

Deno.test("a python function writes no __pycache__ into its code folder, as Lambda's read-only one gets none", async () => {
  const code = await Deno.makeTempDir();
  await Deno.copyFile(new URL("./fixtures/py_echo/app.py", import.meta.url), `${code}/app.py`);
  const path = await tempConfig(
    config(`  - hostname: py.test\n    runtime: python\n    handler: app.handler\n    code: ${code}\n`),
  );
  await using lrp = await startLrpChild([path], { env: { PYTHONDONTWRITEBYTECODE: "" } });
  const res = await request(lrp.port, "py.test", "/");
  assert.equal(res.status, 200);
  assert.deepEqual([...Deno.readDirSync(code)].map((e) => e.name), ["app.py"]);
  await Deno.remove(code, { recursive: true });
});
