import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { LambdaContext, LambdaEvent } from "npm:hono@4.13.19/aws-lambda";
import { app, ETAG, handler, PNG_BYTES, sha256Hex } from "./hono_app.ts";

/** A payload format 2.0 event as Hono types it. */
type EventV2 = Extract<LambdaEvent, { rawPath: string }>;

const TESTDATA = new URL("../testdata/", import.meta.url);

/** Loads a golden event from tests/testdata (a fresh copy per call, so tests may mutate it). */
async function golden(name: string): Promise<EventV2> {
  return JSON.parse(await Deno.readTextFile(new URL(name, TESTDATA))) as EventV2;
}

/** A Lambda context with fixed values; the app does not read it. */
const context: LambdaContext = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: "hono-app",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-west-2:123456789012:function:hono-app",
  memoryLimitInMB: "128",
  awsRequestId: "8f5a4f0e-1111-4222-8333-944455556666",
  logGroupName: "/aws/lambda/hono-app",
  logStreamName: "2020/03/12/[$LATEST]0123456789abcdef",
  getRemainingTimeInMillis: () => 30_000,
};

/** A Function URL host that is a valid URL host (the golden files use the placeholder `<url-id>`). */
const URL_HOST = "abcdefghij.lambda-url.us-west-2.on.aws";

Deno.test("handler() answers 400 to the verbatim AWS Function URL sample because `<url-id>` is not a valid host", async () => {
  const logged: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const result = await handler(await golden("function-url-post-iam.json"), context);
    assertEquals(result.statusCode, 400);
    assertEquals(result.body, "Invalid request");
  } finally {
    console.error = original;
  }
  assertEquals(logged.length, 1);
});

Deno.test("handler() turns the AWS Function URL sample into a request with its query, cookies, headers and body", async () => {
  const event = await golden("function-url-post-iam.json");
  event.requestContext.domainName = URL_HOST;
  const result = await handler(event, context);

  assertEquals(result.statusCode, 200);
  assertEquals(result.isBase64Encoded, false);
  assertEquals(result.headers, { "content-type": "application/json" });
  const echo = JSON.parse(result.body);
  assertEquals(echo.method, "POST");
  assertEquals(echo.target, "/my/path?parameter1=value1&parameter1=value2&parameter2=value");
  assertEquals(echo.queries, { parameter1: ["value1", "value2"], parameter2: ["value"] });
  // The adapter rebuilds one Cookie header from `cookies`; the comma-joined header stays one value.
  assertEquals(echo.headers, [
    ["content-length", "18"],
    ["cookie", "cookie1; cookie2"],
    ["header1", "value1"],
    ["header2", "value1,value2"],
  ]);
  const body = new TextEncoder().encode("Hello from client!");
  assertEquals(echo.body, { contentType: null, length: 18, sha256: await sha256Hex(body) });
});

Deno.test("handler() returns each Set-Cookie as an element of `cookies`, never in `headers`", async () => {
  const event = await golden("http-api-v2-get-cookies.json");
  event.rawPath = "/cookies";
  event.requestContext.http.path = "/cookies";
  const result = await handler(event, context);

  assertEquals(result.statusCode, 200);
  assertEquals(result.cookies, [
    "session=abc123; Path=/; HttpOnly",
    "theme=dark; Max-Age=3600; Path=/",
    "lang=en-US; Path=/; SameSite=Lax",
  ]);
  assertEquals(result.headers, { "content-type": "application/json" });
  assertEquals(JSON.parse(result.body).received, {
    s_fid: "7AABXMPL1AFD9BBF-0643XMPL09956DE2",
    regStatus: "pre-register",
  });
});

Deno.test("handler() base64-encodes an image/png body", async () => {
  const event = await golden("http-api-v2-get-mtls.json");
  event.rawPath = "/png";
  const result = await handler(event, context);

  assertEquals(result.statusCode, 200);
  assertEquals(result.isBase64Encoded, true);
  assertEquals(result.headers, { "content-type": "image/png" });
  assertEquals(Uint8Array.from(atob(result.body), (ch) => ch.charCodeAt(0)), PNG_BYTES);
});

Deno.test("app.fetch() keeps every value of a repeated query key", async () => {
  const res = await app.fetch(new Request("http://localhost/query?x=1&x=2&y=%20z"));
  assertEquals(res.status, 200);
  assertEquals(await res.json(), {
    target: "/query?x=1&x=2&y=%20z",
    queries: { x: ["1", "2"], y: [" z"] },
    query: { x: "1", y: " z" },
  });
});

Deno.test("app.fetch() echoes a percent-encoded path both decoded and raw", async () => {
  const res = await app.fetch(new Request("http://localhost/path/a%20b/c%2Fd"));
  const echo = await res.json();
  assertEquals(echo.rawPath, "/path/a%20b/c%2Fd");
  assertEquals(echo.target, "/path/a%20b/c%2Fd");
  // Hono decodes the path but keeps %2F, so a segment boundary is not invented.
  assertEquals(echo.path, "/path/a b/c%2Fd");
});

Deno.test("app.fetch() digests a binary body and parses form bodies with repeated keys", async () => {
  const bytes = new Uint8Array([0, 1, 2, 255, 254]);
  const bin = await app.fetch(
    new Request("http://localhost/body", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    }),
  );
  assertEquals(await bin.json(), {
    method: "POST",
    contentType: "application/octet-stream",
    length: 5,
    sha256: await sha256Hex(bytes),
  });
  const form = await app.fetch(
    new Request("http://localhost/body", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=1&a=2&b=x+y",
    }),
  );
  assertEquals((await form.json()).form, [["a", "1"], ["a", "2"], ["b", "x y"]]);
});

Deno.test("app.fetch() answers 304 without a body when If-None-Match matches the ETag", async () => {
  const res = await app.fetch(new Request("http://localhost/etag", { headers: { "if-none-match": ETAG } }));
  assertEquals(res.status, 304);
  assertEquals(res.headers.get("etag"), ETAG);
  assertEquals(res.body, null);
});

Deno.test("app.fetch() answers HEAD from the GET route with its headers and no body", async () => {
  const res = await app.fetch(new Request("http://localhost/head", { method: "HEAD" }));
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("x-lrp-route"), "head");
  assertEquals(res.body, null);
});

Deno.test("app.fetch() redirects with 302 and a Location header", async () => {
  const res = await app.fetch(new Request("http://localhost/redirect"));
  assertEquals(res.status, 302);
  assertEquals(res.headers.get("location"), "/query?from=redirect&x=1&x=2");
});
