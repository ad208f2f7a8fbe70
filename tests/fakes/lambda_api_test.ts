// deno-lint-ignore-file no-import-prefix -- lrp pins npm deps inline (no import map)
import assert from "node:assert/strict";
import {
  InvokeCommand,
  InvokeWithResponseStreamCommand,
  type InvokeWithResponseStreamResponseEvent,
  LambdaClient,
} from "npm:@aws-sdk/client-lambda@3.1164.0";
import { SignatureV4 } from "npm:@smithy/signature-v4@5.7.5";
import { Sha256 } from "npm:@aws-crypto/sha256-js@5.2.0";
import { encodeInvokeComplete, encodePayloadChunk } from "./event_stream.ts";
import {
  type FakeFunction,
  type FakeLambdaApiOptions,
  type FakeOutcome,
  startFakeLambdaApi,
} from "./lambda_api.ts";

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "AKIDFAKE", secretAccessKey: "fake-secret" };
const ACCOUNT = "123456789012";
const text = new TextDecoder();

/** Echoes the event with where it ran, so each case shows what the fake resolved. */
const echo: FakeFunction = {
  name: "echo",
  aliases: { live: "7" },
  versions: ["3", "7"],
  handler: (event, ctx) => ({
    kind: "result",
    value: { event, fn: ctx.functionName, qualifier: ctx.qualifier },
  }),
};
const failing: FakeFunction = {
  name: "failing",
  aliases: ["beta"],
  handler: () => {
    throw new TypeError("bad input");
  },
};

function start(overrides: Partial<FakeLambdaApiOptions> = {}) {
  return startFakeLambdaApi({
    functions: [echo, failing],
    credentials: CREDENTIALS,
    region: REGION,
    ...overrides,
  });
}

/** An SDK client aimed at the fake; no retries, so each call is one request. */
function clientFor(
  url: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = CREDENTIALS,
) {
  const client = new LambdaClient({ endpoint: url, region: REGION, credentials, maxAttempts: 1 });
  return Object.assign(client, { [Symbol.dispose]: () => client.destroy() });
}

/** A `fetch` signed like the SDK signs, for asserting raw status, headers and bytes. */
async function signedFetch(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
  query: Record<string, string> = {},
): Promise<Response> {
  const { host } = new URL(url);
  const signer = new SignatureV4({
    credentials: CREDENTIALS,
    region: REGION,
    service: "lambda",
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: "POST",
    protocol: "http:",
    hostname: "127.0.0.1",
    path,
    query,
    headers: { host, "content-type": "application/octet-stream", ...headers },
    body,
  });
  const search = new URLSearchParams(query).toString();
  return await fetch(`${url}${path}${search ? `?${search}` : ""}`, {
    method: "POST",
    headers: signed.headers,
    body,
  });
}

async function collect(events: AsyncIterable<InvokeWithResponseStreamResponseEvent> | undefined) {
  const seen: unknown[] = [];
  for await (const event of events ?? []) {
    if (event.PayloadChunk) seen.push({ PayloadChunk: text.decode(event.PayloadChunk.Payload) });
    else if (event.InvokeComplete) seen.push({ InvokeComplete: { ...event.InvokeComplete } });
  }
  return seen;
}

async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new assert.AssertionError({ message: "Expected a rejection" });
}

Deno.test("fake Invoke resolves plain names, aliases, versions, full and partial ARNs and Qualifier", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const cases: [string, string, string | undefined, string, string, string][] = [
    // name, FunctionName, Qualifier, wire path, resolved qualifier, executed version
    ["plain", "echo", undefined, "/2015-03-31/functions/echo/invocations", "$LATEST", "$LATEST"],
    ["name:alias", "echo:live", undefined, "/2015-03-31/functions/echo%3Alive/invocations", "live", "7"],
    ["name:version", "echo:3", undefined, "/2015-03-31/functions/echo%3A3/invocations", "3", "3"],
    ["?Qualifier=", "echo", "live", "/2015-03-31/functions/echo/invocations", "live", "7"],
    [
      "full ARN",
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo`,
      "live",
      `/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A${ACCOUNT}%3Afunction%3Aecho/invocations`,
      "live",
      "7",
    ],
    [
      "full ARN with alias",
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo:$LATEST`,
      undefined,
      `/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A${ACCOUNT}%3Afunction%3Aecho%3A%24LATEST/invocations`,
      "$LATEST",
      "$LATEST",
    ],
    [
      "partial ARN",
      `${ACCOUNT}:function:echo:7`,
      undefined,
      `/2015-03-31/functions/${ACCOUNT}%3Afunction%3Aecho%3A7/invocations`,
      "7",
      "7",
    ],
  ];
  for (const [name, FunctionName, Qualifier, path, qualifier, version] of cases) {
    const out = await client.send(
      new InvokeCommand({ FunctionName, ...(Qualifier ? { Qualifier } : {}), Payload: '{"n":1}' }),
    );
    assert.deepEqual(
      [out.StatusCode, out.ExecutedVersion, out.FunctionError, JSON.parse(text.decode(out.Payload))],
      [200, version, undefined, { event: { n: 1 }, fn: "echo", qualifier }],
      name,
    );
    const recorded = fake.requests.at(-1);
    assert.deepEqual(
      [
        recorded?.path,
        recorded?.functionName,
        recorded?.qualifier,
        recorded?.signatureValid,
        text.decode(recorded?.body),
      ],
      [path, FunctionName, Qualifier ?? null, true, '{"n":1}'],
      name,
    );
  }
  assert.equal(fake.requests.length, cases.length);
});

Deno.test("fake Invoke answers unknown functions and aliases with 404 ResourceNotFoundException", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const cases: [string, string | undefined, string][] = [
    ["nope", undefined, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:nope`],
    ["echo:gone", undefined, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo:gone`],
    ["echo", "9", `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo:9`],
    [
      `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:echo`,
      undefined,
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo`,
    ],
  ];
  for (const [FunctionName, Qualifier, arn] of cases) {
    const error = await rejection(
      client.send(new InvokeCommand({ FunctionName, ...(Qualifier ? { Qualifier } : {}) })),
    );
    assert.deepEqual(
      [
        error.name,
        error.Type,
        error.message,
        (error.$metadata as { httpStatusCode?: number }).httpStatusCode,
      ],
      ["ResourceNotFoundException", "User", `Function not found: ${arn}`, 404],
      FunctionName,
    );
  }
  const raw = await signedFetch(fake.url, "/2015-03-31/functions/nope/invocations", "{}");
  assert.deepEqual(
    [raw.status, raw.headers.get("x-amzn-errortype"), await raw.text()],
    [
      404,
      "ResourceNotFoundException",
      `{"Type":"User","Message":"Function not found: arn:aws:lambda:${REGION}:${ACCOUNT}:function:nope"}`,
    ],
  );
});

Deno.test("fake Invoke refuses a qualifier in the name that contradicts ?Qualifier=", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const error = await rejection(
    client.send(new InvokeCommand({ FunctionName: "echo:live", Qualifier: "3" })),
  );
  assert.deepEqual([
    error.name,
    error.message,
    (error.$metadata as { httpStatusCode?: number }).httpStatusCode,
  ], [
    "InvalidParameterValueException",
    "The derived qualifier from the function name does not match the specified qualifier.",
    400,
  ]);
});

Deno.test("fake Invoke reports function errors as 200 with X-Amz-Function-Error and a Node-style error", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  fake.enqueue("echo", { kind: "functionError", errorMessage: "boom" });
  const explicit = await client.send(new InvokeCommand({ FunctionName: "echo" }));
  assert.deepEqual(
    [explicit.StatusCode, explicit.FunctionError, explicit.ExecutedVersion, text.decode(explicit.Payload)],
    [200, "Unhandled", "$LATEST", '{"errorType":"Error","errorMessage":"boom","trace":["Error: boom"]}'],
  );
  const thrown = await client.send(new InvokeCommand({ FunctionName: "failing:beta" }));
  const payload = JSON.parse(text.decode(thrown.Payload));
  assert.deepEqual(
    [thrown.StatusCode, thrown.FunctionError, payload.errorType, payload.errorMessage, payload.trace[0]],
    [200, "Unhandled", "TypeError", "bad input", "TypeError: bad input"],
  );
});

Deno.test("fake Invoke sends raw-byte results unchanged and JSON results as JSON", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  fake.enqueue("echo", { kind: "result", value: new Uint8Array([0, 255, 10]) }, {
    kind: "result",
    value: "hi",
  });
  const raw = await client.send(new InvokeCommand({ FunctionName: "echo" }));
  assert.deepEqual(new Uint8Array(raw.Payload ?? []), new Uint8Array([0, 255, 10]));
  const json = await client.send(new InvokeCommand({ FunctionName: "echo" }));
  assert.equal(text.decode(json.Payload), '"hi"');
});

Deno.test("fake Invoke answers 429 TooManyRequestsException as Lambda does, and the SDK reads Retry-After", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const throttle: FakeOutcome = {
    kind: "serviceError",
    name: "TooManyRequestsException",
    retryAfterSeconds: 1,
  };
  fake.enqueue("echo", throttle, throttle);
  const error = await rejection(client.send(new InvokeCommand({ FunctionName: "echo" })));
  assert.deepEqual(
    [
      error.name,
      error.Reason,
      error.Type,
      error.message,
      error.retryAfterSeconds,
      (error.$metadata as { httpStatusCode?: number }).httpStatusCode,
    ],
    [
      "TooManyRequestsException",
      "ReservedFunctionConcurrentInvocationLimitExceeded",
      "User",
      "Rate Exceeded.",
      "1",
      429,
    ],
  );
  const raw = await signedFetch(fake.url, "/2015-03-31/functions/echo/invocations", "{}");
  assert.deepEqual(
    [raw.status, raw.headers.get("x-amzn-errortype"), raw.headers.get("retry-after"), await raw.text()],
    [
      429,
      "TooManyRequestsException",
      "1",
      '{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}',
    ],
  );
});

Deno.test("fake Invoke answers named service errors with their Lambda status, seen by the SDK", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const cases: [string, number, string][] = [
    ["RequestTooLargeException", 413, "message"],
    ["ServiceException", 500, "Message"],
    ["KMSAccessDeniedException", 502, "Message"],
    ["AccessDeniedException", 403, "Message"],
    ["EC2ThrottledException", 502, "Message"],
    ["ResourceConflictException", 409, "message"],
  ];
  for (const [name, status] of cases) {
    fake.enqueue("echo", { kind: "serviceError", name, message: `test ${name}` });
    const error = await rejection(client.send(new InvokeCommand({ FunctionName: "echo" })));
    assert.deepEqual(
      [error.name, error.message, (error.$metadata as { httpStatusCode?: number }).httpStatusCode],
      [name, `test ${name}`, status],
    );
  }
  for (const [name, status, key] of cases) {
    fake.enqueue("echo", { kind: "serviceError", name, message: "m" });
    const raw = await signedFetch(fake.url, "/2015-03-31/functions/echo/invocations", "{}");
    assert.deepEqual(
      [raw.status, raw.headers.get("x-amzn-errortype"), await raw.json()],
      [status, name, { Type: status >= 500 ? "Service" : "User", [key]: "m" }],
    );
  }
});

Deno.test("fake Invoke refuses a payload over 6 MB with 413 RequestTooLargeException", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const big = JSON.stringify("x".repeat(6 * 1024 * 1024 - 1)); // 6 MB + 1 byte with its quotes
  const error = await rejection(client.send(new InvokeCommand({ FunctionName: "echo", Payload: big })));
  assert.deepEqual(
    [error.name, error.message, (error.$metadata as { httpStatusCode?: number }).httpStatusCode],
    [
      "RequestTooLargeException",
      "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
      413,
    ],
  );
  const fits = await client.send(
    new InvokeCommand({ FunctionName: "echo", Payload: JSON.stringify("x".repeat(6 * 1024 * 1024 - 2)) }),
  );
  assert.equal(fits.StatusCode, 200);
});

Deno.test("fake verifies SigV4: a wrong secret, unknown key or missing signature gets 403 and never runs the handler", async () => {
  let calls = 0;
  await using fake = start({
    functions: [{ name: "echo", handler: () => (calls++, { kind: "result", value: null }) }],
  });
  using wrongSecret = clientFor(fake.url, { ...CREDENTIALS, secretAccessKey: "not-it" });
  using unknownKey = clientFor(fake.url, { ...CREDENTIALS, accessKeyId: "AKIDOTHER" });
  const bad = await rejection(wrongSecret.send(new InvokeCommand({ FunctionName: "echo:x" })));
  assert.deepEqual(
    [
      bad.name,
      (bad.$metadata as { httpStatusCode?: number }).httpStatusCode,
      String(bad.message).split("\n")[0],
    ],
    [
      "InvalidSignatureException",
      403,
      "The request signature we calculated does not match the signature you provided. " +
      "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    ],
  );
  // The message carries the canonical request, double-encoded path included, as AWS's does.
  assert.match(String(bad.message), /\n'POST\n\/2015-03-31\/functions\/echo%253Ax\/invocations\n/);
  const unknown = await rejection(unknownKey.send(new InvokeCommand({ FunctionName: "echo" })));
  assert.deepEqual([
    unknown.name,
    unknown.message,
    (unknown.$metadata as { httpStatusCode?: number }).httpStatusCode,
  ], [
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
    403,
  ]);
  const unsigned = await fetch(`${fake.url}/2015-03-31/functions/echo/invocations`, {
    method: "POST",
    body: "{}",
  });
  assert.deepEqual(
    [unsigned.status, unsigned.headers.get("x-amzn-errortype"), await unsigned.text()],
    [403, "InvalidSignatureException", '{"message":"Missing Authentication Token"}'],
  );
  assert.deepEqual(fake.requests.map((r) => r.signatureValid), [false, false, false]);
  assert.equal(calls, 0);
});

Deno.test("fake verifies the session token of temporary credentials", async () => {
  const temporary = { ...CREDENTIALS, sessionToken: "session-1" };
  await using fake = start({ credentials: temporary });
  using good = clientFor(fake.url, temporary);
  using stale = clientFor(fake.url, { ...temporary, sessionToken: "session-0" });
  assert.equal((await good.send(new InvokeCommand({ FunctionName: "echo" }))).StatusCode, 200);
  assert.equal(fake.requests[0]?.headers.get("x-amz-security-token"), "session-1");
  const error = await rejection(stale.send(new InvokeCommand({ FunctionName: "echo" })));
  assert.equal(error.name, "UnrecognizedClientException");
});

Deno.test("fake Invoke honours X-Amz-Invocation-Type Event (202) and DryRun (204)", async () => {
  const events: unknown[] = [];
  await using fake = start({
    functions: [{ name: "echo", handler: (event) => (events.push(event), { kind: "result", value: null }) }],
  });
  using client = clientFor(fake.url);
  const queued = await client.send(
    new InvokeCommand({ FunctionName: "echo", InvocationType: "Event", Payload: "[1]" }),
  );
  const dry = await client.send(
    new InvokeCommand({ FunctionName: "echo", InvocationType: "DryRun", Payload: "[2]" }),
  );
  assert.deepEqual([queued.StatusCode, dry.StatusCode], [202, 204]);
  await fake.close();
  assert.deepEqual(events, [[1]]);
});

Deno.test("fake Invoke rejects a body that is not JSON with 400 InvalidRequestContentException", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const error = await rejection(client.send(new InvokeCommand({ FunctionName: "echo", Payload: "{" })));
  assert.deepEqual([error.name, (error.$metadata as { httpStatusCode?: number }).httpStatusCode], [
    "InvalidRequestContentException",
    400,
  ]);
});

Deno.test("fake delays an answer by the asked time, and close() cuts a pending delay short", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  fake.enqueue("echo", { kind: "delay", ms: 150, then: { kind: "result", value: 1 } });
  const started = performance.now();
  const out = await client.send(new InvokeCommand({ FunctionName: "echo" }));
  assert.equal(text.decode(out.Payload), "1");
  assert.ok(performance.now() - started >= 150, "answered before the delay");

  fake.enqueue("echo", { kind: "delay", ms: 60_000, then: { kind: "result", value: 2 } });
  const pending = rejection(client.send(new InvokeCommand({ FunctionName: "echo" })));
  while (fake.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
  const closing = performance.now();
  await fake.close();
  assert.ok(performance.now() - closing < 1000, "close() waited for the delay");
  assert.equal((await pending).name, "Error");
});

Deno.test("fake reset closes the connection without a response; the SDK sees a network error", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  fake.enqueue("echo", { kind: "reset" });
  const error = await rejection(client.send(new InvokeCommand({ FunctionName: "echo" })));
  assert.deepEqual(
    [error.code, error.message, (error.$metadata as { httpStatusCode?: number }).httpStatusCode],
    ["ECONNRESET", "socket hang up", undefined],
  );
  // The fake keeps serving new connections.
  assert.equal((await client.send(new InvokeCommand({ FunctionName: "echo" }))).StatusCode, 200);
});

Deno.test("fake InvokeWithResponseStream sends PayloadChunks then InvokeComplete, even split byte by byte", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  for (const writes of ["frame", "byte", [3, 11, 12, 108, 200]] as const) {
    fake.enqueue("echo", { kind: "stream", chunks: ["hi", new Uint8Array([0x21]), ""], writes });
    const out = await client.send(new InvokeWithResponseStreamCommand({ FunctionName: "echo:live" }));
    assert.deepEqual([out.StatusCode, out.ExecutedVersion, out.ResponseStreamContentType], [
      200,
      "7",
      "application/octet-stream",
    ]);
    assert.deepEqual(
      await collect(out.EventStream),
      [{ PayloadChunk: "hi" }, { PayloadChunk: "!" }, { PayloadChunk: "" }, { InvokeComplete: {} }],
      String(writes),
    );
  }
  assert.equal(fake.requests[0]?.path, "/2021-11-15/functions/echo%3Alive/response-streaming-invocations");
});

Deno.test("fake InvokeWithResponseStream reports a mid-stream failure only in InvokeComplete", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  fake.enqueue("echo", {
    kind: "stream",
    chunks: ["partial"],
    complete: { ErrorCode: "Runtime.Error", ErrorDetails: "died" },
  });
  const out = await client.send(new InvokeWithResponseStreamCommand({ FunctionName: "echo" }));
  assert.equal(out.StatusCode, 200);
  assert.deepEqual(await collect(out.EventStream), [
    { PayloadChunk: "partial" },
    { InvokeComplete: { ErrorCode: "Runtime.Error", ErrorDetails: "died" } },
  ]);
  const thrown = await client.send(new InvokeWithResponseStreamCommand({ FunctionName: "failing" }));
  assert.deepEqual(await collect(thrown.EventStream), [
    { InvokeComplete: { ErrorCode: "TypeError", ErrorDetails: "bad input" } },
  ]);
});

Deno.test("fake InvokeWithResponseStream streams a buffered result as one chunk", async () => {
  await using fake = start();
  using client = clientFor(fake.url);
  const out = await client.send(new InvokeWithResponseStreamCommand({ FunctionName: "echo", Payload: "5" }));
  assert.deepEqual(await collect(out.EventStream), [
    { PayloadChunk: '{"event":5,"fn":"echo","qualifier":"$LATEST"}' },
    { InvokeComplete: {} },
  ]);
});

Deno.test("fake streams the function's content type and an HTTP-integration prelude split across chunks", async () => {
  const prelude = '{"statusCode":201}\0\0\0\0\0\0\0\0';
  await using fake = start({
    functions: [{
      name: "web",
      streaming: { contentType: "application/vnd.awslambda.http-integration-response", writes: "byte" },
      handler: () => ({ kind: "stream", chunks: [prelude.slice(0, 22), prelude.slice(22) + "hel", "lo"] }),
    }],
  });
  using client = clientFor(fake.url);
  const out = await client.send(new InvokeWithResponseStreamCommand({ FunctionName: "web" }));
  assert.equal(out.ResponseStreamContentType, "application/vnd.awslambda.http-integration-response");
  assert.deepEqual(await collect(out.EventStream), [
    { PayloadChunk: '{"statusCode":201}\0\0\0\0' },
    { PayloadChunk: "\0\0\0\0hel" },
    { PayloadChunk: "lo" },
    { InvokeComplete: {} },
  ]);
});

Deno.test("fake stream bytes are exactly the encoded frames, cut into the planned writes and sent incrementally", async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  await using fake = start({
    functions: [{
      name: "slow",
      handler: () => ({
        kind: "stream",
        chunks: (async function* () {
          yield "hi";
          await gate;
          yield "there";
        })(),
        writes: [5],
        delayMs: 20,
      }),
    }],
  });
  const response = await signedFetch(
    fake.url,
    "/2021-11-15/functions/slow/response-streaming-invocations",
    "{}",
  );
  assert.deepEqual(
    [response.status, response.headers.get("content-type"), response.headers.get("x-amz-executed-version")],
    [200, "application/octet-stream", "$LATEST"],
  );
  const reader = response.body!.getReader();
  const first = encodePayloadChunk("hi");
  // The first write stops inside the prelude; the rest of the frame follows in its own write.
  assert.deepEqual((await reader.read()).value, first.subarray(0, 5));
  assert.deepEqual((await reader.read()).value, first.subarray(5));
  // Nothing more comes until the function yields again: delivery is incremental.
  const next = reader.read();
  const early = await Promise.race([
    next.then(() => "data"),
    new Promise((r) => setTimeout(() => r("waiting"), 100)),
  ]);
  assert.equal(early, "waiting");
  release();
  const rest: Uint8Array[] = [(await next).value!];
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
  const expected = [...encodePayloadChunk("there"), ...encodeInvokeComplete()];
  assert.deepEqual(new Uint8Array(rest.flatMap((part) => [...part])), new Uint8Array(expected));
});

Deno.test("fake stream can end without InvokeComplete by resetting the connection", async () => {
  await using fake = start();
  fake.enqueue("echo", { kind: "stream", chunks: ["a"], complete: "omit", resetAtEnd: true });
  const response = await signedFetch(
    fake.url,
    "/2021-11-15/functions/echo/response-streaming-invocations",
    "{}",
  );
  const reader = response.body!.getReader();
  assert.deepEqual((await reader.read()).value, encodePayloadChunk("a"));
  await assert.rejects(reader.read());
});
