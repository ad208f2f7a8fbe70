/**
 * `functions:` rules end to end: lrp (`deno run main.ts`) serves the Lambda
 * Runtime API to real runtime processes (node, python3, deno, a curl
 * bootstrap) and answers through its usual handler.
 */
import assert from "node:assert/strict";
import { alive, startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

function functionsConfig(rules: string): string {
  return `host: 127.0.0.1\nport: 0\nfunctions:\n${rules}`;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

Deno.test("a nodejs handler folder answers with Lambda's environment and context, and logs START/END/REPORT", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: fn.test
    name: echo
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_echo
    memory: 256
    environment: { CUSTOM: "42" }
`));
  await using lrp = await startLrpChild([path]);
  const port = portOf(lrp.url);
  const first = await request(port, "fn.test", "/log?x=1");
  assert.equal(first.status, 200);
  const body = JSON.parse(first.text);
  assert.deepEqual({ ...body, pid: 0 }, {
    pid: 0,
    overlap: false,
    count: 1,
    path: "/log",
    functionName: "echo",
    memory: "256",
    remainingOk: true,
    requestIdOk: true,
    arn: "arn:aws:lambda:us-east-1:012345678912:function:echo",
    handlerEnv: "index.handler",
    tz: ":UTC",
    custom: "42",
  });
  const second = JSON.parse((await request(port, "fn.test", "/again")).text);
  assert.equal(second.pid, body.pid, "the warm process is reused");
  assert.equal(second.count, 2);
  const output = await lrp.waitForLine((l) => l.msg === "hello from the handler");
  assert.equal(output.function, "echo");
  assert.equal(output.stream, "stdout");
  const requestId = output.requestId as string;
  await lrp.waitForLine((l) => l.msg === `START RequestId: ${requestId} Version: $LATEST`);
  await lrp.waitForLine((l) => l.msg === `END RequestId: ${requestId}`);
  const report = await lrp.waitForLine((l) => String(l.msg).startsWith(`REPORT RequestId: ${requestId}\t`));
  assert.match(
    String(report.msg),
    /^REPORT RequestId: \S+\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms$/,
  );
  const reports = lrp.lines.filter((l) => String(l.msg).startsWith("REPORT "));
  assert.equal(
    reports.filter((l) => String(l.msg).includes("Init Duration")).length,
    1,
    "cold start only once",
  );
  await lrp.stop();
  assert.equal(await alive(body.pid), false, "no runtime process outlives lrp");
});

Deno.test("function failures: a throw, an exit, a timeout and an oversized result each fail alone", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_echo
    timeout: 1s
`));
  await using lrp = await startLrpChild([path]);
  const port = portOf(lrp.url);
  const pid = JSON.parse((await request(port, "fn.test", "/")).text).pid;

  const thrown = await request(port, "fn.test", "/throw");
  assert.equal(thrown.status, 502);
  assert.equal(thrown.header("x-lrp-error"), "function_error");
  assert.equal(
    JSON.parse(thrown.text).message,
    "Cannot use the answer: the function failed with TypeError (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  );
  assert.equal(
    JSON.parse((await request(port, "fn.test", "/")).text).pid,
    pid,
    "a handler error keeps the process",
  );

  const exited = await request(port, "fn.test", "/exit");
  assert.equal(exited.status, 502);
  assert.match(
    JSON.parse(exited.text).message,
    /^Cannot finish fn-test: its runtime exited \(Runtime\.ExitError\): RequestId: \S+ Error: Runtime exited with error: exit status 3$/,
  );
  const afterExit = JSON.parse((await request(port, "fn.test", "/")).text);
  assert.notEqual(afterExit.pid, pid, "a new process replaces the one that exited");

  const timedOut = await request(port, "fn.test", "/?sleep=5000");
  assert.deepEqual([timedOut.status, timedOut.header("x-lrp-error")], [504, "function_timeout"]);
  assert.equal(
    JSON.parse(timedOut.text).message,
    "Cannot finish fn-test: Task timed out after 1.00 seconds: the function's timeout is 1 s (timeout: in its rule)",
  );
  await lrp.waitForLine((l) => / Task timed out after 1\.00 seconds$/.test(String(l.msg)));
  const afterTimeout = JSON.parse((await request(port, "fn.test", "/")).text);
  assert.notEqual(afterTimeout.pid, afterExit.pid, "the timed-out process was killed");
  assert.equal(await alive(afterExit.pid), false);

  const big = await request(port, "fn.test", "/big");
  assert.equal(big.status, 502);
  assert.equal(
    JSON.parse(big.text).message,
    "Cannot use the answer: the function failed with Function.ResponseSizeTooLarge (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  );
  assert.equal((await request(port, "fn.test", "/")).status, 200);
  await lrp.stop();
  assert.equal(await alive(afterTimeout.pid), false);
});

Deno.test("an init error answers 502 with the error and a clear log line, every time", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: broken.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_init_error
`));
  await using lrp = await startLrpChild([path]);
  for (let i = 0; i < 2; i++) {
    const res = await request(portOf(lrp.url), "broken.test", "/");
    assert.equal(res.status, 502);
    assert.equal(
      JSON.parse(res.text).message,
      "Cannot invoke broken-test: its initialisation failed with Error (lrp's log has the error in its INIT_REPORT line; error_details: true shows it in this answer)",
    );
  }
  const line = await lrp.waitForLine((l) => String(l.msg).startsWith("INIT_REPORT"));
  assert.equal(line.msg, "INIT_REPORT Phase: init Status: error Error Type: Error");
  assert.equal(line.errorMessage, "cannot load the configuration");
  assert.equal(line.level, "error");
});

Deno.test("a shell bootstrap using only curl runs; a wrong request id gets 400, a second response 403", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: sh.test
    runtime: provided
    code: ${FIXTURES}bootstrap_curl
`));
  await using lrp = await startLrpChild([path]);
  const res = await request(portOf(lrp.url), "sh.test", "/");
  assert.equal(res.status, 200);
  assert.equal(res.text, "curl wrong=400");
  await lrp.waitForLine((l) => l.msg === "second response answered 403");
  assert.equal((await request(portOf(lrp.url), "sh.test", "/")).text, "curl wrong=400");
});

Deno.test("python, deno, streaming and callback handlers answer", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: py.test
    runtime: python
    handler: app.handler
    code: ${FIXTURES}py_echo
  - hostname: deno.test
    runtime: deno
    handler: main.handler
    code: ${FIXTURES}deno_echo
  - hostname: stream.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_stream
    invoke_mode: RESPONSE_STREAM
  - hostname: buffered-stream.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_stream
  - hostname: callback.test
    runtime: nodejs
    handler: index.callback
    code: ${FIXTURES}node_stream
`));
  await using lrp = await startLrpChild([path]);
  const port = portOf(lrp.url);
  assert.equal((await request(port, "py.test", "/")).text, "python py-test 128 True app.handler");
  const pyError = await request(port, "py.test", "/throw");
  assert.equal(pyError.status, 502);
  assert.equal(
    JSON.parse(pyError.text).message,
    "Cannot use the answer: the function failed with ValueError (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  );
  assert.equal((await request(port, "deno.test", "/d")).text, "deno /d 36");
  for (const host of ["stream.test", "buffered-stream.test"]) {
    const streamed = await request(port, host, "/s");
    assert.equal(streamed.status, 201, host);
    assert.equal(streamed.text, "one two three", host);
    assert.equal(streamed.header("x-path"), "/s", host);
    assert.deepEqual(streamed.cookies, ["a=1"], host);
  }
  assert.equal((await request(port, "callback.test", "/")).text, "callback callback-test");
});

Deno.test("one request id: the function's awsRequestId, its output and START/END lines carry the access line's requestId, also as functionRequestId", async () => {
  const path = await tempConfig(functionsConfig(`  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_echo
    timeout: 1s
`));
  await using lrp = await startLrpChild([path]);
  const port = portOf(lrp.url);
  assert.equal((await request(port, "fn.test", "/log")).status, 200);
  const access = await lrp.waitForLine((l) => l.msg === "request" && l.path === "/log");
  const output = await lrp.waitForLine((l) => l.msg === "hello from the handler");
  assert.match(
    String(access.requestId),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual([output.requestId, access.functionRequestId], [access.requestId, access.requestId]);
  await lrp.waitForLine((l) => l.msg === `START RequestId: ${access.requestId} Version: $LATEST`);
  await lrp.waitForLine((l) => l.msg === `END RequestId: ${access.requestId}`);

  // A timed-out invocation was reached: its access line names the id too.
  assert.equal((await request(port, "fn.test", "/slow?sleep=5000")).status, 504);
  const timedOut = await lrp.waitForLine((l) => l.msg === "request" && l.path === "/slow");
  assert.deepEqual([timedOut.error, timedOut.functionRequestId], ["function_timeout", timedOut.requestId]);
  await lrp.stop();
});
