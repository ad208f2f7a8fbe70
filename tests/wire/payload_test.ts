/**
 * Spliced payloads: a large binary body of a 2.0 rule is base64-encoded piece
 * by piece as it is written, and the function still gets exactly the event
 * `JSON.stringify` would give — through the RIE client, and through the
 * Invoke API with a SigV4 signature over the spliced bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeBase64 } from "../../lib/bytes.ts";
import { payloadBytes, spliceBody, SplicedPayload } from "../../lib/wire/payload.ts";
import { buildInvoker } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LambdaClients } from "../../lib/invoke/aws.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/handle/handler.ts";
import { startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { fakeRie } from "../fakes/rie.ts";
import { localRule, serveLrp } from "../helpers/in_process.ts";
import { request } from "../helpers/socket.ts";
import { ownBody, readBody, releaseBody } from "../../lib/handle/body.ts";

const td = new TextDecoder();

/** Bytes 0–255 over and over, then a tail that is not a multiple of 3 nor of a piece. */
function binary(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

Deno.test("a spliced payload is byte for byte the JSON of the whole event, in pieces or whole", () => {
  for (const size of [0, 1, 2, 3, 48 * 1024 - 1, 48 * 1024, 48 * 1024 + 1, 200_001]) {
    const raw = binary(size);
    const event = { version: "2.0", rawPath: "/up", headers: { "x-a": 'é"\\' }, isBase64Encoded: true };
    const spliced = spliceBody(JSON.stringify(event), raw);
    const expected = JSON.stringify({
      version: "2.0",
      rawPath: "/up",
      headers: { "x-a": 'é"\\' },
      body: encodeBase64(raw),
      isBase64Encoded: true,
    });
    assert.equal(td.decode(payloadBytes(spliced)), expected, `size ${size}`);
    let joined = "";
    for (const piece of spliced.pieces()) joined += td.decode(piece);
    assert.equal(joined, expected);
    assert.equal(spliced.length, new TextEncoder().encode(expected).length);
  }
  assert.throws(() => spliceBody('{"isBase64Encoded":false}', binary(3)), /Cannot splice/);
  assert.ok(spliceBody('{"a":1,"isBase64Encoded":true}', binary(3)) instanceof SplicedPayload);
});

Deno.test("a 1 MB binary body reaches an RIE function exactly, as base64 in the 2.0 event", async () => {
  const raw = binary(1_000_003);
  const seen: Record<string, unknown>[] = [];
  await using rie = fakeRie((event) => {
    seen.push(event as Record<string, unknown>);
    return { statusCode: 200, body: "ok" };
  });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  const res = await request(lrp.port, "fn.test", "/up?x=1", {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: raw,
  });
  assert.equal(res.status, 200);
  const event = seen[0]!;
  assert.equal(event.body, encodeBase64(raw));
  assert.equal(event.isBase64Encoded, true);
  assert.equal(event.rawPath, "/up");
  // The keys in AWS's order, body just before isBase64Encoded.
  assert.deepEqual(Object.keys(event).slice(-3), ["requestContext", "body", "isBase64Encoded"]);
});

Deno.test("a 1 MB binary body through an aws rule: the signature over the spliced payload is valid", async () => {
  const raw = binary(1_000_001);
  const credentials = { accessKeyId: "AKIDLRPTEST", secretAccessKey: "lrp-test-secret" };
  const fake = startFakeLambdaApi({
    functions: [{
      name: "example",
      handler: (event) => ({
        kind: "result",
        value: { statusCode: 200, body: String((event as { body: string }).body === encodeBase64(raw)) },
      }),
    }],
    credentials,
    region: "us-east-1",
  });
  const config = parseConfig("aws:\n  - hostname: big.test\n    function_name: example\n", {
    source: "test.yaml",
    env: { AWS_REGION: "us-east-1" },
  });
  const clients = new LambdaClients({
    region: config.region,
    endpointUrl: fake.url,
    profile: "",
    credentials,
  });
  try {
    const handler = createHandler({
      config,
      router: createRouter(config.rules, (rule) => buildInvoker(rule, clients)),
      log: silentLogger,
      version: "test",
      listenPort: 8080,
    });
    const res = await handler(
      new Request("http://big.test/", {
        method: "POST",
        headers: { host: "big.test", "content-type": "image/png" },
        body: raw as Uint8Array<ArrayBuffer>,
      }),
      { remoteAddr: { hostname: "127.0.0.1" } },
    );
    assert.equal(await res.text(), "true");
    assert.deepEqual(fake.requests.map((r) => r.signatureValid), [true]);
  } finally {
    await clients.close();
    await fake.close();
  }
});

Deno.test("releaseBody frees the body buffers lrp owns, and leaves anyone else's alone", async () => {
  const mine = ownBody(new Uint8Array(1024));
  releaseBody(mine);
  assert.equal(mine.buffer.byteLength, 0);
  releaseBody(mine); // twice is harmless
  const theirs = new Uint8Array(1024);
  releaseBody(theirs);
  assert.equal(theirs.length, 1024);
  // readBody copies a caller's bytes into a buffer of lrp's own, so releasing it never touches the caller's.
  const caller = binary(100_000);
  const declared = await readBody(
    new Request("http://x/", {
      method: "POST",
      headers: { "content-length": "100000" },
      body: caller as Uint8Array<ArrayBuffer>,
    }),
    1 << 20,
  );
  releaseBody(declared!);
  assert.equal(declared!.length, 0);
  assert.equal(caller.length, 100_000);
  // Without a declared length the one chunk may be the caller's own: it is not lrp's to free.
  const undeclared = await readBody(
    new Request("http://x/", { method: "POST", body: caller as Uint8Array<ArrayBuffer> }),
    1 << 20,
  );
  releaseBody(undeclared!);
  assert.equal(undeclared!.length, 100_000);
  assert.equal(caller.length, 100_000);
});
