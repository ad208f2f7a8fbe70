import assert from "node:assert/strict";
import { buildInvoker } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LambdaClients } from "../../lib/invoke/aws.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/handle/handler.ts";
import { HTTP_INTEGRATION_CONTENT_TYPE } from "../../lib/wire/prelude.ts";
import { type FakeChunk, type FakeOutcome, startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { waitFor } from "../helpers/process.ts";

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "AKIDSTREAMTEST", secretAccessKey: "stream-secret" };
const te = new TextEncoder();
const td = new TextDecoder();

/** lrp with one `*` aws rule in RESPONSE_STREAM mode over a real socket, and the fake Invoke API. */
function setup(yaml = "") {
  const fake = startFakeLambdaApi({
    functions: [{ name: "fn", handler: () => ({ kind: "result", value: "unused" }) }],
    credentials: CREDENTIALS,
    region: REGION,
  });
  const config = parseConfig(
    `upstream_timeout: 10s\naws:\n  - hostname: "*"\n    function_name: fn\n    invoke_mode: RESPONSE_STREAM\n${yaml}`,
    { source: "test.yaml", env: { AWS_REGION: REGION } },
  );
  const clients = new LambdaClients({
    region: REGION,
    endpointUrl: fake.url,
    profile: "",
    credentials: CREDENTIALS,
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
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const stream = (outcome: Omit<Extract<FakeOutcome, { kind: "stream" }>, "kind">) =>
    fake.enqueue("fn", { kind: "stream", ...outcome });
  return {
    fake,
    url,
    port: server.addr.port,
    lines,
    stream,
    logged: (msg: string) => lines.filter((l) => l.msg === msg),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await clients.close();
      await fake.close();
    },
  };
}

const PRELUDE =
  '{"statusCode":201,"headers":{"content-type":"text/plain","x-a":"1"},"cookies":["a=1","b=2"]}';
const FRAMED = te.encode(PRELUDE + "\0".repeat(8) + "hello world");

async function summary(res: Response): Promise<string> {
  const cookies = res.headers.getSetCookie().join("|");
  return `${res.status} ${res.headers.get("content-type")} ${res.headers.get("x-a")} ${cookies} ${await res
    .text()}`;
}

function deferred() {
  return Promise.withResolvers<void>();
}

Deno.test("RESPONSE_STREAM decodes the prelude when it, the 8-NUL delimiter or the body is split at any byte", async () => {
  await using t = setup();
  const expected = "201 text/plain 1 a=1|b=2 hello world";
  const at = (i: number): FakeChunk[] => [FRAMED.slice(0, i), FRAMED.slice(i)];
  // Every split position: inside the prelude, at each of the 8 NULs, inside the body.
  for (let i = 1; i < FRAMED.length; i++) {
    t.stream({ chunks: at(i), contentType: HTTP_INTEGRATION_CONTENT_TYPE });
    assert.equal(await summary(await fetch(t.url)), expected, `split at ${i}`);
  }
  // One PayloadChunk per byte, and every frame cut into one socket write per byte.
  t.stream({
    chunks: Array.from(FRAMED, (_, i) => FRAMED.slice(i, i + 1)),
    contentType: HTTP_INTEGRATION_CONTENT_TYPE,
  });
  assert.equal(await summary(await fetch(t.url)), expected);
  t.stream({ chunks: [FRAMED], contentType: HTTP_INTEGRATION_CONTENT_TYPE, writes: "byte" });
  assert.equal(await summary(await fetch(t.url)), expected);
  assert.equal(t.fake.requests.every((r) => r.operation === "InvokeWithResponseStream"), true);
});

Deno.test("RESPONSE_STREAM without a prelude streams the bytes as the body with the function's content type and 200", async () => {
  await using t = setup();
  t.stream({ chunks: ["a,b\n", "", "1,2\n"], contentType: "text/csv" });
  const res = await fetch(t.url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/csv");
  assert.equal(await res.text(), "a,b\n1,2\n");
  // A prelude-looking body without the HTTP-integration content type is not decoded.
  t.stream({ chunks: [FRAMED] });
  const raw = await fetch(t.url);
  assert.equal(raw.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), FRAMED);
});

Deno.test("RESPONSE_STREAM: prelude with no body, empty stream, null-body status", async () => {
  await using t = setup();
  t.stream({
    chunks: ['{"statusCode":204,"headers":{"x-a":"1"}}', "\0".repeat(8)],
    contentType: HTTP_INTEGRATION_CONTENT_TYPE,
  });
  const noContent = await fetch(t.url);
  assert.deepEqual([noContent.status, noContent.headers.get("x-a"), await noContent.text()], [204, "1", ""]);
  t.stream({ chunks: [], contentType: HTTP_INTEGRATION_CONTENT_TYPE });
  const empty = await fetch(t.url);
  assert.deepEqual([empty.status, await empty.text()], [200, ""]);
  t.stream({ chunks: ['{"statusCode":202}'], contentType: HTTP_INTEGRATION_CONTENT_TYPE });
  const preludeOnly = await fetch(t.url);
  assert.deepEqual([preludeOnly.status, await preludeOnly.text()], [202, ""]);
});

Deno.test("RESPONSE_STREAM answers 502 bad_result for a prelude that is not a JSON object or has a bad status", async () => {
  await using t = setup();
  for (const prelude of ["[1]", "{oops", '{"statusCode":99}']) {
    t.stream({ chunks: [prelude + "\0".repeat(8) + "body"], contentType: HTTP_INTEGRATION_CONTENT_TYPE });
    const res = await fetch(t.url);
    assert.equal(res.status, 502, prelude);
    assert.equal((await res.json()).error, "bad_result");
  }
});

Deno.test("RESPONSE_STREAM answers 502 function_error when InvokeComplete reports an error before any body byte", async () => {
  await using t = setup();
  t.stream({
    chunks: ['{"statusCode":200}', "\0".repeat(8)],
    contentType: HTTP_INTEGRATION_CONTENT_TYPE,
    complete: { ErrorCode: "Runtime.Boom", ErrorDetails: "kaput" },
  });
  const res = await fetch(t.url);
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), {
    error: "function_error",
    message:
      "Cannot use the answer: the function failed with Runtime.Boom (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
    requestId: "req-1",
  });
});

Deno.test("RESPONSE_STREAM answers 502 when the stream resets or ends with an exception before any body byte", async () => {
  await using t = setup();
  t.stream({ chunks: [], complete: "omit", resetAtEnd: true });
  const reset = await fetch(t.url);
  assert.equal(reset.status, 502);
  assert.equal((await reset.json()).error, "upstream_unreachable");
  t.stream({ chunks: [], complete: { exception: "ServiceException", message: "inner" } });
  const exception = await fetch(t.url);
  assert.equal(exception.status, 502);
  assert.deepEqual(await exception.json(), {
    error: "upstream_error",
    message: 'Cannot invoke "fn": the Lambda API answered ServiceException',
    requestId: "req-1",
  });
});

/** Reads a whole response with a raw socket; returns the bytes after the head. */
async function rawBody(port: number): Promise<{ head: string; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(te.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
  } catch {
    /* a reset is a valid way to abort */
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const text = td.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  const end = text.indexOf("\r\n\r\n");
  return { head: text.slice(0, end), body: text.slice(end + 4) };
}

Deno.test("a mid-stream InvokeComplete ErrorCode, exception frame or reset aborts the client's response and is logged", async () => {
  await using t = setup();
  const failures: Omit<Extract<FakeOutcome, { kind: "stream" }>, "kind">[] = [
    { chunks: ["part one;", "part two;"], complete: { ErrorCode: "Runtime.Boom", ErrorDetails: "kaput" } },
    { chunks: ["part one;", "part two;"], complete: { exception: "ServiceException" } },
    { chunks: ["part one;", "part two;"], complete: "omit", resetAtEnd: true },
    { chunks: ["part one;", "part two;"], complete: "omit" },
  ];
  for (const failure of failures) {
    // fetch rejects on the incomplete body.
    t.stream({ ...failure, contentType: "text/plain" });
    const res = await fetch(t.url);
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    // On the wire: chunked body without its terminating 0-size chunk.
    t.stream({ ...failure, contentType: "text/plain" });
    const raw = await rawBody(t.port);
    assert.match(raw.head, /^HTTP\/1\.1 200 /);
    assert.match(raw.head, /transfer-encoding: chunked/i);
    assert.equal(raw.body.includes("part one;"), true);
    assert.equal(raw.body.endsWith("0\r\n\r\n"), false, JSON.stringify(raw.body));
  }
  const aborted = await waitFor("8 abort logs", () => {
    const l = t.logged("response stream aborted");
    return l.length === 8 ? l : undefined;
  });
  assert.deepEqual(
    aborted.map((l) => l.error),
    ["function_error", "function_error", "upstream_error", "upstream_error"].concat(
      "upstream_unreachable",
      "upstream_unreachable",
      "upstream_unreachable",
      "upstream_unreachable",
    ),
  );
  assert.equal(
    aborted[0]!.errorMessage,
    "Cannot use the answer: the function failed with Runtime.Boom (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
  );
  assert.equal(aborted[0]!.bytes, 18);
});

Deno.test("a streaming function's first chunk reaches the client before its last chunk is produced", async () => {
  await using t = setup();
  const events: string[] = [];
  const clientGotFirst = deferred();
  async function* chunks(): AsyncGenerator<FakeChunk> {
    events.push("function wrote first");
    yield "first;";
    // If lrp buffered, the client would never see "first" and this would wait for the fallback.
    const fallback = setTimeout(() => clientGotFirst.resolve(), 15_000);
    await clientGotFirst.promise;
    clearTimeout(fallback);
    events.push("function wrote last");
    yield "last;";
  }
  t.stream({ chunks: chunks(), contentType: "text/plain", delayMs: 20 });
  const res = await fetch(t.url);
  const reader = res.body!.getReader();
  const first = await reader.read();
  events.push(`client read ${td.decode(first.value)}`);
  clientGotFirst.resolve();
  let rest = "";
  for (let r; !(r = await reader.read()).done;) rest += td.decode(r.value);
  events.push(`client read ${rest}`);
  assert.deepEqual(events, [
    "function wrote first",
    "client read first;",
    "function wrote last",
    "client read last;",
  ]);
});

Deno.test("a slow reader slows the read from Lambda: production stalls until the client reads, then every byte arrives", async () => {
  await using t = setup();
  const CHUNK = 64 * 1024;
  const TOTAL_CHUNKS = 512; // 32 MB: far more than every socket buffer on the way
  let produced = 0;
  async function* chunks(): AsyncGenerator<FakeChunk> {
    const chunk = new Uint8Array(CHUNK).fill(0x61);
    for (let i = 0; i < TOTAL_CHUNKS; i++) {
      produced++;
      yield chunk;
    }
  }
  t.stream({ chunks: chunks(), contentType: "application/octet-stream" });
  const res = await fetch(t.url);
  const reader = res.body!.getReader();
  let received = (await reader.read()).value!.length;
  // The client reads nothing now; wait until production has stopped moving.
  let last = -1;
  await waitFor("production to stall", () => {
    if (produced === last) return true;
    last = produced;
    return undefined;
  }, 60_000).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  const stalledAt = produced;
  assert.ok(stalledAt < TOTAL_CHUNKS, `production did not stall: ${stalledAt} of ${TOTAL_CHUNKS} chunks`);
  for (let r; !(r = await reader.read()).done;) received += r.value.length;
  assert.equal(received, CHUNK * TOTAL_CHUNKS);
  assert.equal(produced, TOTAL_CHUNKS);
});

Deno.test("a client that disconnects mid-stream cancels the InvokeWithResponseStream call", async () => {
  await using t = setup();
  let stopped = false;
  let written = 0;
  async function* chunks(): AsyncGenerator<FakeChunk> {
    try {
      for (let i = 0; i < 10_000; i++) {
        written++;
        yield `chunk ${i};`;
      }
    } finally {
      stopped = true;
    }
  }
  t.stream({ chunks: chunks(), contentType: "text/plain", delayMs: 10 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  await conn.write(te.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  assert.match(td.decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 [\s\S]*chunk 0;/);
  conn.close();
  await waitFor("the fake's stream to stop", () => stopped || undefined);
  assert.ok(written < 10_000, `the function wrote all ${written} chunks`);
  const cancelled = await waitFor("the cancel log", () => t.logged("response stream cancelled by client")[0]);
  assert.equal(cancelled.requestId, "req-1");
});

Deno.test("RESPONSE_STREAM keeps the buffered answers of service errors (404 function_not_found)", async () => {
  await using t = setup();
  t.fake.enqueue("fn", {
    kind: "serviceError",
    name: "ResourceNotFoundException",
    message: "Function not found",
  });
  const res = await fetch(t.url);
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error, "function_not_found");
  assert.equal(t.fake.requests[0]?.path, "/2021-11-15/functions/fn/response-streaming-invocations");
});
