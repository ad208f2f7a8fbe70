import assert from "node:assert/strict";
import { decodeBase64, encodeBase64 } from "../../lib/bytes.ts";
import {
  formatClfTime,
  isTextContentType,
  parseQueryParameters,
  type RequestMeta,
  requestToEvent,
  splitCookies,
} from "../../lib/wire/request.ts";
import { preludeToResponse, splitPrelude } from "../../lib/wire/prelude.ts";
import { resultToResponse } from "../../lib/wire/result.ts";
import { normalizeHost, splitTarget } from "../../lib/wire/target.ts";
import { LrpError } from "../../lib/errors.ts";

const META: RequestMeta = {
  requestId: "7f5c2a61-3d1e-4d7a-9b0e-2f6c8e1a4b55",
  timeEpoch: 1738746423512,
  sourceIp: "203.0.113.9",
  listenPort: 8080,
  traceId: "Root=1-67a0c0de-0123456789abcdef01234567",
};
const te = new TextEncoder();

/**
 * A request whose `url` is the raw target, as `Deno.serve` hands it over
 * (`new Request()` would normalise it; the socket tests cover the real path).
 */
function req(target: string, init: RequestInit & { host?: string } = {}): Request {
  const headers = new Headers(init.headers);
  headers.set("host", init.host ?? "abcdefghij.lambda-url.eu-west-1.on.aws");
  const url = `http://${headers.get("host")}${target}`;
  const request = new Request(url, { ...init, headers });
  Object.defineProperty(request, "url", { value: url });
  return request;
}

Deno.test('requestToEvent() builds the Function URL event field for field (docs/wire-format.md, "The request event")', () => {
  const request = req("/orders/42?x=1&x=2&y=%20z", {
    method: "POST",
    headers: [
      ["content-type", "application/json"],
      ["accept", "text/html,application/json"],
      ["x-custom", "a,b"],
      ["user-agent", "curl/8.5.0"],
      ["cookie", "session=abc; theme=dark"],
    ],
  });
  const event = requestToEvent(request, te.encode('{"qty":3}'), META);
  assert.deepEqual(event, {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/orders/42",
    rawQueryString: "x=1&x=2&y=%20z",
    cookies: ["session=abc", "theme=dark"],
    headers: {
      "accept": "text/html,application/json",
      "content-type": "application/json",
      "host": "abcdefghij.lambda-url.eu-west-1.on.aws",
      "user-agent": "curl/8.5.0",
      "x-custom": "a,b",
      "x-amzn-trace-id": "Root=1-67a0c0de-0123456789abcdef01234567",
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-port": "8080",
      "x-forwarded-proto": "http",
    },
    queryStringParameters: { x: "1,2", y: " z" },
    requestContext: {
      accountId: "anonymous",
      apiId: "abcdefghij",
      domainName: "abcdefghij.lambda-url.eu-west-1.on.aws",
      domainPrefix: "abcdefghij",
      http: {
        method: "POST",
        path: "/orders/42",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "curl/8.5.0",
      },
      requestId: "7f5c2a61-3d1e-4d7a-9b0e-2f6c8e1a4b55",
      routeKey: "$default",
      stage: "$default",
      time: "05/Feb/2025:09:07:03 +0000",
      timeEpoch: 1738746423512,
    },
    body: '{"qty":3}',
    isBase64Encoded: false,
  });
});

Deno.test("requestToEvent() omits cookies, queryStringParameters and body when the request has none", () => {
  const event = requestToEvent(req("/"), null, META);
  assert.equal("cookies" in event, false);
  assert.equal("queryStringParameters" in event, false);
  assert.equal("body" in event, false);
  assert.equal(event.rawQueryString, "");
  assert.equal(event.isBase64Encoded, false);
  assert.equal(event.requestContext.http.userAgent, "");
});

Deno.test("requestToEvent() treats an empty body as no body", () => {
  const event = requestToEvent(req("/", { method: "POST" }), new Uint8Array(0), META);
  assert.equal("body" in event, false);
});

Deno.test("requestToEvent() keeps rawPath exactly as sent: encoding, dot segments, double slashes", () => {
  for (const target of ["/a/../b%2Fc/./d", "//double//slash", "/caf%C3%A9/%7Euser", "/x%2e%2e/y"]) {
    const e = requestToEvent(req(target), null, META);
    assert.equal(e.rawPath, target);
    assert.equal(e.requestContext.http.path, target);
  }
});

Deno.test("requestToEvent() keeps rawQueryString verbatim without the leading ?", () => {
  const e = requestToEvent(req("/p?b=2&a=%2B+x&flag&=v&"), null, META);
  assert.equal(e.rawQueryString, "b=2&a=%2B+x&flag&=v&");
  assert.deepEqual(e.queryStringParameters, { b: "2", a: "+ x", flag: "", "": "v" });
});

Deno.test("requestToEvent() moves Cookie into cookies and never into headers", () => {
  const e = requestToEvent(req("/", { headers: { cookie: "a=1; b=2;c=3" } }), null, META);
  assert.deepEqual(e.cookies, ["a=1", "b=2", "c=3"]);
  assert.equal(e.headers.cookie, undefined);
});

Deno.test("requestToEvent() lower-cases header names and joins repeats", () => {
  const headers = new Headers();
  headers.append("X-Multi", "1");
  headers.append("X-Multi", "2");
  const e = requestToEvent(req("/", { headers }), null, META);
  // Deno's Headers joins repeated lines with ", " (documented in the README).
  assert.equal(e.headers["x-multi"], "1, 2");
});

Deno.test("requestToEvent() appends the peer to an existing X-Forwarded-For and keeps a client trace id", () => {
  const e = requestToEvent(
    req("/", { headers: { "x-forwarded-for": "198.51.100.1", "x-amzn-trace-id": "Root=1-client" } }),
    null,
    META,
  );
  assert.equal(e.headers["x-forwarded-for"], "198.51.100.1, 203.0.113.9");
  assert.equal(e.headers["x-amzn-trace-id"], "Root=1-client");
  assert.equal(e.requestContext.http.sourceIp, "203.0.113.9");
});

Deno.test("requestToEvent() base64-encodes bodies by the content-type rule", () => {
  const cases: [string | null, boolean][] = [
    ["application/json", false],
    ["application/json; charset=utf-8", false],
    ["TEXT/PLAIN;charset=UTF-8", false],
    ["text/html", false],
    ["application/javascript", false],
    ["application/xml", false],
    ["application/x-www-form-urlencoded", true],
    ["multipart/form-data; boundary=x", true],
    ["application/octet-stream", true],
    ["image/png", true],
    ["application/vnd.api+json", true],
    [null, true],
  ];
  for (const [ct, b64] of cases) {
    const headers: Record<string, string> = ct ? { "content-type": ct } : {};
    const e = requestToEvent(req("/", { method: "POST", headers }), te.encode("a=1"), META);
    assert.equal(e.isBase64Encoded, b64, String(ct));
    assert.equal(e.body, b64 ? "YT0x" : "a=1", String(ct));
  }
});

Deno.test("requestToEvent() base64-encodes a text body that is not valid UTF-8 instead of mangling it", () => {
  const bytes = new Uint8Array([0x68, 0xe9, 0x6c]); // "hél" in Latin-1
  const e = requestToEvent(
    req("/", { method: "POST", headers: { "content-type": "text/plain" } }),
    bytes,
    META,
  );
  assert.equal(e.isBase64Encoded, true);
  assert.deepEqual(decodeBase64(e.body!), bytes);
});

Deno.test("requestToEvent() takes domainName and domainPrefix from the Host without port or trailing dot", () => {
  const e = requestToEvent(req("/", { host: "Service-1.Example.COM.:8080" }), null, META);
  assert.equal(e.requestContext.domainName, "service-1.example.com");
  assert.equal(e.requestContext.domainPrefix, "service-1");
  const v6 = requestToEvent(req("/", { host: "[::1]:8080" }), null, META);
  assert.equal(v6.requestContext.domainName, "[::1]");
  assert.equal(v6.requestContext.domainPrefix, "[::1]");
});

Deno.test("splitTarget() splits without normalising and drops a fragment", () => {
  assert.deepEqual(splitTarget("http://h/a/../b?x=1#f"), { path: "/a/../b", query: "x=1" });
  assert.deepEqual(splitTarget("http://h/?"), { path: "/", query: "" });
  assert.deepEqual(splitTarget("http://h"), { path: "/", query: "" });
  assert.deepEqual(splitTarget("http://evil.example/x?y"), { path: "/x", query: "y" });
  assert.deepEqual(splitTarget("http://h/p#frag?notquery"), { path: "/p", query: "" });
  // An absolute-form target with an empty path keeps its query.
  assert.deepEqual(splitTarget("http://h?x=1"), { path: "/", query: "x=1" });
  assert.deepEqual(splitTarget("http://h#f?x"), { path: "/", query: "" });
});

Deno.test("normalizeHost() lower-cases, strips port and one trailing dot, keeps IPv6 brackets", () => {
  assert.equal(normalizeHost("Foo.Example.com.:8080"), "foo.example.com");
  assert.equal(normalizeHost("[2001:DB8::1]:443"), "[2001:db8::1]");
  assert.equal(normalizeHost("localhost"), "localhost");
  assert.equal(normalizeHost(null), "");
  assert.equal(normalizeHost(""), "");
});

Deno.test("parseQueryParameters() decodes, joins repeats with commas, and keeps malformed escapes", () => {
  assert.equal(parseQueryParameters(""), undefined);
  assert.equal(parseQueryParameters("&&"), undefined);
  assert.deepEqual(parseQueryParameters("x=1&x=2&x=3"), { x: "1,2,3" });
  assert.deepEqual(parseQueryParameters("q=%zz&r=%E2%82%AC"), { q: "%zz", r: "€" });
  assert.deepEqual(parseQueryParameters("a=b=c"), { a: "b=c" });
});

Deno.test("splitCookies() splits pairs and drops empty pieces", () => {
  assert.deepEqual(splitCookies("a=1; b=2"), ["a=1", "b=2"]);
  assert.deepEqual(splitCookies(" ; "), undefined);
  assert.equal(splitCookies(null), undefined);
});

Deno.test("formatClfTime() zero-pads the day and uses UTC with a literal +0000", () => {
  assert.equal(formatClfTime(Date.UTC(2021, 8, 7, 22, 50, 22)), "07/Sep/2021:22:50:22 +0000");
  assert.equal(formatClfTime(Date.UTC(2025, 0, 1, 0, 0, 0, 999)), "01/Jan/2025:00:00:00 +0000");
});

Deno.test("isTextContentType() ignores media-type parameters and case", () => {
  assert.equal(isTextContentType("Application/JSON ; charset=utf-8"), true);
  assert.equal(isTextContentType("application/problem+json"), false);
  assert.equal(isTextContentType(""), false);
});

Deno.test("encodeBase64() and decodeBase64() round-trip every byte value", () => {
  const all = new Uint8Array(70000).map((_, i) => i % 256);
  assert.deepEqual(decodeBase64(encodeBase64(all)), all);
  assert.throws(() => decodeBase64("not base64!"), TypeError);
  assert.throws(() => decodeBase64("abcde"), TypeError);
});

// ---- results ----

const json = (v: unknown) => te.encode(JSON.stringify(v));

async function expectBadResult(payload: Uint8Array, pattern: RegExp) {
  assert.throws(() => resultToResponse(payload), (err: unknown) => {
    assert.ok(err instanceof LrpError);
    assert.equal(err.status, 502);
    assert.equal(err.code, "bad_result");
    assert.match(err.message, pattern);
    return true;
  });
  await Promise.resolve();
}

Deno.test("resultToResponse() renders a structured result with headers, cookies and body", async () => {
  const res = resultToResponse(json({
    statusCode: 201,
    headers: { "Content-Type": "application/json", "My-Custom-Header": "Custom Value", "x-n": 5 },
    cookies: ["sid=1; Path=/; HttpOnly", "theme=dark; Max-Age=3600"],
    body: '{ "message": "Hello, world!" }',
  }));
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("my-custom-header"), "Custom Value");
  assert.equal(res.headers.get("x-n"), "5");
  assert.deepEqual(res.headers.getSetCookie(), ["sid=1; Path=/; HttpOnly", "theme=dark; Max-Age=3600"]);
  assert.equal(await res.text(), '{ "message": "Hello, world!" }');
});

Deno.test("resultToResponse() infers 200 application/json with the raw bytes for non-structured JSON", async () => {
  for (const raw of ['"Hello, world!"', '{"message":"Hello, world!"}', "[1,2]", "42", "null", " true "]) {
    const res = resultToResponse(te.encode(raw));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(await res.text(), raw);
  }
});

Deno.test("resultToResponse() decodes a base64 body to bytes", async () => {
  const bytes = new Uint8Array([0, 1, 2, 255, 254]);
  const res = resultToResponse(json({ statusCode: 200, body: encodeBase64(bytes), isBase64Encoded: true }));
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
});

Deno.test("resultToResponse() adds no content-type to a structured result without one", async () => {
  const res = resultToResponse(json({ statusCode: 200, body: "hi" }));
  assert.equal(res.headers.get("content-type"), null);
  assert.equal(await res.text(), "hi");
});

Deno.test("resultToResponse() sends no body for 204, 205 and 304", () => {
  for (const statusCode of [204, 205, 304]) {
    const res = resultToResponse(json({ statusCode, body: "ignored", headers: { etag: '"x"' } }));
    assert.equal(res.status, statusCode);
    assert.equal(res.body, null);
    assert.equal(res.headers.get("etag"), '"x"');
  }
});

Deno.test("resultToResponse() drops hop-by-hop headers and content-length set by the function", () => {
  const res = resultToResponse(json({
    statusCode: 200,
    headers: { "connection": "close", "transfer-encoding": "chunked", "content-length": "999", "x-ok": "1" },
    body: "abc",
  }));
  assert.deepEqual([...res.headers], [["x-ok", "1"]]);
});

Deno.test("resultToResponse() answers 502 for unusable results", async () => {
  await expectBadResult(te.encode("not json"), /not JSON/);
  await expectBadResult(te.encode(""), /not JSON/);
  await expectBadResult(json({ statusCode: "200" }), /statusCode/);
  await expectBadResult(json({ statusCode: 99 }), /statusCode/);
  await expectBadResult(json({ statusCode: 600 }), /statusCode/);
  await expectBadResult(json({ statusCode: 200.5 }), /statusCode/);
  await expectBadResult(json({ statusCode: null }), /statusCode/);
  await expectBadResult(json({ statusCode: 200, headers: "x" }), /headers/);
  await expectBadResult(json({ statusCode: 200, headers: { "x": { a: 1 } } }), /header "x"/);
  await expectBadResult(json({ statusCode: 200, headers: { "bad name": "v" } }), /header "bad name"/);
  await expectBadResult(
    json({ statusCode: 200, headers: { "x": "a\r\nSet-Cookie: evil=1" } }),
    /control character 0x0d/,
  );
  await expectBadResult(json({ statusCode: 200, cookies: "a=1" }), /cookies/);
  await expectBadResult(
    json({ statusCode: 200, cookies: ["a=1\r\nx: y"] }),
    /cookie contains the control character 0x0d/,
  );
  await expectBadResult(json({ statusCode: 200, body: { a: 1 } }), /body/);
  await expectBadResult(json({ statusCode: 200, body: "%%%", isBase64Encoded: true }), /base64/);
});

Deno.test("splitPrelude() finds the Function URL streaming prelude and its body", async () => {
  const bytes = te.encode(
    '{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}\0\0\0\0\0\0\0\0hello',
  );
  const framed = splitPrelude(bytes);
  assert.ok(framed);
  assert.deepEqual(framed.prelude, {
    statusCode: 200,
    headers: { "content-type": "text/plain" },
    cookies: ["a=1"],
  });
  const res = preludeToResponse(framed.prelude, framed.body);
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers.getSetCookie(), ["a=1"]);
  assert.equal(await res.text(), "hello");
});

Deno.test("splitPrelude() ignores ordinary results and bodies whose NUL run follows no JSON object", () => {
  assert.equal(splitPrelude(json({ statusCode: 200 })), undefined);
  assert.equal(splitPrelude(te.encode("{not json\0\0\0\0\0\0\0\0x")), undefined);
  assert.equal(splitPrelude(te.encode("[1]\0\0\0\0\0\0\0\0x")), undefined);
  assert.equal(splitPrelude(te.encode('{"a":1}\0\0\0\0\0\0\0x')), undefined); // only 7 NULs
});

Deno.test("preludeToResponse() defaults the status to 200", () => {
  assert.equal(preludeToResponse({}, null).status, 200);
});

Deno.test("requestToEvent() drops hop-by-hop request headers", () => {
  const e = requestToEvent(
    req("/", {
      headers: { connection: "keep-alive", "keep-alive": "timeout=5", te: "trailers", "x-keep": "1" },
    }),
    null,
    META,
  );
  assert.equal(e.headers.connection, undefined);
  assert.equal(e.headers["keep-alive"], undefined);
  assert.equal(e.headers.te, undefined);
  assert.equal(e.headers["x-keep"], "1");
});

Deno.test("requestToEvent() writes keys in AWS's order", () => {
  const e = requestToEvent(
    req("/p?q=1", { method: "POST", headers: { cookie: "a=1" } }),
    te.encode("{}"),
    META,
  );
  assert.deepEqual(Object.keys(e), [
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "isBase64Encoded",
  ]);
});

Deno.test("requestToEvent() replaces a client's x-forwarded-proto/-port unless the peer is a trusted proxy", () => {
  const headers = { "x-forwarded-proto": "https", "x-forwarded-port": "443" };
  const untrusted = requestToEvent(req("/", { headers }), null, META);
  assert.equal(untrusted.headers["x-forwarded-proto"], "http");
  assert.equal(untrusted.headers["x-forwarded-port"], "8080");
  const trusted = requestToEvent(req("/", { headers }), null, { ...META, trustedPeer: true });
  assert.equal(trusted.headers["x-forwarded-proto"], "https");
  assert.equal(trusted.headers["x-forwarded-port"], "443");
});

Deno.test("requestToEvent() drops the headers a Connection header names", () => {
  const e = requestToEvent(
    req("/", { headers: { connection: "X-Secret-Hop, close", "x-secret-hop": "1" } }),
    null,
    META,
  );
  assert.equal(e.headers["x-secret-hop"], undefined);
});
