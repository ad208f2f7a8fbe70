import assert from "node:assert/strict";
import { buildInvoker } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LambdaClients } from "../../lib/invoke/aws.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/run/handler.ts";
import { type FakeFunction, startFakeLambdaApi } from "../fakes/lambda_api.ts";

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "AKIDLRPTEST", secretAccessKey: "lrp-test-secret" };
const ARN = "arn:aws:lambda:us-east-1:123456789012:function:example";

/** Answers with where it ran and the event it got, as a payload 2.0 structured result. */
function reporter(name: string, aliases: Record<string, string> = {}): FakeFunction {
  return {
    name,
    aliases,
    versions: ["7"],
    handler: (event, ctx) => ({
      kind: "result",
      value: {
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          fn: ctx.functionName,
          qualifier: ctx.qualifier,
          event,
          requestId: ctx.requestId,
        }),
      },
    }),
  };
}

const FUNCTIONS = [
  reporter("example", { live: "7", prod: "7" }),
  reporter("app-web", { live: "7" }),
  reporter("secret-admin", { live: "7" }),
];

const RULES = `aws:
  - hostname: name.test
    function_name: example
  - hostname: alias.test
    function_name: example:live
  - hostname: qualifier.test
    function_name: example
    qualifier: "7"
  - hostname: arn.test
    function_name: ${ARN}
  - hostname: "{alias}.example.com"
    function_name: example:{alias}
    allow: ["example:live", "example:prod"]
  - hostname: "{alias}-{function}.apps.test"
    function_name: "{function}"
    qualifier: "{alias}"
    allow: ["app-*:live"]
  - hostname: header.test
    function_header: X-Lambda-Function
    qualifier_header: X-Lambda-Qualifier
    allow: ["app-*", "app-*:live"]
  - hostname: v1.test
    function_name: example
    payload_format: "1.0"
`;

function setup(options: { yaml?: string; credentials?: typeof CREDENTIALS } = {}) {
  const fake = startFakeLambdaApi({ functions: FUNCTIONS, credentials: CREDENTIALS, region: REGION });
  const config = parseConfig(`upstream_timeout: 1s\n${options.yaml ?? ""}${RULES}`, {
    source: "test.yaml",
    env: { AWS_REGION: REGION },
  });
  const clients = new LambdaClients({
    region: config.region,
    endpointUrl: fake.url,
    profile: "",
    credentials: options.credentials ?? CREDENTIALS,
  });
  const lines: Record<string, unknown>[] = [];
  const handler = createHandler({
    config,
    router: createRouter(config.rules, (rule) => buildInvoker(rule, clients)),
    log: createLogger("debug", (l) => lines.push(JSON.parse(l))),
    version: "test",
    listenPort: 8080,
    newRequestId: () => "req-1",
  });
  const call = (host: string, target = "/", init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("host", host);
    return handler(new Request(`http://${host}${target}`, { ...init, headers }), {
      remoteAddr: { hostname: "127.0.0.1" },
    });
  };
  return {
    fake,
    call,
    lines,
    async [Symbol.asyncDispose]() {
      await clients.close();
      await fake.close();
    },
  };
}

async function ran(
  res: Response,
): Promise<{ fn: string; qualifier: string; event: Record<string, unknown>; requestId: string }> {
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

Deno.test("aws rules invoke by name, name:alias, qualifier key and full ARN, every call SigV4-signed", async () => {
  await using t = setup();
  assert.deepEqual((await ran(await t.call("name.test"))).qualifier, "$LATEST");
  assert.equal((await ran(await t.call("alias.test"))).qualifier, "live");
  assert.equal((await ran(await t.call("qualifier.test"))).qualifier, "7");
  const viaArn = await ran(await t.call("arn.test"));
  assert.deepEqual([viaArn.fn, viaArn.qualifier], ["example", "$LATEST"]);
  assert.deepEqual(
    t.fake.requests.map((r) => [r.functionName, r.qualifier, r.signatureValid]),
    [
      ["example", null, true],
      ["example:live", null, true],
      ["example", "7", true],
      [ARN, null, true],
    ],
  );
});

Deno.test("aws host pattern {alias}.example.com invokes example:{alias} within its allow-list", async () => {
  await using t = setup();
  assert.equal((await ran(await t.call("live.example.com"))).qualifier, "live");
  assert.equal((await ran(await t.call("PROD.example.com:8080"))).qualifier, "prod");
  const denied = await t.call("beta.example.com");
  assert.equal(denied.status, 403);
  assert.deepEqual(await denied.json(), {
    error: "function_not_allowed",
    message:
      'Cannot invoke "example:beta" for host "beta.example.com": the rule\'s allow list does not name it',
    requestId: "req-1",
  });
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("aws host pattern {alias}-{function} splits at the first hyphen and is checked against allow", async () => {
  await using t = setup();
  const hit = await ran(await t.call("live-app-web.apps.test"));
  assert.deepEqual([hit.fn, hit.qualifier], ["app-web", "live"]);
  assert.equal((await t.call("live-secret-admin.apps.test")).status, 403);
  assert.equal((await t.call("prod-app-web.apps.test")).status, 403);
  assert.deepEqual(t.fake.requests.map((r) => [r.functionName, r.qualifier]), [["app-web", "live"]]);
});

Deno.test("aws header rule takes the function and qualifier from configured headers, allow-listed", async () => {
  await using t = setup();
  const plain = await ran(await t.call("header.test", "/", { headers: { "x-lambda-function": "app-web" } }));
  assert.deepEqual([plain.fn, plain.qualifier], ["app-web", "$LATEST"]);
  const aliased = await ran(
    await t.call("header.test", "/", {
      headers: { "x-lambda-function": "app-web", "x-lambda-qualifier": "live" },
    }),
  );
  assert.equal(aliased.qualifier, "live");
  const denied = await t.call("header.test", "/", { headers: { "x-lambda-function": "secret-admin" } });
  assert.equal(denied.status, 403);
  assert.equal(
    (await denied.json()).message,
    'Cannot invoke "secret-admin" for host "header.test": the rule\'s allow list does not name it',
  );
  const arn = await t.call("header.test", "/", {
    headers: { "x-lambda-function": "arn:aws:lambda:us-east-1:123456789012:function:app-web" },
  });
  assert.equal(arn.status, 403);
  const missing = await t.call("header.test");
  assert.equal(missing.status, 400);
  assert.equal(
    (await missing.json()).message,
    "Cannot choose a function: the request has no x-lambda-function header",
  );
  assert.equal(t.fake.requests.length, 2);
});

Deno.test("aws function error is 502 function_error with the error JSON only under error_details", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "functionError", errorMessage: "boom" });
  const res = await t.call("name.test");
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), {
    error: "function_error",
    message:
      "Cannot use the answer: the function failed with Unhandled (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
    requestId: "req-1",
  });
  await using shown = setup({ yaml: "error_details: true\n" });
  shown.fake.enqueue("example", { kind: "functionError", errorMessage: "boom" });
  assert.deepEqual((await (await shown.call("name.test")).json()).detail, {
    errorType: "Error",
    errorMessage: "boom",
    trace: ["Error: boom"],
  });
});

Deno.test("aws ResourceNotFoundException is 502 function_not_found naming the function and region", async () => {
  await using t = setup();
  const res = await t.call("live.example.com");
  assert.equal(res.status, 200);
  t.fake.enqueue("example", { kind: "serviceError", name: "ResourceNotFoundException" });
  const missing = await t.call("alias.test");
  assert.equal(missing.status, 502);
  assert.deepEqual(await missing.json(), {
    error: "function_not_found",
    message: 'Cannot invoke "example:live": no such function in us-east-1',
    requestId: "req-1",
  });
});

Deno.test("aws TooManyRequestsException is retried, then 429 throttled with Lambda's Retry-After", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "serviceError", name: "TooManyRequestsException", retryAfterSeconds: 7 });
  assert.equal((await ran(await t.call("name.test"))).fn, "example");
  assert.equal(t.fake.requests.length, 2);
  const throttle = { kind: "serviceError", name: "TooManyRequestsException", retryAfterSeconds: 7 } as const;
  t.fake.enqueue("example", throttle, throttle, throttle);
  const res = await t.call("name.test");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.deepEqual(await res.json(), {
    error: "throttled",
    message: 'Cannot invoke "example": Lambda throttled the invocation',
    requestId: "req-1",
  });
  assert.equal(t.fake.requests.length, 5);
});

Deno.test("aws RequestTooLargeException is 413 payload_too_large", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "serviceError", name: "RequestTooLargeException" });
  const res = await t.call("name.test", "/", { method: "POST", body: "x" });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error, "payload_too_large");
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("aws call not answered within upstream_timeout is 504 and not retried", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "delay", ms: 3000, then: { kind: "result", value: null } });
  const res = await t.call("name.test");
  assert.equal(res.status, 504);
  assert.equal((await res.json()).message, "Cannot invoke aws example: no answer within 1000 ms");
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("aws connection reset is 502 upstream_unreachable and never retried (the function may have run)", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "reset" });
  const res = await t.call("name.test");
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error, "upstream_unreachable");
  assert.equal(t.fake.requests.length, 1);
});

Deno.test("aws rejected credentials and missing permission are 502 upstream_auth saying what is missing", async () => {
  await using wrong = setup({ credentials: { ...CREDENTIALS, secretAccessKey: "wrong" } });
  const res = await wrong.call("name.test");
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), {
    error: "upstream_auth",
    message:
      'Cannot invoke "example": AWS rejected the credentials (InvalidSignatureException); check the access key, secret and session token',
    requestId: "req-1",
  });
  await using denied = setup();
  denied.fake.enqueue("example", { kind: "serviceError", name: "AccessDeniedException" });
  assert.equal(
    (await (await denied.call("name.test")).json()).message,
    'Cannot invoke "example": these credentials lack lambda:InvokeFunction on it',
  );
});

Deno.test("aws client disconnect aborts the call, is logged as cancelled, not as an upstream failure", async () => {
  await using t = setup();
  t.fake.enqueue("example", { kind: "delay", ms: 3000, then: { kind: "result", value: null } });
  const controller = new AbortController();
  const pending = t.call("name.test", "/", { signal: controller.signal });
  while (t.fake.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  const res = await pending;
  assert.equal(res.status, 499);
  const line = t.lines.find((l) => l.msg === "request cancelled by client");
  assert.equal(line?.level, "info");
  assert.equal(line?.error, "client_closed");
  assert.equal(t.lines.some((l) => l.level === "warn"), false);
});

Deno.test("aws trace ids reach the function: X-Amzn-Trace-Id in the event and on the Invoke call, traceparent in the event", async () => {
  await using t = setup();
  const trace = "Root=1-67a0c0de-0123456789abcdef01234567";
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const got = await ran(
    await t.call("name.test", "/", { headers: { "x-amzn-trace-id": trace, traceparent } }),
  );
  const headers = got.event.headers as Record<string, string>;
  assert.equal(headers["x-amzn-trace-id"], trace);
  assert.equal(headers["traceparent"], traceparent);
  assert.equal(t.fake.requests[0]!.headers.get("x-amzn-trace-id"), trace);
  assert.equal(t.fake.requests[0]!.signatureValid, true);
});

Deno.test("aws rule with payload_format 1.0 sends a REST event and reads a 1.0 result", async () => {
  await using t = setup();
  const got = await ran(await t.call("v1.test", "/a/b?x=1&x=2"));
  assert.equal(got.event.version, "1.0");
  assert.equal(got.event.resource, "/{proxy+}");
  assert.deepEqual(got.event.multiValueQueryStringParameters, { x: ["1", "2"] });
  assert.deepEqual(got.event.queryStringParameters, { x: "2" });
  assert.deepEqual(got.event.pathParameters, { proxy: "a/b" });
  assert.equal(got.event.body, null);
});

Deno.test("an aws rule's access line carries the function's awsRequestId (the Invoke API's x-amzn-RequestId) as functionRequestId", async () => {
  await using t = setup();
  const { requestId } = await ran(await t.call("name.test"));
  const access = t.lines.find((l) => l.msg === "request");
  assert.match(requestId, /^[0-9a-f-]{36}$/);
  assert.deepEqual([access?.requestId, access?.functionRequestId], ["req-1", requestId]);
});
