import assert from "node:assert/strict";
import { buildInvoker } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { RIE_INVOKE_PATH } from "../../lib/invoke/rie.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/run/handler.ts";
import { waitFor } from "../helpers/process.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** What the fake endpoint answers: status, headers and chunks (a pull yields the next one). */
interface EndpointAnswer {
  status?: number;
  headers?: Record<string, string>;
  chunks: () => AsyncGenerator<string | Uint8Array>;
}

/** An RIE-like endpoint that streams its answer, and lrp with a RESPONSE_STREAM local rule in front. */
function setup() {
  const answers: EndpointAnswer[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const endpoint = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    if (new URL(req.url).pathname !== RIE_INVOKE_PATH) {
      return new Response("404 page not found", { status: 404 });
    }
    const answer = answers.shift()!;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks = answer.chunks();
    const done = () => inFlight--;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(c) {
          const next = await chunks.next();
          if (next.done) {
            done();
            return c.close();
          }
          c.enqueue(typeof next.value === "string" ? te.encode(next.value) : next.value);
        },
        cancel() {
          done();
        },
      }, { highWaterMark: 0 }),
      {
        status: answer.status ?? 200,
        headers: answer.headers ?? { "content-type": "text/plain; charset=utf-8" },
      },
    );
  });
  const config = parseConfig(
    `upstream_timeout: 10s\nlocal:\n  - hostname: "*"\n    endpoint: http://127.0.0.1:${endpoint.addr.port}\n    invoke_mode: RESPONSE_STREAM\n`,
    { source: "test.yaml" },
  );
  const router = createRouter(config.rules, (rule) => buildInvoker(rule));
  const lines: Record<string, unknown>[] = [];
  const handler = createHandler({
    config,
    router,
    log: createLogger("debug", (l) => lines.push(JSON.parse(l))),
    version: "test",
    listenPort: 8080,
    newRequestId: () => "req-1",
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    port: server.addr.port,
    lines,
    answer: (a: EndpointAnswer) => answers.push(a),
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      for (const r of router.routes) await r.target.close?.();
      await endpoint.shutdown();
    },
  };
}

function chunksOf(...parts: (string | Uint8Array)[]): () => AsyncGenerator<string | Uint8Array> {
  return async function* () {
    yield* parts;
  };
}

const PRELUDE = '{"statusCode":201,"headers":{"content-type":"text/event-stream"},"cookies":["s=1"]}';

Deno.test("a local RESPONSE_STREAM rule passes a streaming endpoint's chunks through as they arrive, prelude decoded", async () => {
  await using t = setup();
  const events: string[] = [];
  const clientGotFirst = Promise.withResolvers<void>();
  t.answer({
    chunks: async function* () {
      events.push("endpoint wrote prelude and first");
      yield PRELUDE.slice(0, 10);
      yield PRELUDE.slice(10) + "\0\0\0";
      yield "\0\0\0\0\0data: first\n\n";
      const fallback = setTimeout(() => clientGotFirst.resolve(), 15_000);
      await clientGotFirst.promise;
      clearTimeout(fallback);
      events.push("endpoint wrote last");
      yield "data: last\n\n";
    },
  });
  const res = await fetch(t.url);
  assert.deepEqual(
    [res.status, res.headers.get("content-type"), res.headers.getSetCookie()],
    [201, "text/event-stream", ["s=1"]],
  );
  const reader = res.body!.getReader();
  events.push(`client read ${JSON.stringify(td.decode((await reader.read()).value))}`);
  clientGotFirst.resolve();
  let rest = "";
  for (let r; !(r = await reader.read()).done;) rest += td.decode(r.value);
  events.push(`client read ${JSON.stringify(rest)}`);
  assert.deepEqual(events, [
    "endpoint wrote prelude and first",
    'client read "data: first\\n\\n"',
    "endpoint wrote last",
    'client read "data: last\\n\\n"',
  ]);
});

Deno.test("a local RESPONSE_STREAM rule keeps the RIE's buffered answers: prelude in one body, results, function errors, timeouts", async () => {
  await using t = setup();
  t.answer({ chunks: chunksOf(PRELUDE + "\0".repeat(8) + "whole") });
  const framed = await fetch(t.url);
  assert.deepEqual([framed.status, framed.headers.get("content-type"), await framed.text()], [
    201,
    "text/event-stream",
    "whole",
  ]);
  t.answer({ chunks: chunksOf('{"statusCode":202,', '"body":"structured"}') });
  const structured = await fetch(t.url);
  assert.deepEqual([structured.status, await structured.text()], [202, "structured"]);
  t.answer({ chunks: chunksOf('{"errorType":"Error","errorMessage":"boom"}') });
  const failed = await fetch(t.url);
  assert.deepEqual([failed.status, (await failed.json()).error], [502, "function_error"]);
  t.answer({ chunks: chunksOf("Task timed ", "out after 3.00 seconds") });
  const timedOut = await fetch(t.url);
  assert.deepEqual([timedOut.status, (await timedOut.json()).error], [504, "function_timeout"]);
  t.answer({ status: 502, chunks: chunksOf('{"errorType":"Runtime.ExitError","errorMessage":"exit"}') });
  const exited = await fetch(t.url);
  assert.deepEqual([exited.status, (await exited.json()).error], [502, "upstream_error"]);
});

Deno.test("a local RESPONSE_STREAM rule streams a body without a prelude as 200 with the endpoint's content type", async () => {
  await using t = setup();
  t.answer({ headers: { "content-type": "text/csv" }, chunks: chunksOf("a,b\n", "1,2\n") });
  const res = await fetch(t.url);
  assert.deepEqual([res.status, res.headers.get("content-type"), await res.text()], [
    200,
    "text/csv",
    "a,b\n1,2\n",
  ]);
  // An endpoint that keeps the stream content type (Managed-Instances RIE) frames by header.
  t.answer({
    headers: { "content-type": "application/vnd.awslambda.http-integration-response" },
    chunks: chunksOf('{"statusCode":203}', "\0".repeat(8), "x"),
  });
  const byHeader = await fetch(t.url);
  assert.deepEqual([byHeader.status, await byHeader.text()], [203, "x"]);
});

Deno.test("a client leaving a local stream stops the transfer, and the endpoint slot stays taken until the endpoint has finished", async () => {
  await using t = setup();
  const release = Promise.withResolvers<void>();
  let finished = false;
  t.answer({
    chunks: async function* () {
      yield "first;";
      await release.promise;
      yield "second;";
      finished = true;
    },
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  await conn.write(te.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  assert.match(td.decode(buf.subarray(0, n ?? 0)), /first;/);
  conn.close();
  await waitFor("the cancel log", () => t.lines.find((l) => l.msg === "response stream cancelled by client"));
  // The next request waits for the slot (concurrency 1) until the first invocation has ended.
  t.answer({ chunks: chunksOf("next") });
  const next = fetch(t.url).then((r) => r.text());
  release.resolve();
  assert.equal(await next, "next");
  assert.equal(finished, true);
  assert.equal(t.maxInFlight, 1);
});
