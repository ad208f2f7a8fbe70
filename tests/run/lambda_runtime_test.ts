import assert from "node:assert/strict";
import { buildRouter } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import type { EventV2 } from "../../lib/wire/event.ts";
import {
  eventToRequest,
  responseToResult,
  runLambdaRuntime,
  RUNTIME_PATH,
} from "../../lib/run/lambda_runtime.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { createHandler } from "../../lib/handle/handler.ts";
import { requestToEvent } from "../../lib/wire/request.ts";
import { splitTarget } from "../../lib/wire/target.ts";
import { fakeRie } from "../fakes/rie.ts";
import { MAIN, runLrp, spawnDeno } from "../helpers/process.ts";

/** One full Function URL event; each case overrides only what it varies. */
const BASE: EventV2 = {
  version: "2.0",
  routeKey: "$default",
  rawPath: "/a%2Fb/c",
  rawQueryString: "x=1&x=2&y=%20",
  cookies: ["a=1", "b=2"],
  headers: {
    host: "abc123.lambda-url.eu-central-1.on.aws",
    "content-type": "application/json",
    "x-forwarded-proto": "https",
    "x-forwarded-for": "203.0.113.9",
    "user-agent": "curl/8",
  },
  queryStringParameters: { x: "1,2", y: " " },
  requestContext: {
    accountId: "anonymous",
    apiId: "abc123",
    domainName: "abc123.lambda-url.eu-central-1.on.aws",
    domainPrefix: "abc123",
    http: {
      method: "POST",
      path: "/a%2Fb/c",
      protocol: "HTTP/1.1",
      sourceIp: "203.0.113.9",
      userAgent: "curl/8",
    },
    requestId: "r-1",
    routeKey: "$default",
    stage: "$default",
    time: "12/Mar/2020:19:03:58 +0000",
    timeEpoch: 1583348638390,
  },
  body: '{"hello":"world"}',
  isBase64Encoded: false,
};
const event = (over: Partial<EventV2> = {}, headers: Record<string, string> = {}): EventV2 => ({
  ...BASE,
  ...over,
  headers: { ...BASE.headers, ...headers },
});
const META = {
  requestId: "r-2",
  timeEpoch: 0,
  sourceIp: "203.0.113.9",
  listenPort: 443,
  traceId: "Root=1-0-0",
};

Deno.test("eventToRequest() is the inverse of requestToEvent() for path, query, cookies, headers and body", async () => {
  const request = eventToRequest(event());
  assert.equal(request.method, "POST");
  assert.equal(request.url, "https://abc123.lambda-url.eu-central-1.on.aws/a%2Fb/c?x=1&x=2&y=%20");
  assert.equal(request.headers.get("cookie"), "a=1; b=2");
  const body = new Uint8Array(await request.arrayBuffer());
  const again = requestToEvent(request, body, META);
  assert.equal(again.rawPath, BASE.rawPath);
  assert.equal(again.rawQueryString, BASE.rawQueryString);
  assert.deepEqual(again.queryStringParameters, BASE.queryStringParameters);
  assert.deepEqual(again.cookies, BASE.cookies);
  assert.equal(again.body, BASE.body);
  assert.equal(again.headers["content-type"], "application/json");
  assert.equal(again.requestContext.domainName, BASE.requestContext.domainName);
});

Deno.test("eventToRequest() routes on X-Forwarded-Host (CloudFront) before host", () => {
  const request = eventToRequest(event({}, { "x-forwarded-host": "api.example.com" }));
  assert.equal(request.headers.get("host"), "api.example.com");
  assert.equal(new URL(request.url).host, "api.example.com");
});

Deno.test("eventToRequest() decodes a base64 body and drops the body of a GET", async () => {
  const binary = eventToRequest(event({ body: "AAEC/w==", isBase64Encoded: true }));
  assert.deepEqual(new Uint8Array(await binary.arrayBuffer()), new Uint8Array([0, 1, 2, 255]));
  const get = eventToRequest(event({
    requestContext: { ...BASE.requestContext, http: { ...BASE.requestContext.http, method: "GET" } },
  }));
  assert.equal(get.body, null);
});

Deno.test("responseToResult() puts Set-Cookie in cookies, text as text and binary as base64", async () => {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8", "x-a": "1" });
  headers.append("set-cookie", "a=1; Path=/");
  headers.append("set-cookie", "b=2");
  assert.deepEqual(await responseToResult(new Response("héllo", { status: 201, headers })), {
    statusCode: 201,
    headers: { "content-type": "text/plain; charset=utf-8", "x-a": "1" },
    cookies: ["a=1; Path=/", "b=2"],
    body: "héllo",
    isBase64Encoded: false,
  });
  const png = new Response(new Uint8Array([137, 80, 78, 71]), { headers: { "content-type": "image/png" } });
  assert.deepEqual(await responseToResult(png), {
    statusCode: 200,
    headers: { "content-type": "image/png" },
    body: "iVBORw==",
    isBase64Encoded: true,
  });
  assert.deepEqual(await responseToResult(new Response(null, { status: 204 })), {
    statusCode: 204,
    headers: {},
    body: "",
    isBase64Encoded: false,
  });
});

/** A fake Lambda Runtime API: hands out `events` in order, records answers, then holds `next` open. */
function fakeRuntimeApi(events: unknown[]) {
  const answers: { path: string; headers: Headers; body: unknown }[] = [];
  let waiting: (() => void) | undefined;
  const answered = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => answers.length >= n ? resolve() : (waiting = check);
      check();
    });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "GET" && path === `${RUNTIME_PATH}/invocation/next`) {
      const next = events.shift();
      if (next === undefined) {
        await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
        return new Response(null, { status: 500 });
      }
      return Response.json(next, {
        headers: {
          "lambda-runtime-aws-request-id": `id-${answers.length + 1}`,
          "lambda-runtime-deadline-ms": "0",
        },
      });
    }
    answers.push({ path, headers: request.headers, body: await request.json() });
    waiting?.();
    return Response.json({ status: "OK" }, { status: 202 });
  });
  return Object.assign(server, { answers, answered, api: `127.0.0.1:${server.addr.port}` });
}

Deno.test("runLambdaRuntime() answers Function URL events through lrp's routes, and errors through /error", async () => {
  await using rie = fakeRie((e) => ({ statusCode: 200, cookies: ["s=1"], body: `fn saw ${e.rawPath}` }));
  await using runtime = fakeRuntimeApi([
    event({}, { "x-forwarded-host": "fn.test" }),
    event({}, { host: "nobody.test" }),
    { ...event(), body: "***", isBase64Encoded: true },
  ]);
  await runUntilAnswered(runtime, rie.url, 3);
  const [ok, missing, broken] = runtime.answers;
  assert.equal(ok!.path, `${RUNTIME_PATH}/invocation/id-1/response`);
  assert.deepEqual(ok!.body, {
    statusCode: 200,
    headers: {},
    cookies: ["s=1"],
    // The function set no content type, so the body goes base64 (btoa("fn saw /a%2Fb/c")).
    body: btoa("fn saw /a%2Fb/c"),
    isBase64Encoded: true,
  });
  assert.equal(missing!.path, `${RUNTIME_PATH}/invocation/id-2/response`);
  const notFound = missing!.body as { statusCode: number; body: string };
  assert.equal(notFound.statusCode, 404);
  assert.deepEqual(JSON.parse(notFound.body), {
    error: "route_not_found",
    message: 'Cannot route host "nobody.test": no rule names it',
    requestId: "req",
  });
  assert.equal(broken!.path, `${RUNTIME_PATH}/invocation/id-3/error`);
  assert.deepEqual(broken!.body, {
    errorMessage: "Cannot decode base64: invalid characters or length",
    errorType: "lrp.TypeError",
  });
  assert.equal(broken!.headers.get("lambda-runtime-function-error-type"), "lrp.TypeError");
});

Deno.test("lrp started with AWS_LAMBDA_RUNTIME_API runs as a Lambda function", async () => {
  await using rie = fakeRie(() => ({
    statusCode: 200,
    headers: { "content-type": "text/plain" },
    body: "hi",
  }));
  await using runtime = fakeRuntimeApi([event({}, { "x-forwarded-host": "fn.test" })]);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/lrp.yaml`, `local:\n  - hostname: fn.test\n    endpoint: ${rie.url}\n`);
  await using _child = spawnDeno(["run", "-A", MAIN], {
    cwd: dir,
    env: { AWS_LAMBDA_RUNTIME_API: runtime.api },
  });
  try {
    await runtime.answered(1);
    assert.deepEqual(runtime.answers[0]!.body, {
      statusCode: 200,
      headers: { "content-type": "text/plain" },
      body: "hi",
      isBase64Encoded: false,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lrp lambda reports an invalid configuration to /runtime/init/error", async () => {
  await using runtime = fakeRuntimeApi([]);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/lrp.yaml`, "port: nope\n");
  const out = await runLrp(["lambda"], { cwd: dir, env: { AWS_LAMBDA_RUNTIME_API: runtime.api } });
  assert.equal(out.code, 1);
  assert.equal(runtime.answers[0]!.path, `${RUNTIME_PATH}/init/error`);
  assert.deepEqual(runtime.answers[0]!.body, {
    errorMessage: 'lrp.yaml:1: port: "nope" must be a port number from 0 to 65535',
    errorType: "lrp.InitError",
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eventToRequest() keeps rawPath exactly, dot segments and encoding included", () => {
  const request = eventToRequest(event({ rawPath: "/a/../b%2Fc/./d" }));
  assert.equal(splitTarget(request.url).path, "/a/../b%2Fc/./d");
});

Deno.test("runLambdaRuntime() answers 502 bad_result for a function result whose header holds a control character", async () => {
  await using rie = fakeRie(() => ({
    statusCode: 200,
    headers: { "x-v": "a\u0001b" },
    cookies: ["s=\u007f"],
  }));
  await using runtime = fakeRuntimeApi([event({}, { "x-forwarded-host": "fn.test" })]);
  await runUntilAnswered(runtime, rie.url, 1);
  const answer = runtime.answers[0]!;
  assert.equal(answer.path, `${RUNTIME_PATH}/invocation/id-1/response`);
  const result = answer.body as { statusCode: number; body: string };
  assert.equal(result.statusCode, 502);
  assert.deepEqual(JSON.parse(result.body), {
    error: "bad_result",
    message: 'Cannot use the Lambda result: header "x-v" contains the control character 0x01',
    requestId: "req",
  });
});

/**
 * Runs lrp's Lambda runtime loop with one local rule (fn.test → `rieUrl`)
 * against the fake Runtime API until it has posted `count` answers.
 */
async function runUntilAnswered(
  runtime: ReturnType<typeof fakeRuntimeApi>,
  rieUrl: string,
  count: number,
): Promise<void> {
  const config = parseConfig(`local:\n  - hostname: fn.test\n    endpoint: ${rieUrl}\n`, {
    source: "t.yaml",
  });
  const handler = createHandler({
    config,
    router: buildRouter(config),
    log: silentLogger,
    version: "t",
    listenPort: 443,
    newRequestId: () => "req",
  });
  const stop = new AbortController();
  const loop = runLambdaRuntime({ api: runtime.api, handler, log: silentLogger, signal: stop.signal });
  await runtime.answered(count);
  stop.abort();
  await loop;
}
