import { handlerWith } from "../helpers/in_process.ts";
import assert from "node:assert/strict";
import { encodeJson } from "../../lib/wire/formats.ts";
import { LrpError } from "../../lib/errors.ts";
import { requestToEvent } from "../../lib/wire/request.ts";
import { eventV2ToAlb, LRP_TARGET_GROUP_ARN, resultAlbToResponse } from "../../lib/wire/alb.ts";
import { eventV2ToV1, resultV1ToResponse } from "../../lib/wire/v1.ts";
import { payloadBytes } from "../../lib/wire/payload.ts";

const te = new TextEncoder();
const META = {
  requestId: "r-1",
  timeEpoch: 1738746423512,
  sourceIp: "203.0.113.9",
  listenPort: 8080,
  traceId: "Root=1-x",
};

function v2(target: string, init: RequestInit = {}, body: string | null = null) {
  const headers = new Headers(init.headers);
  headers.set("host", "api.example.com");
  const req = new Request(`http://api.example.com${target}`, { ...init, headers });
  return requestToEvent(req, body === null ? null : te.encode(body), META);
}

const bytes = (v: unknown) => te.encode(JSON.stringify(v));

Deno.test("eventV2ToV1() builds a REST event: last/all query values decoded, cookie kept in headers", () => {
  const e = eventV2ToV1(
    v2("/orders/42?x=1&x=2&y=%20z", {
      method: "POST",
      headers: { cookie: "a=1; b=2", "content-type": "application/json" },
    }, '{"qty":3}'),
  );
  assert.equal(e.version, "1.0");
  assert.equal(e.path, "/orders/42");
  assert.equal(e.httpMethod, "POST");
  assert.deepEqual(e.queryStringParameters, { x: "2", y: " z" });
  assert.deepEqual(e.multiValueQueryStringParameters, { x: ["1", "2"], y: [" z"] });
  assert.equal(e.headers!.cookie, "a=1; b=2");
  assert.deepEqual(e.multiValueHeaders!["content-type"], ["application/json"]);
  assert.equal(e.headers!["x-forwarded-for"], "203.0.113.9");
  assert.deepEqual(e.pathParameters, { proxy: "orders/42" });
  assert.equal(e.body, '{"qty":3}');
  assert.equal(e.isBase64Encoded, false);
  assert.equal(e.requestContext.requestTime, "05/Feb/2025:09:07:03 +0000");
  assert.deepEqual(e.requestContext.identity, {
    sourceIp: "203.0.113.9",
    userAgent: "",
    accountId: null,
    caller: null,
    user: null,
    userArn: null,
    accessKey: null,
    apiKey: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    cognitoAuthenticationType: null,
    cognitoAuthenticationProvider: null,
  });
});

Deno.test("eventV2ToV1() uses null for an absent query, body and the root path parameter", () => {
  const e = eventV2ToV1(v2("/"));
  assert.equal(e.queryStringParameters, null);
  assert.equal(e.multiValueQueryStringParameters, null);
  assert.equal(e.pathParameters, null);
  assert.equal(e.stageVariables, null);
  assert.equal(e.body, null);
});

Deno.test("eventV2ToAlb() keeps query values encoded, last wins, and has an empty body string", () => {
  const e = eventV2ToAlb(v2("/p?x=1&x=%20b"), false);
  assert.deepEqual(e.requestContext, { elb: { targetGroupArn: LRP_TARGET_GROUP_ARN } });
  assert.deepEqual(e.queryStringParameters, { x: "%20b" });
  assert.equal(e.multiValueQueryStringParameters, undefined);
  assert.equal(e.body, "");
  assert.equal(e.headers!.host, "api.example.com");
  assert.deepEqual(eventV2ToAlb(v2("/"), false).queryStringParameters, {});
});

Deno.test("eventV2ToAlb() in multi-value mode sends only the multiValue maps", () => {
  const e = eventV2ToAlb(v2("/p?x=1&x=2", { headers: { "x-a": "v" } }), true);
  assert.deepEqual(e.multiValueQueryStringParameters, { x: ["1", "2"] });
  assert.deepEqual(e.multiValueHeaders!["x-a"], ["v"]);
  assert.equal(e.headers, undefined);
  assert.equal(e.queryStringParameters, undefined);
});

Deno.test("resultV1ToResponse() merges headers and multiValueHeaders, multi-value winning per name", async () => {
  const res = resultV1ToResponse(bytes({
    statusCode: 201,
    headers: { "Content-Type": "text/plain", "X-Both": "single" },
    multiValueHeaders: { "Set-Cookie": ["a=1", "b=2"], "x-both": ["m1", "m2"] },
    body: "aGVsbG8=",
    isBase64Encoded: true,
  }));
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("content-type"), "text/plain");
  assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(res.headers.get("x-both"), "m1, m2");
  assert.equal(await res.text(), "hello");
});

Deno.test("resultV1ToResponse() and resultAlbToResponse() refuse a result without statusCode (no inferred format)", () => {
  for (const parse of [resultV1ToResponse, (b: Uint8Array) => resultAlbToResponse(b, false)]) {
    assert.throws(() => parse(bytes({ hello: "world" })), (err: unknown) => {
      assert.ok(err instanceof LrpError);
      assert.equal(err.code, "bad_result");
      return true;
    });
  }
});

Deno.test("resultAlbToResponse() reads headers or multiValueHeaders as the mode says", async () => {
  const result = {
    statusCode: 200,
    statusDescription: "200 OK",
    headers: { "x-single": "s" },
    multiValueHeaders: { "x-multi": ["a", "b"] },
    body: "ok",
  };
  const single = resultAlbToResponse(bytes(result), false);
  assert.equal(single.headers.get("x-single"), "s");
  assert.equal(single.headers.get("x-multi"), null);
  assert.equal(await single.text(), "ok");
  const multi = resultAlbToResponse(bytes(result), true);
  assert.equal(multi.headers.get("x-single"), null);
  assert.equal(multi.headers.get("x-multi"), "a, b");
});

Deno.test("a local rule with payload_format alb sends an ALB event and reads an ALB result", async () => {
  const events: Record<string, unknown>[] = [];
  const { handler } = handlerWith(
    `local:\n  - hostname: alb.test\n    endpoint: http://unused:1\n    payload_format: alb\n    multi_value_headers: true\n`,
    {
      describe: "scripted",
      invoke: (req) => {
        events.push(JSON.parse(new TextDecoder().decode(payloadBytes(req.payload))));
        return Promise.resolve({
          body: bytes({
            statusCode: 202,
            statusDescription: "202 Accepted",
            multiValueHeaders: { "x-r": ["1"] },
          }),
        });
      },
    },
  );
  const res = await handler(new Request("http://alb.test/q?a=1&a=2", { headers: { host: "alb.test" } }), {
    remoteAddr: { hostname: "127.0.0.1" },
  });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-r"), "1");
  assert.deepEqual(events[0]!.multiValueQueryStringParameters, { a: ["1", "2"] });
  assert.deepEqual((events[0]!.requestContext as Record<string, unknown>).elb, {
    targetGroupArn: LRP_TARGET_GROUP_ARN,
  });
});

Deno.test("encodeJson() splices a large base64 body and produces exactly JSON.stringify's bytes", () => {
  const big = "QUJD".repeat(50_000);
  for (
    const event of [
      { version: "2.0", headers: { "x-body": '"body":""', "x-ü": "ö" }, body: big, isBase64Encoded: true },
      { body: big, isBase64Encoded: false },
      { body: "c21hbGw=", isBase64Encoded: true },
      { body: null, isBase64Encoded: false },
      { headers: { a: "1" }, isBase64Encoded: false },
    ]
  ) {
    assert.deepEqual(encodeJson(event), new TextEncoder().encode(JSON.stringify(event)));
  }
});
