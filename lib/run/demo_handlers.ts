/**
 * The handler files of `lrp demo`, embedded as text: generated from
 * examples/functions/demo/ by `deno run --allow-read --allow-write --allow-run scripts/gen_demo.ts`;
 * do not edit (tests/run/demo_test.ts checks it equals the files).
 *
 * @module
 */

/** The demo's handler files (`examples/functions/demo/`), by file name. */
export const DEMO_FILES: Readonly<Record<string, string>> = {
  "echo.mjs":
    '// lrp demo, echo.localhost: answers with the payload 2.0 event lrp sent, as indented JSON.\n// deno-lint-ignore require-await\nexport const handler = async (event) => ({\n  statusCode: 200,\n  headers: { "content-type": "application/json" },\n  body: JSON.stringify(event, null, 2) + "\\n",\n});\n',
  "fail.mjs":
    '// lrp demo, fail.localhost: a handler that throws; lrp answers 502 function_error.\n// deno-lint-ignore require-await\nexport const handler = async () => {\n  throw new Error("this handler always fails");\n};\n',
  "hello.mjs":
    '// lrp demo, hello.localhost: a structured payload 2.0 result with a cookie.\n// Lambda Node.js handlers are async functions (the runtime awaits their result).\n// deno-lint-ignore require-await\nexport const handler = async (event) => {\n  const name = event.queryStringParameters?.name ?? "world";\n  return {\n    statusCode: 200,\n    headers: { "content-type": "text/plain; charset=utf-8" },\n    cookies: ["visited=1; Path=/"],\n    body: `Hello, ${name}! (from a Lambda handler, through lrp)\\n`,\n  };\n};\n',
  "stream.mjs":
    '// lrp demo, stream.localhost: a streaming handler. `awslambda` is the global Lambda\'s Node.js\n// runtime (and lrp\'s bundled clients) provide; the prelude carries the status, headers and cookies.\nexport const handler = awslambda.streamifyResponse(async (_event, responseStream) => {\n  const stream = awslambda.HttpResponseStream.from(responseStream, {\n    statusCode: 200,\n    headers: { "content-type": "text/plain" },\n    cookies: ["streamed=yes"],\n  });\n  for (const n of [1, 2, 3]) {\n    stream.write(`chunk ${n}\\n`);\n    await new Promise((resolve) => setTimeout(resolve, 100));\n  }\n  stream.end();\n});\n',
  "whoami.mjs":
    '// lrp demo, whoami.localhost: what the handler\'s context and process say. The same process\n// answers again while it is warm (see the pid); the demo runs it with node, or deno without node.\n// deno-lint-ignore require-await\nexport const handler = async (event, context) => {\n  const name = event.queryStringParameters?.name ?? "world";\n  const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : `node ${process.version}`;\n  return {\n    statusCode: 200,\n    headers: { "content-type": "text/plain; charset=utf-8" },\n    body: `Hello, ${name}! (${context.functionName} in ${runtime}, pid ${process.pid})\\n`,\n  };\n};\n',
};
