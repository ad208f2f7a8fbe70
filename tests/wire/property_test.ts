/**
 * Property-based tests (fast-check): generated requests survive request →
 * event → echo function → response as AWS keeps them; generated Lambda results
 * always give a well-formed response or a 502, never another exception, and
 * never a header line the function could use to split the response.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { LrpError } from "../../lib/errors.ts";
import { RawPayload, startRie } from "../fakes/rie.ts";
import { toResponse } from "../../lib/handle/handler.ts";
import type { EventV2 } from "../../lib/wire/event.ts";
import { decodeBase64 } from "../../lib/bytes.ts";
import { localRule, serveLrp } from "../helpers/in_process.ts";
import { rawHttp } from "../helpers/socket.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
/** Header names a function sees as sent (not added, moved or dropped by lrp). */
const headerName = token.filter((n) =>
  !["host", "cookie", "content-length", "content-type", "connection", "keep-alive", "te", "trailer"]
    .includes(n) &&
  !n.startsWith("x-forwarded-") && !n.startsWith("x-amzn-") &&
  !["transfer-encoding", "upgrade", "proxy-connection"].includes(n)
);
/** Header values as they survive Headers: visible ASCII and inner spaces, no surrounding whitespace. */
const headerValue = fc.stringMatching(/^[!-~]([ !-~]{0,30}[!-~])?$/);
const anyBytes = fc.uint8Array({ maxLength: 64 });
const pctEncode = (bytes: Uint8Array) =>
  [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
const pathSegment = fc.oneof(token, anyBytes.map(pctEncode), fc.constantFrom("..", ".", "%2e%2e", ""));
const contentType = fc.constantFrom(
  undefined,
  "text/plain",
  "text/html; charset=utf-8",
  "application/json",
  "application/xml",
  "application/javascript",
  "application/octet-stream",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/vnd.api+json",
  "image/png",
);
const cookie = fc.tuple(token, fc.stringMatching(/^[!#-+\--:<-\[\]-~]{0,20}$/)).map(([n, v]) => `${n}=${v}`);

const queryPart = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 4 }));
const generatedRequest = fc.record({
  method: fc.constantFrom("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
  segments: fc.array(pathSegment, { minLength: 1, maxLength: 5 }),
  query: fc.array(fc.tuple(queryPart, queryPart), { maxLength: 6 }),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }),
  cookies: fc.array(cookie, { maxLength: 4 }),
  contentType,
  body: fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ unit: "grapheme", maxLength: 100 }).map((s) => te.encode(s)),
  ),
});

Deno.test("property: request → event → echo function → response keeps path, query, headers, cookies and body bytes over a real socket", async () => {
  const seen: { event?: EventV2 | undefined } = {};
  // An echo function: the body back as it came, each cookie as a Set-Cookie, each header as x-echo-*.
  await using rie = startRie({
    handler: (e) => {
      const event = seen.event = e as EventV2;
      const echoed: Record<string, string> = {};
      for (const [n, v] of Object.entries(event.headers)) echoed[`x-echo-${n}`] = v;
      return {
        statusCode: 200,
        headers: echoed,
        ...(event.cookies && { cookies: event.cookies }),
        ...(event.body !== undefined && { body: event.body, isBase64Encoded: event.isBase64Encoded }),
      };
    },
  });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  await fc.assert(
    fc.asyncProperty(generatedRequest, async (g) => {
      const path = "/" + g.segments.join("/");
      const rawQuery = g.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
      const lines = [`${g.method} ${path}${rawQuery ? `?${rawQuery}` : ""} HTTP/1.1`, "Host: fn.test"];
      for (const [n, v] of g.headers) lines.push(`${n}: ${v}`);
      if (g.cookies.length > 0) lines.push(`Cookie: ${g.cookies.join("; ")}`);
      if (g.contentType) lines.push(`Content-Type: ${g.contentType}`);
      const hasBody = g.method !== "GET" && g.method !== "HEAD" && g.body.length > 0;
      if (hasBody) lines.push(`Content-Length: ${g.body.length}`);
      seen.event = undefined;
      const res = await rawHttp(lrp.port, lines.join("\r\n"), hasBody ? g.body : undefined);
      assert.equal(res.status, 200);
      const event = seen.event as EventV2 | undefined;
      assert.ok(event);

      assert.equal(event.rawPath, path);
      assert.equal(event.requestContext.http.path, path);
      assert.equal(event.requestContext.http.method, g.method);
      assert.equal(event.rawQueryString, rawQuery);
      const expectedParams: Record<string, string> = {};
      for (const [k, v] of g.query) expectedParams[k] = k in expectedParams ? `${expectedParams[k]},${v}` : v;
      assert.deepEqual(event.queryStringParameters, g.query.length > 0 ? expectedParams : undefined);
      const joined = new Map<string, string[]>();
      for (const [n, v] of g.headers) joined.set(n, [...(joined.get(n) ?? []), v]);
      for (const [n, vs] of joined) assert.equal(event.headers[n], vs.join(", "));
      assert.equal("cookie" in event.headers, false);
      assert.deepEqual(event.cookies, g.cookies.length > 0 ? g.cookies : undefined);
      if (!hasBody) assert.equal(event.body, undefined);
      else {
        const sent = event.isBase64Encoded ? decodeBase64(event.body!) : te.encode(event.body!);
        assert.deepEqual(sent, g.body);
      }

      const header = (name: string) => res.headers.filter(([n]) => n === name).map(([, v]) => v);
      for (const [n, vs] of joined) assert.deepEqual(header(`x-echo-${n}`), [vs.join(", ")]);
      assert.deepEqual(header("set-cookie"), g.cookies);
      if (g.method !== "HEAD") assert.deepEqual(res.body, hasBody ? g.body : new Uint8Array());
    }),
    { numRuns: 300 },
  );
});

const weirdString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    "a\r\nx-injected: 1",
    "\r\n\r\nHTTP/1.1 200 OK",
    "v\nx",
    "v\rx",
    "\0",
    "é€😀",
    " padded ",
    "",
  ),
  fc.string({ minLength: 0, maxLength: 3 }).map((s) => s + "x".repeat(70_000)),
);
const weirdValue = fc.oneof(
  weirdString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue(),
);
const generatedResult = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      statusCode: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double(), fc.string(), fc.constant(null)),
      headers: fc.oneof(fc.dictionary(weirdString, weirdValue, { maxKeys: 5 }), weirdValue),
      cookies: fc.oneof(fc.array(weirdValue, { maxLength: 4 }), weirdValue),
      body: weirdValue,
      isBase64Encoded: fc.oneof(fc.boolean(), weirdValue),
    },
    { requiredKeys: ["statusCode"] },
  ),
);
const generatedPayload = fc.oneof(
  generatedResult.map((r) => te.encode(JSON.stringify(r))),
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.jsonValue(), fc.uint8Array({ maxLength: 20 })).map(([p, b]) =>
    new Uint8Array([...te.encode(JSON.stringify(p)), 0, 0, 0, 0, 0, 0, 0, 0, ...b])
  ),
);

/** Whether a response is well-formed: a sendable status, and no header value that could end a header line. */
function assertWellFormed(response: Response) {
  assert.ok(response.status >= 200 && response.status <= 599, `status ${response.status}`);
  for (const [name, value] of response.headers) {
    assert.match(name, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
    assert.doesNotMatch(value, /[\r\n\0]/);
  }
}

Deno.test("property: any Lambda result gives a well-formed response or a 502 LrpError, never another exception", () => {
  fc.assert(
    fc.property(generatedPayload, fc.constantFrom("GET", "HEAD", "POST"), (payload, method) => {
      try {
        assertWellFormed(toResponse({ body: payload }, method));
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof LrpError, `threw ${err}`);
        assert.equal(err.status, 502);
        assert.equal(err.code, "bad_result");
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: over a real socket, a result never adds a header line or a second response", async () => {
  let current = new Uint8Array();
  await using rie = startRie({ handler: () => new RawPayload(current) });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  const allowed = new Set([
    "content-type",
    "content-length",
    "date",
    "set-cookie",
    "x-lrp-error",
    "connection",
    "vary",
  ]);
  await fc.assert(
    fc.asyncProperty(generatedResult, async (result) => {
      current = te.encode(JSON.stringify(result));
      const res = await rawHttp(lrp.port, "GET / HTTP/1.1\r\nHost: fn.test");
      assert.ok(res.status === 502 || (res.status >= 200 && res.status <= 599), `status ${res.status}`);
      const own = new Set(
        typeof result === "object" && result !== null && !Array.isArray(result) &&
          typeof result.headers === "object" && result.headers !== null
          ? Object.keys(result.headers).map((k) => k.toLowerCase())
          : [],
      );
      for (const [name] of res.headers) {
        assert.ok(allowed.has(name) || own.has(name), `unexpected header ${name}`);
      }
      if (res.status === 502) assert.equal(JSON.parse(td.decode(res.body)).error, "bad_result");
    }),
    { numRuns: 150 },
  );
});
