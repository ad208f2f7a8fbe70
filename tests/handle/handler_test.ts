import { handlerWith } from "../helpers/in_process.ts";
import assert from "node:assert/strict";
import { LrpError } from "../../lib/errors.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../../lib/invoke/types.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { readBody } from "../../lib/handle/handler.ts";
import { payloadBytes } from "../../lib/wire/payload.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const INFO = { remoteAddr: { hostname: "127.0.0.1" } };

/** An invoker whose behaviour each test scripts; it records the events it got. */
class ScriptedInvoker implements Invoker {
  readonly describe = "scripted";
  events: Record<string, unknown>[] = [];
  constructor(readonly answer: (req: InvokeRequest) => Promise<InvokeResult> | InvokeResult) {}
  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.events.push(JSON.parse(td.decode(payloadBytes(req.payload))));
    return await this.answer(req);
  }
}

function setup(answer: ScriptedInvoker["answer"], yaml = "") {
  const invoker = new ScriptedInvoker(answer);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("debug", (l) => lines.push(JSON.parse(l)));
  const { handler } = handlerWith(
    `upstream_timeout: 200ms\nmax_body_size: 16\n${yaml}local:\n  - hostname: fn.test\n    endpoint: http://unused:1\n`,
    invoker,
    { log, newRequestId: () => "req-1" },
  );
  const call = (target: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("host")) headers.set("host", "fn.test");
    return handler(new Request(`http://${headers.get("host")}${target}`, { ...init, headers }), INFO);
  };
  return { call, invoker, lines, handler };
}

const ok = (v: unknown): InvokeResult => ({ body: te.encode(JSON.stringify(v)) });

Deno.test("handler answers /ping and /healthz for any host", async () => {
  const { call } = setup(() => ok(null));
  const ping = await call("/ping", { headers: { host: "anything.example" } });
  assert.equal(ping.status, 200);
  assert.equal(await ping.text(), "pong");
  const health = await call("/healthz");
  assert.equal(health.status, 200);
  const body = await health.json();
  assert.equal(body.status, "ok");
  assert.equal(body.routes, 1);
});

Deno.test("handler serves internal routes under internal_route_prefix only", async () => {
  const { call, invoker } = setup(() => ok("fn"), "internal_route_prefix: _lrp\n");
  assert.equal(await (await call("/_lrp/ping")).text(), "pong");
  const res = await call("/ping");
  assert.equal(await res.text(), '"fn"');
  assert.equal(invoker.events.length, 1);
});

Deno.test("handler refuses methods other than GET and HEAD on internal routes", async () => {
  const { call } = setup(() => ok(null));
  const res = await call("/ping", { method: "POST" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD");
  assert.equal((await res.json()).error, "method_not_allowed");
});

Deno.test("handler answers 404 with a JSON body naming an unknown host", async () => {
  const { call, invoker } = setup(() => ok(null));
  const res = await call("/", { headers: { host: "Other.Test:8080" } });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), {
    error: "route_not_found",
    message: 'Cannot route host "other.test": no rule names it',
    requestId: "req-1",
  });
  assert.equal(invoker.events.length, 0);
});

Deno.test("handler routes by Host case-insensitively, ignoring port and trailing dot", async () => {
  const { call, invoker } = setup(() => ok({ statusCode: 200, body: "hi" }));
  const res = await call("/x", { headers: { host: "FN.Test.:9999" } });
  assert.equal(await res.text(), "hi");
  assert.equal(invoker.events.length, 1);
});

Deno.test("handler refuses a body over max_body_size with 413 before invoking", async () => {
  const { call, invoker } = setup(() => ok(null));
  const declared = await call("/", { method: "POST", body: "x".repeat(17) });
  assert.equal(declared.status, 413);
  assert.equal((await declared.json()).error, "body_too_large");
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(te.encode("x".repeat(10)));
      c.enqueue(te.encode("x".repeat(10)));
      c.close();
    },
  });
  const chunked = await call("/", { method: "POST", body: stream });
  assert.equal(chunked.status, 413);
  assert.equal(invoker.events.length, 0);
  const exact = await call("/", { method: "POST", body: "x".repeat(16) });
  assert.equal(exact.status, 200);
});

Deno.test("handler answers 504 when the function does not answer within upstream_timeout", async () => {
  const { call, lines } = setup((req) =>
    new Promise((_, reject) => req.signal.addEventListener("abort", () => reject(req.signal.reason)))
  );
  const res = await call("/slow");
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.error, "upstream_timeout");
  assert.equal(body.message, "Cannot invoke scripted: no answer within 200 ms");
  const line = lines.find((l) => l.msg === "request");
  assert.equal(line?.status, 504);
  assert.equal(line?.error, "upstream_timeout");
});

Deno.test("handler answers 502 for a function error and shows its JSON only with error_details", async () => {
  const error = { errorType: "Error", errorMessage: "boom", trace: ["Error: boom"] };
  const hidden = setup(() => ({ ...ok(error), functionError: "Unhandled" }));
  const res = await hidden.call("/");
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), {
    error: "function_error",
    message:
      "Cannot use the answer: the function failed with Unhandled (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)",
    requestId: "req-1",
  });
  const shown = setup(() => ({ ...ok(error), functionError: "Unhandled" }), "error_details: true\n");
  assert.deepEqual((await (await shown.call("/")).json()).detail, error);
});

Deno.test("handler answers 502 for an unusable result", async () => {
  const { call } = setup(() => ({ body: te.encode("<html>") }));
  const res = await call("/");
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error, "bad_result");
});

Deno.test("handler passes invoker errors through with their status and headers", async () => {
  const { call } = setup(() => {
    throw new LrpError("queue_full", "full", { headers: { "retry-after": "1" } });
  });
  const res = await call("/");
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "1");
});

Deno.test("handler turns an unexpected exception into a 500 and logs it as a bug", async () => {
  const { call, lines } = setup(() => {
    throw new TypeError("oops");
  });
  const res = await call("/");
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), {
    error: "internal",
    message: "Cannot answer: an internal error in lrp (logged as a bug)",
    requestId: "req-1",
  });
  assert.ok(lines.some((l) => l.msg === "bug: unexpected exception" && l.error === "TypeError: oops"));
});

Deno.test("handler decodes a prelude-framed body from an RIE into status, headers, cookies and body", async () => {
  const bytes = te.encode(
    '{"statusCode":202,"headers":{"x-a":"1"},"cookies":["c=1","d=2"]}\0\0\0\0\0\0\0\0body!',
  );
  const { call } = setup(() => ({ body: bytes }));
  const res = await call("/");
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-a"), "1");
  assert.deepEqual(res.headers.getSetCookie(), ["c=1", "d=2"]);
  assert.equal(await res.text(), "body!");
});

Deno.test("handler logs one access line per request without the query string", async () => {
  const { call, lines } = setup(() => ok({ statusCode: 201, body: "" }));
  await call("/path?token=secret", { headers: { authorization: "Bearer hunter2", cookie: "sid=s3cr3t" } });
  const access = lines.filter((l) => l.msg === "request");
  assert.equal(access.length, 1);
  const { time: _time, durationMs, ...rest } = access[0]!;
  assert.equal(typeof durationMs, "number");
  assert.deepEqual(rest, {
    level: "info",
    msg: "request",
    requestId: "req-1",
    host: "fn.test",
    method: "GET",
    path: "/path",
    target: "scripted",
    status: 201,
  });
  const all = JSON.stringify(lines);
  for (const secret of ["secret", "hunter2", "s3cr3t"]) assert.equal(all.includes(secret), false, secret);
});

Deno.test("readBody() returns null without a body and the exact bytes otherwise", async () => {
  assert.equal(await readBody(new Request("http://x/"), 10), null);
  const bytes = await readBody(
    new Request("http://x/", { method: "POST", body: new Uint8Array([0, 255]) }),
    10,
  );
  assert.deepEqual(bytes, new Uint8Array([0, 255]));
});

Deno.test("readBody() assembles chunks into the declared length, and keeps every byte when the length is wrong", async () => {
  const chunked = (parts: number[][], length: number) =>
    new Request("http://x/", {
      method: "POST",
      headers: { "content-length": String(length) },
      body: ReadableStream.from(parts.map((p) => new Uint8Array(p))),
    });
  assert.deepEqual(
    await readBody(chunked([[1, 2], [3], [4, 5, 6]], 6), 10),
    new Uint8Array([1, 2, 3, 4, 5, 6]),
  );
  // Shorter and longer than declared: the bytes as they came, in order.
  assert.deepEqual(await readBody(chunked([[1, 2], [3]], 5), 10), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await readBody(chunked([[1, 2], [3, 4], [5]], 3), 10), new Uint8Array([1, 2, 3, 4, 5]));
});

Deno.test("internal_hosts keeps /ping, /healthz and /metrics to named Hosts and peer CIDRs; others are routed as usual", async () => {
  const { call, invoker, handler } = setup(() => ok("fn"), "internal_hosts: [lrp.internal, 10.0.0.0/8]\n");
  const fromPeer = async (peer: string, host: string, path: string) => {
    const request = new Request(`http://${host}${path}`, { headers: { host } });
    return await (await handler(request, { remoteAddr: { hostname: peer } })).text();
  };
  assert.equal(await (await call("/ping", { headers: { host: "LRP.internal:8080" } })).text(), "pong");
  assert.equal((await call("/healthz", { headers: { host: "lrp.internal" } })).status, 200);
  // A routed host gets its function, even on an internal path.
  assert.equal(await (await call("/ping")).text(), '"fn"');
  assert.equal(await (await call("/metrics")).text(), '"fn"');
  // An unrouted host gets the usual 404.
  const missing = await call("/healthz", { headers: { host: "other.test" } });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error, "route_not_found");
  // A peer inside a listed CIDR reaches them by any Host.
  assert.equal(await fromPeer("10.1.2.3", "other.test", "/ping"), "pong");
  assert.equal(await fromPeer("::ffff:10.1.2.3", "fn.test", "/ping"), "pong");
  assert.equal(invoker.events.length, 2);
});
