/**
 * Edge cases of Node.js handlers — a promise that never settles, callback
 * plus promise, `callbackWaitsForEmptyEventLoop`, `context.done` / `succeed`
 * / `fail`, an exception after the answer, an unhandled rejection,
 * `process.exit` — answered the same by lrp's bundled nodejs and deno clients and by
 * AWS's own `aws-lambda-ric` (run unchanged as a provided bootstrap), side by
 * side through one real lrp process. docs/functions.md has the table.
 *
 * Without the aws-lambda-ric install (`scripts/install_ric.sh`) only lrp's
 * client is checked, against the same expected outcomes.
 */
import assert from "node:assert/strict";
import { ROOT, startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const RIC = `${ROOT}.tools/ric/node_modules/.bin/aws-lambda-ric`;
const ricInstalled = (() => {
  try {
    return Deno.statSync(RIC).isFile;
  } catch {
    return false;
  }
})();

interface Outcome {
  status: number;
  /** The function's `what`, or lrp's error message (request ids replaced by `ID`). */
  answer: string;
  /** Milliseconds from request to answer. */
  ms: number;
  pid?: number;
}

async function outcome(port: number, host: string, path: string): Promise<Outcome> {
  const started = performance.now();
  const res = await request(port, host, path);
  const ms = performance.now() - started;
  const body = JSON.parse(res.text);
  if (res.status !== 200) {
    return {
      status: res.status,
      answer: String(body.message).replace(/RequestId: \S+/, "RequestId: ID"),
      ms,
    };
  }
  return body === null
    ? { status: 200, answer: "null", ms }
    : { status: 200, answer: body.what, ms, pid: body.pid };
}

/** What AWS's runtime answers for each case (status and answer); both clients must give it. */
const EXPECTED: [string, number, string][] = [
  ["never-settles", 200, "null"],
  ["never-calls-back", 200, "null"],
  ["callback-then-promise", 200, "callback"],
  ["promise-then-callback", 200, "promise"],
  ["callback-waits", 200, "waited"],
  ["callback-no-wait", 200, "not waited"],
  ["context-done", 200, "done"],
  ["context-succeed", 200, "succeed"],
  [
    "context-fail",
    502,
    "Cannot use the answer: the function failed with RangeError (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  ],
  [
    "context-fail-empty",
    502,
    "Cannot use the answer: the function failed with string (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  ],
  ["throws-after-answer", 200, "answered"],
  [
    "rejects-unhandled",
    502,
    "Cannot use the answer: the function failed with Runtime.UnhandledPromiseRejection (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  ],
  [
    "exits",
    502,
    "Cannot finish HOST: its runtime exited (Runtime.ExitError): RequestId: ID Error: Runtime exited with error: exit status 7",
  ],
];

Deno.test("Node.js handler edge cases: lrp's nodejs and deno clients answer as aws-lambda-ric does", async () => {
  const clients = [
    ["lrp.test", "nodejs"],
    ["deno.test", "deno"],
    ...(ricInstalled ? [["ric.test", "provided"]] : []),
  ];
  const path = await tempConfig(
    `host: 127.0.0.1\nport: 0\nfunctions:\n${
      clients.map(([host, runtime]) =>
        `  - hostname: ${host}
    runtime: ${runtime}
    handler: index.handler
    code: ${FIXTURES}node_edges
    timeout: 5s
    environment: { AWS_LAMBDA_RIC: ${RIC} }
`
      ).join("")
    }`,
  );
  await using lrp = await startLrpChild([path]);
  const port = lrp.port;
  for (const [name, status, answer] of EXPECTED) {
    for (const [host] of clients) {
      const got = await outcome(port, host!, `/${name}`);
      const want = answer.replace("HOST", host!.replace(".", "-"));
      assert.deepEqual([got.status, got.answer], [status, want], `${name} through ${host}`);
      if (name === "callback-waits") assert.ok(got.ms >= 700, `${host} waited for the timer: ${got.ms} ms`);
      if (["callback-no-wait", "context-done", "context-succeed"].includes(name)) {
        assert.ok(got.ms < 700, `${host} answered before the timer: ${got.ms} ms`);
      }
      if (name === "throws-after-answer") {
        await new Promise((r) => setTimeout(r, 300)); // the exception comes 50 ms after the answer
        const after = await outcome(port, host!, "/pid");
        assert.notEqual(after.pid, got.pid, `${host}: the exception ended the process after its answer`);
      }
    }
  }
});
