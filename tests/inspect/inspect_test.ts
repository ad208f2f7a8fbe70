import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { REDACTED } from "../../lib/inspect/view.ts";
import { DEMO_DEFAULTS } from "../../lib/run/demo.ts";
import { startLrp } from "../../lib/run/serve.ts";
import { fakeRie } from "../fakes/rie.ts";
import { request } from "../helpers/socket.ts";

const configFor = (endpoint: string, extra = "inspect: true\n", hostname = "fn.localhost") =>
  parseConfig(
    `host: 127.0.0.1\nport: 0\n${extra}local:\n  - hostname: ${hostname}\n    endpoint: ${endpoint}\n`,
    { source: "test.yaml" },
  );

const quiet = createLogger("error", () => {});

Deno.test("inspect settings: off by default, 200 exchanges of 64 KB, redact names lower-cased; on in the demo", () => {
  const defaults = parseConfig("", { source: "lrp.yaml" });
  assert.deepEqual(
    [
      defaults.inspect,
      defaults.inspectBuffer,
      defaults.inspectBodyLimit,
      defaults.redact,
      defaults.inspectShowSecrets,
    ],
    [false, 200, 65536, [], false],
  );
  const set = parseConfig(
    "inspect: true\ninspect_buffer: 5\ninspect_body_limit: 1KB\nredact: [X-Api-Key]\n",
    {
      source: "lrp.yaml",
      flags: { redact: "X-One, x-two", "inspect-show-secrets": "true" },
    },
  );
  assert.deepEqual(
    [set.inspect, set.inspectBuffer, set.inspectBodyLimit, set.redact, set.inspectShowSecrets],
    [true, 5, 1024, ["x-one", "x-two"], true],
  );
  assert.deepEqual(parseConfig("redact: [X-Api-Key]\n", { source: "lrp.yaml" }).redact, ["x-api-key"]);
  assert.throws(
    () => parseConfig("redact: ['bad name']\n", { source: "lrp.yaml" }),
    { message: 'lrp.yaml:1: redact: "bad name" is not an HTTP header name' },
  );
  assert.equal(parseConfig("", { source: "<demo>", env: { ...DEMO_DEFAULTS } }).inspect, true);
  assert.equal(
    parseConfig("", { source: "<demo>", env: { ...DEMO_DEFAULTS, LRP_INSPECT: "false" } }).inspect,
    false,
  );
});

Deno.test("with inspect off, {prefix}/inspect is not special: 404 for a host without a route, nothing recorded", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const lrp = startLrp(configFor(rie.url, ""), quiet, "test");
  try {
    const page = await request(lrp.addr.port, "other.localhost", "/inspect");
    assert.equal(page.status, 404);
    assert.equal(JSON.parse(page.text).error, "route_not_found");
    assert.equal(lrp.inspector, undefined);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("the inspector serves its page and exchange details, and does not record its own requests", async () => {
  await using rie = fakeRie((e) => ({ statusCode: 201, cookies: ["sid=abc"], body: `saw ${e.rawPath}` }));
  const lrp = startLrp(configFor(rie.url, "inspect: true\ninternal_route_prefix: /_lrp\n"), quiet, "test");
  try {
    const port = lrp.addr.port;
    const page = await request(port, "anything.localhost", "/_lrp/inspect");
    assert.equal(page.status, 200);
    assert.equal(page.header("content-type"), "text/html; charset=utf-8");
    assert.match(page.header("content-security-policy")!, /^default-src 'none'; /);
    assert.match(page.text, /<title>lrp inspector<\/title>/);
    const sent = await request(port, "fn.localhost", "/a?b=1", { headers: { authorization: "Basic eDp5" } });
    assert.equal(sent.status, 201);
    await request(port, "fn.localhost", "/_lrp/ping");
    const detail = await request(port, "fn.localhost", "/_lrp/inspect/exchanges/1");
    assert.equal(detail.status, 200);
    const d = JSON.parse(detail.text);
    assert.deepEqual([d.id, d.host, d.method, d.target, d.route, d.status], [
      1,
      "fn.localhost",
      "GET",
      "/a?b=1",
      "fn.localhost",
      201,
    ]);
    assert.deepEqual(d.request.headers.find(([n]: string[]) => n === "authorization"), [
      "authorization",
      `Basic ${REDACTED}`,
    ]);
    assert.equal(JSON.parse(d.event.json).headers.authorization, `Basic ${REDACTED}`);
    assert.equal(JSON.parse(d.result.body.json).cookies[0], `sid=${REDACTED}`);
    assert.deepEqual(d.response.body, { size: 6, kept: 6, truncated: false, kind: "text", text: "saw /a" });
    // Neither the page, the detail nor /ping was recorded.
    assert.deepEqual(lrp.inspector!.list().map((e) => e.id), [1]);
    const missing = await request(port, "fn.localhost", "/_lrp/inspect/exchanges/99");
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.text).error, "not_found");
    const wrongMethod = await request(port, "fn.localhost", "/_lrp/inspect", { method: "POST", body: "" });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.header("allow"), "GET, HEAD");
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("the event stream sends retry, a snapshot, then each new exchange", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const lrp = startLrp(configFor(rie.url), quiet, "test");
  try {
    const port = lrp.addr.port;
    await request(port, "fn.localhost", "/before");
    const res = await fetch(`http://127.0.0.1:${port}/inspect/events`);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += (await reader.read()).value ?? "";
    };
    await until(/event: snapshot\ndata: .*\n\n/);
    assert.match(text, /^retry: 1000\n\nevent: snapshot\n/);
    const snapshot = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(text)![1]!);
    assert.equal(snapshot.boot, lrp.inspector!.boot);
    assert.deepEqual(snapshot.exchanges.map((x: { target: string }) => x.target), ["/before"]);
    await request(port, "fn.localhost", "/after");
    await until(/event: exchange\ndata: .*\n\n/);
    const live = JSON.parse(/id: 2\nevent: exchange\ndata: (.*)\n/.exec(text)![1]!);
    assert.deepEqual([live.id, live.target, live.status], [2, "/after", 200]);
    await reader.cancel();
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("replay sends the event again to the same route and refuses other origins and non-JSON", async () => {
  const seen: string[] = [];
  await using rie = fakeRie((e) => {
    seen.push(String(e.rawPath));
    return { statusCode: 200, body: "ok" };
  });
  const lrp = startLrp(configFor(rie.url), quiet, "test");
  try {
    const port = lrp.addr.port;
    const replay = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
      request(port, "127.0.0.1", "/inspect/replay", { method: "POST", headers, body });
    await request(port, "fn.localhost", "/first");
    const form = await replay('{"id":1}', { "content-type": "text/plain" });
    assert.equal(form.status, 400);
    const foreign = await replay('{"id":1}', {
      "content-type": "application/json",
      origin: "http://evil.example",
    });
    assert.equal(foreign.status, 400);
    assert.match(JSON.parse(foreign.text).message, /^Cannot replay from origin http:\/\/evil.example/);
    const ok = await replay('{"id":1}');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.text), { id: 2, status: 200 });
    const edited = await replay(JSON.stringify({ id: 1, event: '{"rawPath":"/edited"}' }));
    assert.deepEqual(JSON.parse(edited.text), { id: 3, status: 200 });
    assert.deepEqual(seen, ["/first", "/first", "/edited"]);
    assert.deepEqual(lrp.inspector!.list().map((e) => [e.id, e.replayOf]), [[3, 1], [2, 1], [1, undefined]]);
    const bad = await replay(JSON.stringify({ id: 1, event: "{not json" }));
    assert.equal(bad.status, 400);
    const gone = await replay('{"id":42}');
    assert.equal(gone.status, 404);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("the recorder outlives a reload; replay only reaches routes still configured", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const lrp = startLrp(configFor(rie.url), quiet, "test");
  try {
    const port = lrp.addr.port;
    await request(port, "fn.localhost", "/kept");
    const recorder = lrp.inspector;
    assert.equal(await lrp.reload(() => configFor(rie.url, "inspect: true\n", "new.localhost")), true);
    assert.equal(lrp.inspector, recorder);
    await request(port, "new.localhost", "/after-reload");
    assert.deepEqual(lrp.inspector!.list().map((e) => e.target), ["/after-reload", "/kept"]);
    const refused = await request(port, "new.localhost", "/inspect/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"id":1}',
    });
    assert.equal(refused.status, 404);
    assert.equal(
      JSON.parse(refused.text).message,
      'Cannot replay exchange 1: route "fn.localhost" is not configured (any more)',
    );
    assert.equal(rie.invocations, 2);
    // Switched off by a reload, the recorder is dropped.
    assert.equal(await lrp.reload(() => configFor(rie.url, "", "new.localhost")), true);
    assert.equal(lrp.inspector, undefined);
  } finally {
    await lrp.shutdown();
  }
});
