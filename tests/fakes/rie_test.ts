import assert from "node:assert/strict";
import {
  fakeRie,
  type LambdaHandler,
  preludeBody,
  RawPayload,
  type RieServer,
  RuntimeExit,
  sniffContentType,
  startRie,
} from "./rie.ts";
import { RIE_INVOKE_PATH, RIE_MAX_PAYLOAD_BYTES } from "../../lib/invoke/rie.ts";
import { startRieProcess } from "../helpers/process.ts";

const echo: LambdaHandler = (event) => event;

interface Answer {
  status: number;
  headers: [string, string][];
  text: string;
}

async function call(rie: RieServer, init: RequestInit = {}, path = RIE_INVOKE_PATH): Promise<Answer> {
  const res = await fetch(rie.url + path, { method: "POST", ...init });
  return { status: res.status, headers: [...res.headers], text: await res.text() };
}

/** Headers without the `date` value, which changes every second. */
function stable(headers: [string, string][]): [string, string][] {
  return headers.map(([name, value]) => [name, name === "date" ? "<date>" : value]);
}

Deno.test("startRie() answers a success with 200, JSON.stringify(result) and only Content-Length, Content-Type, Date", async () => {
  await using rie = startRie({ handler: (event) => ({ statusCode: 201, body: JSON.stringify(event) }) });
  const answer = await call(rie, { body: '{"a":1}', headers: { "content-type": "application/json" } });
  assert.deepEqual(answer, {
    status: 200,
    headers: [["content-length", "37"], ["content-type", "text/plain; charset=utf-8"], [
      "date",
      answer.headers[2]?.[1],
    ]],
    text: '{"statusCode":201,"body":"{\\"a\\":1}"}',
  });
  assert.match(answer.headers[2]?.[1] ?? "", /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
});

Deno.test("startRie() sends null when the handler returns undefined", async () => {
  await using rie = startRie({ handler: () => undefined });
  assert.equal((await call(rie, { body: "{}" })).text, "null");
});

Deno.test("startRie() writes only Content-Type, Date and Content-Length on the wire and honours Connection: close", async () => {
  await using rie = startRie({ handler: () => "hi" });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: rie.port });
  const request =
    `POST ${RIE_INVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;
  await conn.write(new TextEncoder().encode(request));
  // Read to the end: the emulator closes the connection after its answer.
  const wire = await new Response(conn.readable).text();
  // Header names as lrp's server writes them; Go capitalises them (RFC 9110: case does not matter).
  assert.equal(
    wire.replace(/date: [^\r]+/, "date: <date>"),
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ndate: <date>\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"hi"',
  );
});

Deno.test("startRie() answers an unparsable request 400 '400 Bad Request' and closes, as Go's server does", async () => {
  await using rie = startRie({ handler: () => "hi" });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: rie.port });
  await conn.write(new TextEncoder().encode("NOT HTTP\r\n\r\n"));
  const wire = await new Response(conn.readable).text();
  assert.match(wire, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.ok(wire.endsWith("\r\nconnection: close\r\n\r\n400 Bad Request"), wire);
  assert.equal(rie.stats.invocations, 0);
});

Deno.test("fakeRie() answers each invocation with answer(event) as JSON, side by side, and counts them", async () => {
  const release = Promise.withResolvers<void>();
  await using rie = fakeRie(async (event) => {
    await release.promise;
    return { statusCode: 200, body: `saw ${event.rawPath}` };
  });
  const answers = ["/a", "/b"].map((rawPath) => call(rie, { body: JSON.stringify({ rawPath }) }));
  while (rie.invocations < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  release.resolve();
  assert.deepEqual((await Promise.all(answers)).map((a) => [a.status, a.text]), [
    [200, '{"statusCode":200,"body":"saw /a"}'],
    [200, '{"statusCode":200,"body":"saw /b"}'],
  ]);
  assert.deepEqual([rie.invocations, rie.stats.maxConcurrent, rie.stats.crashed], [2, 2, false]);
});

Deno.test("startRie() invokes for any HTTP method and ignores the query string", async () => {
  const targets: string[] = [];
  await using rie = startRie({
    handler: echo,
    onInvoke: (info) => targets.push(`${info.method} ${info.target}`),
  });
  for (const method of ["PUT", "PATCH", "DELETE"]) {
    const answer = await call(rie, { method, body: `{"m":"${method}"}` }, `${RIE_INVOKE_PATH}?Qualifier=7`);
    assert.deepEqual([answer.status, answer.text], [200, `{"m":"${method}"}`]);
  }
  assert.deepEqual(targets, ["PUT", "PATCH", "DELETE"].map((m) => `${m} ${RIE_INVOKE_PATH}?Qualifier=7`));
});

Deno.test("startRie() answers a GET without body with the runtime's SyntaxError, as the Node runtime parses the event", async () => {
  let called = false;
  await using rie = startRie({ handler: () => called = true });
  const answer = await call(rie, { method: "GET" });
  assert.equal(answer.status, 200);
  const error = JSON.parse(answer.text);
  assert.deepEqual([error.errorType, error.errorMessage], ["SyntaxError", "Unexpected end of JSON input"]);
  assert.deepEqual([called, rie.stats.invocations], [false, 1]);
});

Deno.test("startRie() answers Go's 404 page not found for every other path, without invoking", async () => {
  await using rie = startRie({ handler: echo });
  for (
    const path of [
      "/",
      "/2015-03-31/functions/my-fn/invocations",
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations",
      `${RIE_INVOKE_PATH}/`,
    ]
  ) {
    const answer = await call(rie, { body: "{}" }, path);
    assert.deepEqual({ ...answer, headers: stable(answer.headers) }, {
      status: 404,
      headers: [
        ["content-length", "19"],
        ["content-type", "text/plain; charset=utf-8"],
        ["date", "<date>"],
        ["x-content-type-options", "nosniff"],
      ],
      text: "404 page not found\n",
    }, path);
  }
  assert.equal(rie.stats.invocations, 0);
});

Deno.test("startRie() answers a thrown Error with 200 and the Node {errorType, errorMessage, trace} JSON", async () => {
  await using rie = startRie({
    handler: () => {
      throw new TypeError("boom");
    },
  });
  const answer = await call(rie, { body: "{}" });
  assert.equal(answer.status, 200);
  const error = JSON.parse(answer.text);
  assert.deepEqual(Object.keys(error), ["errorType", "errorMessage", "trace"]);
  assert.deepEqual([error.errorType, error.errorMessage, error.trace[0]], [
    "TypeError",
    "boom",
    "TypeError: boom",
  ]);
});

Deno.test("startRie() answers a thrown non-Error with its typeof as errorType and an empty trace", async () => {
  await using rie = startRie({
    handler: () => {
      throw "plain";
    },
  });
  const answer = await call(rie, { body: "{}" });
  assert.deepEqual([answer.status, answer.text], [
    200,
    '{"errorType":"string","errorMessage":"plain","trace":[]}',
  ]);
});

Deno.test("startRie() answers RuntimeExit with 502 Runtime.ExitError naming the request id", async () => {
  let requestId = "";
  await using rie = startRie({
    handler: (_event, context) => {
      requestId = context.awsRequestId;
      throw new RuntimeExit(1);
    },
  });
  const answer = await call(rie, { body: "{}" });
  assert.match(requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual([answer.status, answer.headers[1], answer.text], [
    502,
    ["content-type", "text/plain; charset=utf-8"],
    `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ${requestId} Error: Runtime exited with error: exit status 1"}`,
  ]);
});

Deno.test("startRie() answers a timeout with 200 text 'Task timed out after N.NN seconds', then serves the next call", async () => {
  const release = Promise.withResolvers<void>();
  let calls = 0;
  await using rie = startRie({
    timeoutMs: 250,
    handler: async () => {
      if (++calls === 1) await release.promise;
      return calls;
    },
  });
  try {
    const answer = await call(rie, { body: "{}" });
    assert.deepEqual([answer.status, answer.headers[1], answer.text], [
      200,
      ["content-type", "text/plain; charset=utf-8"],
      "Task timed out after 0.25 seconds",
    ]);
    assert.deepEqual([(await call(rie, { body: "{}" })).text, rie.stats.crashed], ["2", false]);
  } finally {
    release.resolve();
  }
});

Deno.test("startRie() counts the init delay against the timeout", async () => {
  let called = false;
  await using rie = startRie({ timeoutMs: 100, initDelayMs: 10_000, handler: () => called = true });
  assert.equal((await call(rie, { body: "{}" })).text, "Task timed out after 0.10 seconds");
  assert.equal(called, false);
});

Deno.test("startRie() gives the handler the remaining time before the timeout", async () => {
  await using rie = startRie({
    timeoutMs: 10_000,
    handler: (_e, context) => context.getRemainingTimeInMillis(),
  });
  const remaining = Number((await call(rie, { body: "{}" })).text);
  assert.ok(remaining > 9_000 && remaining <= 10_000, String(remaining));
});

Deno.test("startRie() passes an event of exactly 6 MiB + 100 B whole", async () => {
  const sizes: number[] = [];
  await using rie = startRie({
    onInvoke: (info) => sizes.push(info.body.length),
    handler: (event) => (event as string).length,
  });
  const body = JSON.stringify("x".repeat(RIE_MAX_PAYLOAD_BYTES - 2));
  assert.equal((await call(rie, { body })).text, String(RIE_MAX_PAYLOAD_BYTES - 2));
  assert.deepEqual(sizes, [RIE_MAX_PAYLOAD_BYTES]);
});

Deno.test("startRie() silently truncates a larger event, so the runtime fails to parse it", async () => {
  const sizes: number[] = [];
  let called = false;
  await using rie = startRie({
    onInvoke: (info) => sizes.push(info.body.length),
    handler: () => called = true,
  });
  const answer = await call(rie, { body: JSON.stringify("x".repeat(RIE_MAX_PAYLOAD_BYTES)) });
  assert.equal(answer.status, 200);
  assert.equal(JSON.parse(answer.text).errorType, "SyntaxError");
  assert.deepEqual([sizes, called], [[RIE_MAX_PAYLOAD_BYTES], false]);
});

Deno.test("startRie() reads a chunked request body", async () => {
  await using rie = startRie({ handler: echo });
  const body = new Blob(['{"chunked":', "true}"]).stream();
  const res = await fetch(rie.invokeUrl, { method: "POST", body });
  assert.deepEqual([res.status, await res.text()], [200, '{"chunked":true}']);
});

Deno.test("startRie() returns a result of exactly 6 MiB + 100 B", async () => {
  await using rie = startRie({ handler: () => "x".repeat(RIE_MAX_PAYLOAD_BYTES - 2) });
  const answer = await call(rie, { body: "{}" });
  assert.deepEqual([answer.status, answer.text.length], [200, RIE_MAX_PAYLOAD_BYTES]);
});

Deno.test("startRie() answers a larger result with 200 and the Function.ResponseSizeTooLarge JSON", async () => {
  await using rie = startRie({ handler: () => "x".repeat(RIE_MAX_PAYLOAD_BYTES - 1) });
  const answer = await call(rie, { body: "{}" });
  assert.deepEqual([answer.status, answer.text], [
    200,
    '{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size (6291557 bytes) ' +
    'exceeded maximum allowed payload size (6291556 bytes)."}',
  ]);
});

Deno.test("startRie() answers 500 with an empty body and no Content-Type for bad base64 in X-Amz-Client-Context", async () => {
  await using rie = startRie({ handler: () => "ran" });
  const bad = await call(rie, { body: "{}", headers: { "x-amz-client-context": "not base64!" } });
  assert.deepEqual({ ...bad, headers: stable(bad.headers) }, {
    status: 500,
    headers: [["content-length", "0"], ["date", "<date>"]],
    text: "",
  });
  assert.equal(rie.stats.invocations, 0);
  const good = await call(rie, { body: "{}", headers: { "x-amz-client-context": btoa('{"custom":{}}') } });
  assert.deepEqual([good.status, good.text], [200, '"ran"']);
});

Deno.test("startRie() sends a RawPayload verbatim, sniffed as application/octet-stream when it has NULs", async () => {
  const bytes = preludeBody({ statusCode: 201 }, "hello");
  await using rie = startRie({ handler: () => new RawPayload(bytes) });
  const res = await fetch(rie.invokeUrl, { method: "POST", body: "{}" });
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
});

Deno.test("preludeBody() frames the prelude JSON, eight NUL bytes and the body", () => {
  const bytes = preludeBody(
    { statusCode: 200, headers: { "content-type": "text/plain" }, cookies: ["a=1"] },
    new TextEncoder().encode("hello"),
  );
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}\0\0\0\0\0\0\0\0hello',
  );
});

Deno.test("sniffContentType() follows Go's DetectContentType for text, JSON, HTML, XML and binary", () => {
  const cases: [string, string | undefined][] = [
    ["", undefined],
    ['{"a":1}', "text/plain; charset=utf-8"],
    ["\t\r\n plain text\x1b", "text/plain; charset=utf-8"],
    [" \n<html><body>", "text/html; charset=utf-8"],
    ["<!DOCTYPE html>", "text/html; charset=utf-8"],
    ["<p>", "text/html; charset=utf-8"],
    ["<pre>", "text/plain; charset=utf-8"],
    ['<?xml version="1.0"?>', "text/xml; charset=utf-8"],
    ['{"statusCode":200}\0\0\0\0\0\0\0\0', "application/octet-stream"],
    ["a\x01", "application/octet-stream"],
  ];
  for (const [text, expected] of cases) {
    assert.equal(sniffContentType(new TextEncoder().encode(text)), expected, JSON.stringify(text));
  }
});

/** Starts one invocation that stays in flight until `release` resolves. */
function inFlight(onConcurrent: "crash" | "reject400" | "allow") {
  const entered = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let calls = 0;
  const crashes: string[] = [];
  const rie = startRie({
    onConcurrent,
    onCrash: () => crashes.push("crash"),
    handler: async () => {
      const n = ++calls;
      entered.resolve();
      await release.promise;
      return n;
    },
  });
  return { rie, entered: entered.promise, release: () => release.resolve(), crashes };
}

Deno.test("startRie() crashes on a second concurrent invocation: both fail, later connects are refused, restart() recovers", async () => {
  const { rie, entered, release, crashes } = inFlight("crash");
  await using _ = rie;
  try {
    const first = assert.rejects(fetch(rie.invokeUrl, { method: "POST", body: "{}" }), TypeError);
    await entered;
    await assert.rejects(fetch(rie.invokeUrl, { method: "POST", body: "{}" }), TypeError);
    await first;
    assert.deepEqual(rie.stats, { invocations: 1, maxConcurrent: 2, crashed: true });
    assert.deepEqual(crashes, ["crash"]);
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: rie.port }),
      Deno.errors.ConnectionRefused,
    );

    const port = rie.port;
    await rie.restart();
    release();
    const again = await call(rie, { body: "{}" });
    assert.deepEqual([rie.port, again.status, again.text], [port, 200, "2"]);
    assert.deepEqual(rie.stats, { invocations: 2, maxConcurrent: 2, crashed: false });
  } finally {
    release();
  }
});

Deno.test("startRie() with onConcurrent reject400 answers the second invocation 400 empty and finishes the first", async () => {
  const { rie, entered, release } = inFlight("reject400");
  await using _ = rie;
  try {
    const first = call(rie, { body: "{}" });
    await entered;
    const second = await call(rie, { body: "{}" });
    assert.deepEqual([second.status, second.text], [400, ""]);
    release();
    assert.deepEqual([(await first).status, (await first).text], [200, "1"]);
    assert.deepEqual(rie.stats, { invocations: 1, maxConcurrent: 2, crashed: false });
  } finally {
    release();
  }
});

Deno.test("startRie() with onConcurrent allow runs invocations side by side", async () => {
  const { rie, entered, release } = inFlight("allow");
  await using _ = rie;
  try {
    const first = call(rie, { body: "{}" });
    await entered;
    const second = call(rie, { body: "{}" });
    while (rie.stats.invocations < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    assert.deepEqual([(await first).text, (await second).text].sort(), ["1", "2"]);
    assert.equal(rie.stats.maxConcurrent, 2);
  } finally {
    release();
  }
});

Deno.test("startRie() shutdown() drops an in-flight invocation and frees the port", async () => {
  const { rie, entered, release } = inFlight("crash");
  try {
    const first = assert.rejects(fetch(rie.invokeUrl, { method: "POST", body: "{}" }), TypeError);
    await entered;
    await rie.shutdown();
    await first;
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: rie.port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    release();
  }
});

Deno.test("rie_process.ts echoes the event as a payload-2.0 result", async () => {
  await using rie = await startRieProcess(["--mode", "echo"]);
  const res = await fetch(rie.url + RIE_INVOKE_PATH + "?x=1", { method: "POST", body: '{"rawPath":"/a"}' });
  assert.deepEqual([res.status, await res.json()], [200, {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: '{"rawPath":"/a"}',
  }]);
});

Deno.test("rie_process.ts streams the prelude-framed body in stream mode", async () => {
  await using rie = await startRieProcess(["--mode", "stream"]);
  const res = await fetch(rie.url + RIE_INVOKE_PATH, { method: "POST", body: "{}" });
  assert.equal(
    await res.text(),
    '{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}\0\0\0\0\0\0\0\0hello',
  );
});

Deno.test("rie_process.ts exits with status 2 on a concurrent invocation, failing both requests", async () => {
  await using rie = await startRieProcess(["--mode", "echo", "--delay-ms", "2000"]);
  const invoke = () => fetch(rie.url + RIE_INVOKE_PATH, { method: "POST", body: "{}" });
  const first = assert.rejects(invoke(), TypeError);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await assert.rejects(invoke(), TypeError);
  await first;
  assert.equal((await rie.exited).code, 2);
});
