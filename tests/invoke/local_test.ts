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
