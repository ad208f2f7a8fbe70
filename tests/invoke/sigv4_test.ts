import assert from "node:assert/strict";
import {
  type Credentials,
  loadSigner,
  SigningTemplate,
  type SignInput,
  signRequest,
  uriEncode,
} from "../../lib/invoke/sigv4.ts";
import { spliceBody } from "../../lib/wire/payload.ts";

await loadSigner();

Deno.test('signRequest() reproduces the SigV4 test vector (docs/wire-format.md, "SigV4") exactly', () => {
  const headers = signRequest({
    method: "POST",
    host: "lambda.us-east-1.amazonaws.com",
    path: "/2015-03-31/functions/my-function%3Aprod/invocations",
    query: {},
    headers: {
      "content-type": "application/octet-stream",
      "x-amz-content-sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    },
    body: new TextEncoder().encode("{}"),
    region: "us-east-1",
    service: "lambda",
    date: new Date(Date.UTC(2025, 0, 1)),
  }, { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" });
  assert.deepEqual(headers, {
    "x-amz-date": "20250101T000000Z",
    authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, " +
      "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, " +
      "Signature=b1940ffb632a3e0a559a9d22f254652a5969e2883db6713661dffa7212e4f748",
  });
});

Deno.test("signRequest() signs the session token of temporary credentials", () => {
  const headers = signRequest({
    method: "POST",
    host: "h",
    path: "/",
    query: { Qualifier: "live" },
    headers: {},
    body: new Uint8Array(),
    region: "eu-west-1",
    service: "lambda",
    date: new Date(Date.UTC(2025, 0, 1)),
  }, { accessKeyId: "A", secretAccessKey: "S", sessionToken: "TOKEN" });
  assert.equal(headers["x-amz-security-token"], "TOKEN");
  assert.match(headers.authorization!, /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
});

Deno.test("uriEncode() keeps unreserved characters and encodes every other byte", () => {
  assert.equal(uriEncode("a-b_c.d~e/f%3A g€", true), "a-b_c.d~e/f%253A%20g%E2%82%AC");
  assert.equal(uriEncode("a/b", false), "a%2Fb");
});

Deno.test("a SigningTemplate signs exactly as signRequest() for every time, body and kind of request", () => {
  const te = new TextEncoder();
  const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  const bodies = [
    new Uint8Array(),
    te.encode("{}"),
    te.encode("é ☃ 😀"),
    spliceBody('{"a":1,"isBase64Encoded":true}', big),
  ];
  const kinds: Omit<SignInput, "body" | "date">[] = [
    {
      method: "POST",
      host: "lambda.us-east-1.amazonaws.com",
      path: "/2015-03-31/functions/my-function%3Aprod/invocations",
      query: {},
      headers: { "content-type": "application/octet-stream" },
      region: "us-east-1",
      service: "lambda",
    },
    {
      method: "POST",
      host: "127.0.0.1:9001",
      path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af/invocations",
      query: { Qualifier: "live", "a b": "c/d" },
      headers: { "content-type": "application/octet-stream", zz: "  two   spaces ", "x-amz-z": "after" },
      region: "eu-west-1",
      service: "lambda",
    },
  ];
  const creds: Credentials[] = [
    { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    { accessKeyId: "ASIA", secretAccessKey: "S", sessionToken: "TOKEN/+=" },
  ];
  const dates = [Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1, 23, 59, 59, 999), Date.UTC(2026, 11, 1, 4, 5, 6)];
  let n = 0;
  for (const kind of kinds) {
    for (const c of creds) {
      const template = new SigningTemplate(kind, c);
      for (const ms of dates) {
        for (const body of bodies) {
          const expected = signRequest({ ...kind, body, date: new Date(ms) }, c);
          assert.deepEqual(template.sign(body, new Date(ms)), expected);
          n++;
        }
      }
    }
  }
  assert.equal(n, 48);
});
