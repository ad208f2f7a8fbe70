/**
 * A runtime process takes its next invocation as soon as it answers, while
 * END and REPORT wait for the output still on its way: under back-to-back
 * requests every invocation's lines read START, its output, END, REPORT,
 * and the next START comes after them, however the output left the handler
 * (docs/functions.md, "Logs"): `console`, `print`, `logging`, a line in two
 * writes, a write straight to the descriptor (over the bundled Node.js and
 * Python clients' private channel), a child process, a descriptor of the
 * handler's own (the pipes).
 */
import assert from "node:assert/strict";
import { type LrpChild, startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** The runtimes whose clients send their output over the channel, their fixture and its ways to log a line. */
const RUNTIMES = {
  nodejs: { code: "node_echo", ways: [["console", "/log"], ["a line in two writes", "/log-parts"]] },
  python: {
    code: "py_private",
    ways: [["print", "/log"], ["logging", "/log-logging"], [
      "sys.stdout.buffer in two writes",
      "/log-buffer",
    ]],
  },
} as const;
/** The Deno client's console writes to the pipes (it says PIPES after its HELLO): lrp waits for them. */
const DENO = {
  code: "deno_private",
  ways: [["console", "/log"], ["console, behind 70 KB of output", "/log-long"]],
} as const;
type Runtime = keyof typeof RUNTIMES | "deno";

const config = (concurrency: number, runtime: Runtime = "nodejs") =>
  tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: ${runtime}
    handler: index.handler
    code: ${FIXTURES}${runtime === "deno" ? DENO.code : RUNTIMES[runtime].code}
    concurrency: ${concurrency}
`);

/** Each invocation's START, output, END and REPORT in this order; with one process, each after the previous REPORT. */
function assertOrder(lines: Record<string, unknown>[], ids: string[], oneProcess: boolean): void {
  const msgs = lines.filter((l) => l.function === "fn-test").map((l) => ({
    msg: String(l.msg),
    id: l.requestId,
  }));
  const at = (match: (m: { msg: string; id: unknown }) => boolean) => {
    const i = msgs.findIndex(match);
    assert.notEqual(i, -1);
    return i;
  };
  const start = (id: string) => at((m) => m.msg === `START RequestId: ${id} Version: $LATEST`);
  let previousReport = -1;
  for (const id of ids.toSorted((a, b) => start(a) - start(b))) {
    const begin = start(id);
    const output = at((m) => m.msg === "hello from the handler" && m.id === id);
    const end = at((m) => m.msg === `END RequestId: ${id}`);
    const report = at((m) => m.msg.startsWith(`REPORT RequestId: ${id}\t`));
    assert.ok(begin < output && output < end && end < report, `order of ${id}`);
    if (oneProcess) assert.ok(previousReport < begin, `${id} starts after the previous REPORT`);
    previousReport = report;
  }
}

/** The request ids of the first `n` invocations that logged the handler's line, once each has its REPORT. */
async function loggedIds(lrp: LrpChild, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const output = await lrp.waitForLine((l) =>
      l.msg === "hello from the handler" && !ids.includes(String(l.requestId))
    );
    ids.push(String(output.requestId));
  }
  for (const id of ids) await lrp.waitForLine((l) => String(l.msg).startsWith(`REPORT RequestId: ${id}\t`));
  return ids;
}

async function backToBack(paths: string[], concurrency: number, runtime: Runtime): Promise<void> {
  const path = await config(concurrency, runtime);
  await using lrp = await startLrpChild([path]);
  const answers = await Promise.all(paths.map((p) => request(lrp.port, "fn.test", p)));
  assert.deepEqual(answers.map((a) => a.status), paths.map(() => 200));
  assertOrder(lrp.lines, await loggedIds(lrp, paths.length), concurrency === 1);
}

for (const [how, p] of DENO.ways) {
  Deno.test(`deno: back-to-back invocations of one process keep START, output, END, REPORT in order: ${how}`, async () => {
    await backToBack(Array(30).fill(p), 1, "deno");
  });
}

type Own = keyof typeof RUNTIMES;
for (const [runtime, { ways }] of Object.entries(RUNTIMES) as [Own, typeof RUNTIMES[Own]][]) {
  for (const [how, p] of ways) {
    Deno.test(`${runtime}: back-to-back invocations of one process keep START, output, END, REPORT in order: ${how}`, async () => {
      await backToBack(Array(30).fill(p), 1, runtime);
    });
  }

  Deno.test(`${runtime}: back-to-back invocations keep their order with output straight to the descriptor and from a child`, async () => {
    const paths = Array.from({ length: 30 }, (_, i) => ["/log", "/log-fd", "/log-child"][i % 3]!);
    await backToBack(paths, 1, runtime);
  });

  Deno.test(`${runtime}: once a child process has started, output the client cannot see waits for the pipes to settle`, async () => {
    // `/spawn` starts a silent child; every later invocation writes on a descriptor of its own onto stdout.
    const path = await config(1, runtime);
    await using lrp = await startLrpChild([path]);
    assert.equal((await request(lrp.port, "fn.test", "/spawn")).status, 200);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => request(lrp.port, "fn.test", "/log-devstdout")),
    );
    assert.deepEqual(answers.map((a) => a.status), Array(30).fill(200));
    assertOrder(lrp.lines, await loggedIds(lrp, 30), true);
  });

  Deno.test(`${runtime}: four processes under 200 concurrent requests file every line under its own invocation`, async () => {
    await backToBack(Array(200).fill("/log"), 4, runtime);
  });

  Deno.test(`${runtime}: a line logged just before the process exits is kept, under its invocation`, async () => {
    const path = await config(1, runtime);
    await using lrp = await startLrpChild([path]);
    const r = await request(lrp.port, "fn.test", "/log-exit");
    assert.equal(r.status, 502);
    const line = await lrp.waitForLine((l) => l.msg === "last words");
    assert.equal(line.stream, "stdout");
    const start = await lrp.waitForLine((l) => String(l.msg).startsWith("START RequestId: "));
    assert.equal(line.requestId, start.requestId);
  });
}

Deno.test("the handler's write APIs keep their callbacks and return values with output over the channel", async () => {
  const path = await config(1);
  await using lrp = await startLrpChild([path]);
  const r = await request(lrp.port, "fn.test", "/log-callbacks");
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(r.body)), {
    streamDone: true,
    written: 20,
    err: null,
    asyncWritten: 4,
    returned: true,
    bufferWritten: 12,
  });
  const start = await lrp.waitForLine((l) => String(l.msg).startsWith("START RequestId: "));
  const expected = [
    ["stream callback", "stdout"],
    ["bytes via writeSync", "stderr"],
    ["hex", "stdout"],
    ["bytes", "stderr"],
    ["buffer form", "stdout"],
  ] as const;
  for (const [msg, stream] of expected) {
    const line = await lrp.waitForLine((l) => l.msg === msg);
    assert.equal(line.stream, stream, msg);
    assert.equal(line.requestId, start.requestId, msg);
  }
});

Deno.test("python: threads printing large lines while the handler answers keep the channel whole", async () => {
  const path = await config(1, "python");
  await using lrp = await startLrpChild([path]);
  const first = JSON.parse(new TextDecoder().decode((await request(lrp.port, "fn.test", "/")).body));
  const r = await request(lrp.port, "fn.test", "/log-threads");
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 512 * 1024);
  await lrp.waitForLine((l) => l.msg === "after the threads");
  const again = JSON.parse(new TextDecoder().decode((await request(lrp.port, "fn.test", "/")).body));
  assert.equal(again.pid, first.pid, "the process kept its channel, and lives");
});
