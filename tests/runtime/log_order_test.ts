/**
 * A runtime process takes its next invocation as soon as it answers, while
 * END and REPORT wait for the output still in its pipes: under back-to-back
 * requests every invocation's lines still read START, its output, END,
 * REPORT, and the next START comes after them (docs/functions.md, "Logs").
 */
import assert from "node:assert/strict";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("back-to-back invocations of one process keep START, output, END, REPORT in order", async () => {
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_echo
    concurrency: 1
`);
  await using lrp = await startLrpChild([path]);
  const answers = await Promise.all(Array.from({ length: 30 }, () => request(lrp.port, "fn.test", "/log")));
  assert.deepEqual(answers.map((a) => a.status), Array(30).fill(200));
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const output = await lrp.waitForLine((l) =>
      l.msg === "hello from the handler" && !ids.includes(String(l.requestId))
    );
    ids.push(String(output.requestId));
  }
  await lrp.waitForLine((l) => String(l.msg).startsWith(`REPORT RequestId: ${ids[29]}\t`));
  const msgs = lrp.lines.filter((l) => l.function === "fn-test").map((l) => ({
    msg: String(l.msg),
    id: l.requestId,
  }));
  const at = (match: (m: { msg: string; id: unknown }) => boolean) => {
    const i = msgs.findIndex(match);
    assert.notEqual(i, -1);
    return i;
  };
  let previousReport = -1;
  for (
    const id of ids.toSorted((a, b) =>
      at((m) => m.msg === `START RequestId: ${a} Version: $LATEST`) -
      at((m) => m.msg === `START RequestId: ${b} Version: $LATEST`)
    )
  ) {
    const start = at((m) => m.msg === `START RequestId: ${id} Version: $LATEST`);
    const output = at((m) => m.msg === "hello from the handler" && m.id === id);
    const end = at((m) => m.msg === `END RequestId: ${id}`);
    const report = at((m) => m.msg.startsWith(`REPORT RequestId: ${id}\t`));
    assert.ok(previousReport < start && start < output && output < end && end < report, `order of ${id}`);
    previousReport = report;
  }
});
