import assert from "node:assert/strict";
import { LrpError } from "../../lib/errors.ts";
import { LocalInvoker, rieErrorType } from "../../lib/invoke/local.ts";

const te = new TextEncoder();

Deno.test("rieErrorType() recognises the runtimes' error JSON and nothing else", () => {
  const cases: [string, string | undefined][] = [
    ['{"errorType":"Error","errorMessage":"boom","trace":["Error: boom"]}', "Error"],
    [
      '{"errorMessage": "division by zero", "errorType": "ZeroDivisionError", "requestId": "x", "stackTrace": []}',
      "ZeroDivisionError",
    ],
    ['{"errorMessage":"no type"}', "Error"],
    ['{ "errorType": "Runtime.ExitError", "errorMessage": "exit status 1" }', "Runtime.ExitError"],
    ['{"statusCode":200,"body":"{\\"errorType\\":\\"x\\"}"}', undefined],
    ['{"errorType":"x","errorMessage":"y","extra":1}', undefined],
    ['{"errorType":1}', undefined],
    ['"errorType"', undefined],
    ["[]", undefined],
    ["{not json", undefined],
  ];
  for (const [text, expected] of cases) assert.equal(rieErrorType(te.encode(text)), expected, text);
});

Deno.test("LocalInvoker names a dead endpoint once, without repeating the cause", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const invoker = new LocalInvoker({
    endpoint: `http://127.0.0.1:${port}`,
    concurrency: 1,
    maxWaiting: 1,
    maxWaitMs: 1000,
  });
  try {
    await assert.rejects(
      invoker.invoke({ payload: te.encode("{}"), signal: new AbortController().signal }),
      (err: unknown) => {
        assert.ok(err instanceof LrpError);
        assert.equal(err.code, "upstream_unreachable");
        assert.match(
          err.message,
          new RegExp(`^Cannot reach the RIE at http://127\\.0\\.0\\.1:${port}: [^:]+$`),
        );
        return true;
      },
    );
  } finally {
    invoker.close();
  }
});

Deno.test("LocalInvoker names the RIE's 'Task timed out' as the function's own timeout, with where to change it", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("Task timed out after 2.00 seconds"),
  );
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  const invoker = new LocalInvoker({ endpoint, concurrency: 1, maxWaiting: 1, maxWaitMs: 1000 });
  try {
    await assert.rejects(
      invoker.invoke({ payload: te.encode("{}"), signal: new AbortController().signal }),
      (err: unknown) => {
        assert.ok(err instanceof LrpError);
        assert.deepEqual([err.code, err.status, err.message], [
          "function_timeout",
          504,
          `Cannot finish the function at ${endpoint}: Task timed out after 2.00 seconds: the function's ` +
          `timeout is 2 s (AWS_LAMBDA_FUNCTION_TIMEOUT in its container)`,
        ]);
        return true;
      },
    );
  } finally {
    invoker.close();
  }
});
