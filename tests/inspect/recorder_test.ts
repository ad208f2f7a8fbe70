import assert from "node:assert/strict";
import { type Exchange, type InspectOptions, InspectRecorder } from "../../lib/inspect/recorder.ts";
import {
  capture,
  hexDump,
  REDACTED,
  redactedCapture,
  redactJson,
  redactPairs,
  restoreSecrets,
  secretNames,
  viewBody,
  viewJson,
} from "../../lib/inspect/view.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const OPTIONS: InspectOptions = { capacity: 3, bodyLimit: 16, redact: [], showSecrets: false };

/** Records one buffered exchange for `path` with `body` through `recorder`. */
async function recordOne(recorder: InspectRecorder, path: string, body?: Uint8Array): Promise<Exchange> {
  const request = new Request(`http://fn.test${path}`, { method: "POST", headers: { cookie: "s=1" } });
  const { exchange } = await recorder.record({
    request,
    entry: { requestId: "r", host: "fn.test", target: "scripted", durationMs: 3 },
    time: 1_700_000_000_000,
    sourceIp: "127.0.0.1",
    route: "fn.test",
    body,
    payload: te.encode('{"rawPath":"' + path + '"}'),
  }, new Response("ok"));
  return exchange;
}

Deno.test("capture() keeps a copy of at most the limit and marks the rest truncated", () => {
  const whole = new Uint8Array(1000).fill(7);
  const c = capture(whole, 10);
  assert.deepEqual(c, { bytes: new Uint8Array(10).fill(7), size: 1000, truncated: true });
  // A copy, not a view: the 1000-byte buffer can be freed.
  assert.equal(c.bytes.buffer.byteLength, 10);
  assert.deepEqual(capture(te.encode("abc"), 10), { bytes: te.encode("abc"), size: 3, truncated: false });
});

Deno.test("viewBody() shows text as text, binary as size + hex, and nothing as empty", () => {
  assert.deepEqual(viewBody(undefined), { size: 0, kept: 0, truncated: false, kind: "empty" });
  assert.deepEqual(viewBody(capture(te.encode("héllo\n"), 64)), {
    size: 7,
    kept: 7,
    truncated: false,
    kind: "text",
    text: "héllo\n",
  });
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]);
  assert.deepEqual(viewBody(capture(png, 64)), {
    size: 10,
    kept: 10,
    truncated: false,
    kind: "binary",
    hex: "00000000  89 50 4e 47 0d 0a 1a 0a 00 00                    |.PNG......|",
  });
});

Deno.test("viewBody() keeps text whose cut at the limit splits a character", () => {
  // "é" is two bytes: a 2-byte limit on "aé" keeps "a" and half of "é".
  assert.deepEqual(viewBody(capture(te.encode("aé"), 2)), {
    size: 3,
    kept: 2,
    truncated: true,
    kind: "text",
    text: "a",
  });
});

Deno.test("hexDump() prints 16 bytes a line with offsets and printable ASCII, up to the preview size", () => {
  const bytes = te.encode("0123456789abcdefXYZ");
  assert.equal(
    hexDump(bytes),
    "00000000  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
      "00000010  58 59 5a                                         |XYZ|",
  );
  assert.equal(hexDump(new Uint8Array(100), 32).split("\n").length, 2);
});

Deno.test("redactPairs() hides secret headers, keeping cookie names and the Authorization scheme", () => {
  const secret = secretNames(["X-Api-Key"]);
  assert.deepEqual(
    redactPairs([
      ["Authorization", "Bearer abc.def"],
      ["cookie", "a=1; b=2"],
      ["set-cookie", "sid=xyz; Path=/; HttpOnly"],
      ["x-amz-security-token", "tok"],
      ["x-api-key", "k"],
      ["accept", "*/*"],
    ], secret),
    [
      ["Authorization", `Bearer ${REDACTED}`],
      ["cookie", `a=${REDACTED}; b=${REDACTED}`],
      ["set-cookie", `sid=${REDACTED}`],
      ["x-amz-security-token", REDACTED],
      ["x-api-key", REDACTED],
      ["accept", "*/*"],
    ],
  );
});

Deno.test("redactJson() hides secrets inside events: headers, multiValueHeaders and cookies at any depth", () => {
  const event = {
    version: "2.0",
    cookies: ["session=s3cret", "theme=dark"],
    headers: { authorization: "Basic dXNlcjpwYXNz", "x-api-key": "k", host: "fn.test" },
    multiValueHeaders: { Cookie: ["a=1; b=2"], Accept: ["*/*"] },
    requestContext: { headers: { "X-Amz-Security-Token": "t" } },
    body: "authorization: stays, it is the body",
  };
  assert.deepEqual(redactJson(event, secretNames(["x-api-key"])), {
    redacted: true,
    value: {
      version: "2.0",
      cookies: [`session=${REDACTED}`, `theme=${REDACTED}`],
      headers: { authorization: `Basic ${REDACTED}`, "x-api-key": REDACTED, host: "fn.test" },
      multiValueHeaders: { Cookie: [`a=${REDACTED}; b=${REDACTED}`], Accept: ["*/*"] },
      requestContext: { headers: { "X-Amz-Security-Token": REDACTED } },
      body: "authorization: stays, it is the body",
    },
  });
  assert.deepEqual(redactJson({ headers: { accept: "*/*" } }, secretNames([])), {
    redacted: false,
    value: { headers: { accept: "*/*" } },
  });
});

Deno.test("viewJson() shows whole JSON pretty and redacted, and never the unredacted text beside it", () => {
  const bytes = te.encode('{"headers":{"cookie":"a=1"}}');
  const view = viewJson(capture(bytes, 1024), secretNames([]));
  assert.deepEqual(view, {
    size: bytes.length,
    kept: bytes.length,
    truncated: false,
    kind: "text",
    json: `{\n  "headers": {\n    "cookie": "a=${REDACTED}"\n  }\n}`,
    redacted: true,
  });
  assert.equal(
    viewJson(capture(bytes, 1024), undefined).json,
    '{\n  "headers": {\n    "cookie": "a=1"\n  }\n}',
  );
});

Deno.test("redactedCapture() hides secrets before cutting a long event, so the cut text cannot leak them", () => {
  const event = { headers: { authorization: "Bearer SECRET-TOKEN" }, body: "x".repeat(200) };
  const bytes = te.encode(JSON.stringify(event));
  const c = redactedCapture(bytes, 64, secretNames([]));
  assert.equal(c.size, bytes.length);
  assert.equal(c.truncated, true);
  const hidden = { headers: { authorization: `Bearer ${REDACTED}` }, body: "x".repeat(200) };
  assert.deepEqual(c.bytes, te.encode(JSON.stringify(hidden)).slice(0, 64));
  assert.equal(td.decode(c.bytes).includes("SECRET"), false);
  // A kept part naming no secret header is cut as it is, without parsing the whole.
  const plain = te.encode(JSON.stringify({ headers: { accept: "*/*" }, body: "x".repeat(200) }) + "{broken");
  assert.deepEqual(redactedCapture(plain, 64, secretNames([])).bytes, plain.slice(0, 64));
  // With secrets shown, the bytes are cut as they are.
  assert.equal(td.decode(redactedCapture(bytes, 64, undefined).bytes), td.decode(bytes.slice(0, 64)));
});

Deno.test("restoreSecrets() puts back what the page showed redacted in an edited event", () => {
  const original = {
    cookies: ["session=s3cret", "theme=dark"],
    headers: { Authorization: "Bearer t0k" },
    multiValueHeaders: { cookie: ["a=1"] },
  };
  const edited = {
    rawPath: "/edited",
    cookies: [`session=${REDACTED}`, "theme=light", `gone=${REDACTED}`],
    headers: { authorization: `Bearer ${REDACTED}`, "x-new": "1" },
    multiValueHeaders: { cookie: [`a=${REDACTED}`] },
  };
  assert.deepEqual(restoreSecrets(edited, original), {
    rawPath: "/edited",
    cookies: ["session=s3cret", "theme=light", `gone=${REDACTED}`],
    headers: { authorization: "Bearer t0k", "x-new": "1" },
    multiValueHeaders: { cookie: ["a=1"] },
  });
});

Deno.test("the ring keeps the newest exchanges: the oldest go first, ids keep increasing", async () => {
  const recorder = new InspectRecorder(OPTIONS);
  for (const p of ["/1", "/2", "/3", "/4", "/5"]) await recordOne(recorder, p);
  assert.deepEqual(recorder.list().map((e) => [e.id, e.target]), [[5, "/5"], [4, "/4"], [3, "/3"]]);
  assert.equal(recorder.get(2), undefined);
  assert.equal(recorder.get(4)?.target, "/4");
  assert.equal(recorder.get(6), undefined);
  recorder.configure({ ...OPTIONS, capacity: 1 });
  assert.deepEqual(recorder.list().map((e) => e.id), [5]);
});

Deno.test("recorded bodies stay within the ring's budget however large the requests", async () => {
  const recorder = new InspectRecorder({ ...OPTIONS, capacity: 10, bodyLimit: 1024 });
  const megabyte = new Uint8Array(1024 * 1024).fill(65);
  for (let i = 0; i < 40; i++) await recordOne(recorder, `/${i}`, megabyte);
  const stats = recorder.stats();
  assert.equal(stats.exchanges, 10);
  assert.equal(stats.budgetBytes, 10 * 4 * 1024);
  // Per exchange: the 1 KB body preview, the small event and the 2-byte response body.
  const event = te.encode('{"rawPath":"/39"}').length;
  assert.equal(stats.bodyBytes, 10 * (1024 + 2) + 10 * event);
  assert.equal(recorder.get(40)!.requestBody!.truncated, true);
  assert.equal(recorder.get(40)!.requestBody!.size, 1024 * 1024);
});

Deno.test("record() gives back a buffered response with the same status, headers and bytes", async () => {
  const recorder = new InspectRecorder(OPTIONS);
  const request = new Request("http://fn.test/x?y=1");
  const sent = new Response("hello world, long enough to cut", {
    status: 201,
    headers: { "set-cookie": "a=1", "x-one": "1" },
  });
  const { response, exchange } = await recorder.record({
    request,
    entry: { requestId: "r", host: "fn.test", durationMs: 1, error: "bad_result", errorMessage: "nope" },
    time: 5,
    sourceIp: "10.0.0.1",
    route: "fn.test",
    result: { body: te.encode('{"statusCode":201}'), queueWaitMs: 0.5 },
    rawResult: te.encode('{"statusCode":201}'),
    upstreamMs: 2,
  }, sent);
  assert.equal(response.status, 201);
  assert.deepEqual([...response.headers], [["content-type", "text/plain;charset=UTF-8"], [
    "set-cookie",
    "a=1",
  ], ["x-one", "1"]]);
  assert.equal(await response.text(), "hello world, long enough to cut");
  assert.equal(exchange.target, "/x?y=1");
  assert.deepEqual(exchange.response.body, {
    bytes: te.encode("hello world, lon"),
    size: 31,
    truncated: true,
  });
  assert.deepEqual(exchange.error, { code: "bad_result", message: "nope" });
  assert.deepEqual(exchange.timings, { totalMs: 1, queueWaitMs: 0.5, upstreamMs: 2 });
});

Deno.test("record() passes a streamed body through and keeps its first bytes as they go by", async () => {
  const recorder = new InspectRecorder(OPTIONS);
  const chunks = ["first chunk ", "second chunk ", "third"];
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(te.encode(chunk));
      c.close();
    },
  });
  const { response, exchange } = await recorder.record({
    request: new Request("http://fn.test/"),
    entry: { requestId: "r", host: "fn.test", durationMs: 1 },
    time: 5,
    sourceIp: "",
    route: "fn.test",
    result: { body: stream },
  }, new Response(stream, { status: 200 }));
  assert.equal(exchange.response.streaming, true);
  assert.equal(await response.text(), chunks.join(""));
  assert.equal(exchange.response.streaming, false);
  assert.deepEqual(exchange.response.body, {
    bytes: te.encode("first chunk seco"),
    size: 30,
    truncated: true,
  });
});

Deno.test("subscribers hear of each new exchange, and of the end when the recorder closes", async () => {
  const recorder = new InspectRecorder(OPTIONS);
  const heard: (number | undefined)[] = [];
  const stop = recorder.subscribe((e) => heard.push(e?.id));
  await recordOne(recorder, "/a");
  await recordOne(recorder, "/b");
  recorder.close();
  await recordOne(recorder, "/c");
  stop();
  assert.deepEqual(heard, [1, 2, undefined]);
});
