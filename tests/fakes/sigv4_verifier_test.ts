// deno-lint-ignore-file no-import-prefix -- lrp pins npm deps inline (no import map)
import assert from "node:assert/strict";
import { Sha256 } from "npm:@aws-crypto/sha256-js@5.2.0";
import { type ReceivedRequest, verifySigV4 } from "./sigv4_verifier.ts";

// The SigV4 test vector also pinned by tests/invoke/sigv4_test.ts (docs/wire-format.md, "SigV4").
const CREDENTIALS = [{
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}];
const SCOPE = { region: "us-east-1", service: "lambda" };
const BODY_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/lambda/aws4_request, " +
  "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, " +
  "Signature=b1940ffb632a3e0a559a9d22f254652a5969e2883db6713661dffa7212e4f748";
const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const CANONICAL_REQUEST = [
  "POST",
  "/2015-03-31/functions/my-function%253Aprod/invocations",
  "",
  "content-type:application/octet-stream",
  "host:lambda.us-east-1.amazonaws.com",
  `x-amz-content-sha256:${BODY_HASH}`,
  "x-amz-date:20250101T000000Z",
  "",
  "content-type;host;x-amz-content-sha256;x-amz-date",
  BODY_HASH,
].join("\n");

function vectorRequest(
  override: Partial<ReceivedRequest> = {},
  headers: Record<string, string> = {},
): ReceivedRequest {
  return {
    method: "POST",
    path: "/2015-03-31/functions/my-function%3Aprod/invocations",
    query: "",
    headers: new Headers({
      "content-type": "application/octet-stream",
      "host": "lambda.us-east-1.amazonaws.com",
      "x-amz-content-sha256": BODY_HASH,
      "x-amz-date": "20250101T000000Z",
      "authorization": AUTHORIZATION,
      // Unsigned headers may change freely in transit.
      "user-agent": "test",
      ...headers,
    }),
    body: new TextEncoder().encode("{}"),
    ...override,
  };
}

async function sha256Hex(text: string): Promise<string> {
  const hash = new Sha256();
  hash.update(new TextEncoder().encode(text));
  return Array.from(await hash.digest(), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("verifySigV4() accepts the SigV4 test vector and rebuilds its canonical request and string to sign", async () => {
  const verdict = await verifySigV4(vectorRequest(), CREDENTIALS, SCOPE);
  assert.equal(verdict.valid, true);
  assert.equal(verdict.canonicalRequest, CANONICAL_REQUEST);
  // The vector's "string-to-sign hash" is the hashed canonical request, the last line of the string to sign.
  assert.equal(
    await sha256Hex(CANONICAL_REQUEST),
    "d2270ece1ee355e0dae3e6488cc0d01a39ed25e2bfabb61bd38d54efc09c3e74",
  );
  assert.equal(
    verdict.stringToSign,
    "AWS4-HMAC-SHA256\n20250101T000000Z\n20250101/us-east-1/lambda/aws4_request\n" +
      "d2270ece1ee355e0dae3e6488cc0d01a39ed25e2bfabb61bd38d54efc09c3e74",
  );
});

Deno.test("verifySigV4() rejects a tampered body even when x-amz-content-sha256 is left as signed", async () => {
  const verdict = await verifySigV4(
    vectorRequest({ body: new TextEncoder().encode("[]") }),
    CREDENTIALS,
    SCOPE,
  );
  assert.equal(verdict.valid, false);
  assert.equal(!verdict.valid && verdict.errorType, "InvalidSignatureException");
  assert.match(
    verdict.canonicalRequest ?? "",
    /\n4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945$/,
  );
});

Deno.test("verifySigV4() rejects a tampered path, query, signed header or signature", async () => {
  const cases: [string, ReceivedRequest][] = [
    ["path", vectorRequest({ path: "/2015-03-31/functions/my-function%3Adev/invocations" })],
    ["query", vectorRequest({ query: "Qualifier=prod" })],
    ["method", vectorRequest({ method: "PUT" })],
    ["signed header", vectorRequest({}, { "content-type": "application/json" })],
    ["signature", vectorRequest({}, { authorization: AUTHORIZATION.replace("b1940ffb", "b1940ffc") })],
  ];
  for (const [name, request] of cases) {
    const verdict = await verifySigV4(request, CREDENTIALS, SCOPE);
    assert.deepEqual(
      verdict.valid ? "valid" : [verdict.errorType, verdict.message],
      ["InvalidSignatureException", SIGNATURE_MISMATCH],
      name,
    );
  }
});

Deno.test("verifySigV4() ignores unsigned headers", async () => {
  const verdict = await verifySigV4(
    vectorRequest({}, { "user-agent": "other", "x-extra": "1" }),
    CREDENTIALS,
    SCOPE,
  );
  assert.equal(verdict.valid, true);
});

Deno.test("verifySigV4() names the refusal like AWS for a missing header, unknown key, token or wrong scope", async () => {
  const noAuth = vectorRequest();
  noAuth.headers.delete("authorization");
  const cases: [string, ReceivedRequest, unknown][] = [
    ["no Authorization", noAuth, ["InvalidSignatureException", "Missing Authentication Token"]],
    [
      "unknown key id",
      vectorRequest({}, { authorization: AUTHORIZATION.replace("AKIDEXAMPLE", "AKIDOTHER") }),
      ["UnrecognizedClientException", "The security token included in the request is invalid."],
    ],
    [
      "unexpected session token",
      vectorRequest({}, { "x-amz-security-token": "tok" }),
      ["UnrecognizedClientException", "The security token included in the request is invalid."],
    ],
    [
      "other region",
      vectorRequest({}, { authorization: AUTHORIZATION.replace("us-east-1", "eu-west-1") }),
      ["InvalidSignatureException", "Credential should be scoped to a valid region. Expected 'us-east-1'"],
    ],
    [
      "other service",
      vectorRequest({}, { authorization: AUTHORIZATION.replace("/lambda/", "/s3/") }),
      ["InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'"],
    ],
    [
      "host not signed",
      vectorRequest({}, {
        authorization: AUTHORIZATION.replace("content-type;host;", "content-type;"),
      }),
      ["InvalidSignatureException", "'host' must be a 'SignedHeader' in the AWS Authorization."],
    ],
  ];
  for (const [name, request, expected] of cases) {
    const verdict = await verifySigV4(request, CREDENTIALS, SCOPE);
    assert.deepEqual(verdict.valid ? "valid" : [verdict.errorType, verdict.message], expected, name);
  }
});
