/**
 * A third-party Runtime API client runs unchanged under a `functions:` rule:
 * AWS's Node.js runtime interface client (`aws-lambda-ric`), started by a
 * `runtime: provided` bootstrap, loads its handler, answers buffered and
 * streamed invocations and reports handler errors through lrp's Runtime API.
 *
 * The client compiles a native addon, so it is installed outside the test run
 * by `scripts/install_ric.sh` (CI runs it; see .ci/run). Without that install
 * these tests are reported as ignored.
 */
import assert from "node:assert/strict";
import { alive, ROOT, startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const RIC = `${ROOT}.tools/ric/node_modules/.bin/aws-lambda-ric`;
const installed = (() => {
  try {
    return Deno.statSync(RIC).isFile;
  } catch {
    return false;
  }
})();

function ricRule(hostname: string, handler: string, extra = ""): string {
  return `  - hostname: ${hostname}
    runtime: provided
    handler: ${handler}
    code: ${FIXTURES}ric
    timeout: 30s
    environment: { AWS_LAMBDA_RIC: ${RIC} }
${extra}`;
}

Deno.test({
  name: "aws-lambda-ric as a provided bootstrap: buffered results, handler errors as 502, the process reused",
  ignore: !installed,
  async fn() {
    const path = await tempConfig(
      `host: 127.0.0.1\nport: 0\nfunctions:\n${ricRule("ric.test", "index.handler")}`,
    );
    await using lrp = await startLrpChild([path]);
    const port = Number(new URL(lrp.url).port);
    const first = await request(port, "ric.test", "/hello?x=1&x=2");
    assert.equal(first.status, 200);
    assert.equal(first.header("content-type"), "application/json");
    assert.deepEqual(first.cookies, ["a=1", "b=2"]);
    const body = JSON.parse(first.text);
    assert.deepEqual({ ...body, pid: 0 }, {
      pid: 0,
      path: "/hello",
      query: "x=1&x=2",
      functionName: "ric-test",
      // The client passes AWS_LAMBDA_FUNCTION_MEMORY_SIZE on as it reads it: a string.
      memory: "128",
      arn: "arn:aws:lambda:us-east-1:012345678912:function:ric-test",
      requestIdOk: true,
      remainingOk: true,
    });
    const failed = await request(port, "ric.test", "/throw");
    assert.equal(failed.status, 502);
    assert.equal(failed.header("x-lrp-error"), "function_error");
    assert.equal(
      JSON.parse(failed.text).message,
      "Cannot use the answer: the function failed with TypeError (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
    );
    const after = await request(port, "ric.test", "/after");
    assert.equal(after.status, 200);
    assert.equal(JSON.parse(after.text).pid, body.pid, "the same warm process answers after an error");
    await lrp.stop();
    assert.equal(await alive(body.pid), false, "the client's process ends with lrp");
  },
});

Deno.test({
  name: "aws-lambda-ric streams a response (awslambda.streamifyResponse) through a RESPONSE_STREAM rule",
  ignore: !installed,
  async fn() {
    const path = await tempConfig(
      `host: 127.0.0.1\nport: 0\nfunctions:\n${
        ricRule("stream.test", "index.stream", "    invoke_mode: RESPONSE_STREAM\n")
      }`,
    );
    await using lrp = await startLrpChild([path]);
    const res = await request(Number(new URL(lrp.url).port), "stream.test", "/");
    assert.equal(res.status, 201);
    assert.equal(res.header("content-type"), "text/plain");
    assert.equal(res.text, "one,two");
  },
});
