/**
 * Errors that say where: a handler with a syntax error names
 * `file:line:column` in lrp's log (its `INIT_REPORT` line) and, with
 * `error_details` on, in the answer; without details the answer holds no
 * error text or stack trace, only the error type and where to look. A thrown
 * error's answer says the same.
 */
import assert from "node:assert/strict";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** host, runtime, handler, code folder, and the log line's errorMessage. */
const SYNTAX_ERRORS: [string, string, string, string, string][] = [
  [
    "esm.test",
    "nodejs",
    "index.handler",
    "syntax_errors/node_esm",
    `${FIXTURES}syntax_errors/node_esm/index.mjs:5:5: SyntaxError: Unexpected identifier 'body'`,
  ],
  [
    "cjs.test",
    "nodejs",
    "index.handler",
    "syntax_errors/node_cjs",
    `${FIXTURES}syntax_errors/node_cjs/index.cjs:3:19: SyntaxError: Unexpected number`,
  ],
  [
    "deno.test",
    "deno",
    "main.handler",
    "syntax_errors/deno",
    `${FIXTURES}syntax_errors/deno/main.ts:3:19: SyntaxError: Expected a semicolon`,
  ],
  [
    "py.test",
    "python",
    "app.handler",
    "syntax_errors/python",
    `${FIXTURES}syntax_errors/python/app.py:3:15: SyntaxError: invalid syntax`,
  ],
];

function config(extra = ""): string {
  return `host: 127.0.0.1\nport: 0\n${extra}functions:\n${
    SYNTAX_ERRORS.map(([host, runtime, handler, code]) =>
      `  - hostname: ${host}\n    runtime: ${runtime}\n    handler: ${handler}\n    code: ${FIXTURES}${code}\n`
    ).join("")
  }  - hostname: throw.test\n    runtime: nodejs\n    handler: index.handler\n    code: ${FIXTURES}node_echo\n`;
}

const INIT_HINT =
  "lrp's log has the error in its INIT_REPORT line; error_details: true shows it in this answer";

Deno.test("a syntax error names file:line:column in lrp's log; the answer without details has no error text", async () => {
  await using lrp = await startLrpChild([await tempConfig(config())]);
  for (const [host, , , , where] of SYNTAX_ERRORS) {
    const name = host.replace(".", "-");
    const res = await request(lrp.port, host, "/");
    assert.equal(res.status, 502, host);
    const body = JSON.parse(res.text);
    assert.deepEqual(Object.keys(body), ["error", "message", "requestId"], host);
    assert.equal(
      body.message,
      `Cannot invoke ${name}: its initialisation failed with Runtime.UserCodeSyntaxError (${INIT_HINT})`,
    );
    const line = await lrp.waitForLine((l) => l.function === name && String(l.msg).startsWith("INIT_REPORT"));
    assert.equal(line.msg, "INIT_REPORT Phase: init Status: error Error Type: Runtime.UserCodeSyntaxError");
    assert.equal(line.errorMessage, where, host);
  }
  const thrown = JSON.parse((await request(lrp.port, "throw.test", "/throw")).text);
  assert.deepEqual(thrown, {
    error: "function_error",
    message:
      "Cannot use the answer: the function failed with TypeError (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
    requestId: thrown.requestId,
  });
});

Deno.test("with error_details on, the answer to a syntax error names file:line:column too", async () => {
  await using lrp = await startLrpChild([await tempConfig(config("error_details: true\n"))]);
  for (const [host, , , , where] of SYNTAX_ERRORS) {
    const body = JSON.parse((await request(lrp.port, host, "/")).text);
    assert.equal(body.detail.errorType, "Runtime.UserCodeSyntaxError", host);
    assert.equal(body.detail.errorMessage, where, host);
  }
});
