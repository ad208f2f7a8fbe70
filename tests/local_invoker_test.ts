import assert from "node:assert/strict";
import { rieErrorType } from "../lib/invoke/local.ts";

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
