import assert from "node:assert/strict";
import { startLrp } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { escapeHelp, escapeLabelValue, formatValue, LrpMetrics, Registry } from "../../lib/obs/metrics.ts";
import { fakeRie } from "../fakes/rie.ts";

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
});

Deno.test("escapeHelp() escapes backslash and line feed but keeps quotes", () => {
  assert.equal(escapeHelp('say "hi"\\\nnow'), 'say "hi"\\\\\\nnow');
});

Deno.test("formatValue() spells infinities and NaN as the format does", () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 0.25, 3].map(formatValue), [
    "+Inf",
    "-Inf",
    "NaN",
    "0.25",
    "3",
  ]);
});

Deno.test("Registry.render() writes HELP, TYPE and one line per series in text format 0.0.4", () => {
  const r = new Registry();
  const c = r.counter("jobs_total", "Jobs done\nby kind", ["kind"]);
  c.inc({ kind: 'say "x"' });
  c.inc({ kind: 'say "x"' }, 2);
  c.inc({ kind: "b\\c" });
  r.gauge("temperature", "Current temperature").set({}, -1.5);
  assert.equal(
    r.render(),
    [
      "# HELP jobs_total Jobs done\\nby kind",
      "# TYPE jobs_total counter",
      'jobs_total{kind="say \\"x\\""} 3',
      'jobs_total{kind="b\\\\c"} 1',
      "# HELP temperature Current temperature",
      "# TYPE temperature gauge",
      "temperature -1.5",
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram renders cumulative _bucket{le} lines, +Inf, _sum and _count", () => {
  const r = new Registry();
  const h = r.histogram("wait_seconds", "Wait", ["route"], [0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 7]) h.observe({ route: "a" }, v);
  assert.equal(
    r.render(),
    [
      "# HELP wait_seconds Wait",
      "# TYPE wait_seconds histogram",
      'wait_seconds_bucket{route="a",le="0.1"} 2',
      'wait_seconds_bucket{route="a",le="1"} 3',
      'wait_seconds_bucket{route="a",le="+Inf"} 4',
      'wait_seconds_sum{route="a"} 7.65',
      'wait_seconds_count{route="a"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("Registry refuses invalid names, the reserved label le, and a missing label", () => {
  const r = new Registry();
  assert.throws(() => r.counter("bad-name", "x"), {
    message: 'Cannot register metric: invalid name "bad-name"',
  });
  assert.throws(() => r.histogram("h", "x", ["le"]), {
    message: 'Cannot register metric h: invalid label name "le"',
  });
  const c = r.counter("c_total", "x", ["a"]);
  assert.throws(() => c.inc({}), { message: 'Cannot record c_total: missing label "a"' });
  assert.throws(() => c.inc({ a: "1" }, -1), { message: "Cannot increase c_total by -1" });
});

Deno.test("LrpMetrics.observe() counts by route and status class, errors by cause, bytes sent", async () => {
  const m = new LrpMetrics(
    "1.2.3",
    () => [{ route: "a.test", endpoint: "http://x:1", stats: { inFlight: 1, waiting: 4 } }],
    { endpointLabels: true },
  );
  const response = m.observe(
    {
      route: "a.test",
      status: 502,
      durationMs: 20,
      upstreamMs: 15,
      queueWaitMs: 5,
      error: "function_error",
      bytesIn: 7,
      bytesOut: 12,
    },
    new Response("twelve bytes", { status: 502 }),
  );
  assert.equal(await response.text(), "twelve bytes");
  assert.equal(m.requests.get({ route: "a.test", code: "5xx" }), 1);
  assert.equal(m.errors.get({ route: "a.test", cause: "function_error" }), 1);
  assert.deepEqual(m.upstream.get({ route: "a.test" }), { count: 1, sum: 0.015 });
  assert.deepEqual(m.queueWait.get({ route: "a.test" }), { count: 1, sum: 0.005 });
  assert.equal(m.bytesIn.get({ route: "a.test" }), 7);
  assert.equal(m.bytesOut.get({ route: "a.test" }), 12);
  const text = m.registry.render();
  assert.ok(text.includes('lrp_build_info{version="1.2.3"} 1\n'));
  assert.ok(text.includes('lrp_queue_depth{route="a.test",endpoint="http://x:1"} 4\n'));
  assert.ok(text.includes('lrp_queue_in_flight{route="a.test",endpoint="http://x:1"} 1\n'));
});

Deno.test("LrpMetrics.observe() counts a streamed body as it goes out and leaves buffered bodies unwrapped", async () => {
  const m = new LrpMetrics("1", () => []);
  const buffered = new Response(new Uint8Array(5));
  assert.equal(
    m.observe({ route: "r", status: 200, durationMs: 1, bytesIn: 0, bytesOut: 5 }, buffered),
    buffered,
  );
  const streamed = m.observe(
    { route: "r", status: 200, durationMs: 1, bytesIn: 0, streamed: true },
    new Response(new Blob(["abc", "defg"]).stream()),
  );
  assert.equal(await streamed.text(), "abcdefg");
  assert.equal(m.bytesOut.get({ route: "r" }), 12);
});

function metricValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("GET /metrics after traffic shows requests, latency, errors, bytes and queue gauges moving", async () => {
  await using rie = fakeRie((event) => ({ statusCode: 200, body: `hi ${event.rawPath}` }));
  const config = parseConfig(
    `host: 127.0.0.1\nport: 0\ninternal_route_prefix: _lrp\nlocal:\n  - hostname: 127.0.0.1\n    endpoint: ${rie.url}\n`,
    { source: "test.yaml" },
  );
  const running = startLrp(config, silentLogger, "9.9.9");
  try {
    const base = `http://127.0.0.1:${running.addr.port}`;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/x`, { method: "POST", body: "12345" });
      assert.equal(await r.text(), "hi /x");
    }
    // No rule answers for "localhost".
    const missing = await fetch(`http://localhost:${running.addr.port}/x`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const scrape = await fetch(`${base}/_lrp/metrics`);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await scrape.text();
    assert.equal(metricValue(text, 'lrp_requests_total{route="127.0.0.1",code="2xx"}'), 3);
    assert.equal(metricValue(text, 'lrp_requests_total{route="unrouted",code="4xx"}'), 1);
    // A request that never reached a function is not an invocation error.
    assert.equal(
      metricValue(text, 'lrp_invocation_errors_total{route="unrouted",cause="route_not_found"}'),
      undefined,
    );
    assert.equal(metricValue(text, 'lrp_request_duration_seconds_count{route="127.0.0.1"}'), 3);
    assert.equal(metricValue(text, 'lrp_upstream_duration_seconds_bucket{route="127.0.0.1",le="+Inf"}'), 3);
    assert.equal(metricValue(text, 'lrp_queue_wait_seconds_count{route="127.0.0.1"}'), 3);
    assert.equal(metricValue(text, 'lrp_request_bytes_total{route="127.0.0.1"}'), 15);
    assert.equal(metricValue(text, 'lrp_response_bytes_total{route="127.0.0.1"}'), 15);
    // Endpoint URLs stay out of the series unless metrics_endpoint_labels asks for them.
    assert.equal(metricValue(text, 'lrp_queue_depth{route="127.0.0.1"}'), 0);
    assert.equal(text.includes(rie.url), false);
    // The scrape itself is in flight while it renders.
    assert.equal(metricValue(text, "lrp_in_flight_requests"), 1);
    assert.equal(rie.invocations, 3);
  } finally {
    await running.shutdown();
  }
});

Deno.test("metrics: false leaves /metrics to the routed function", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "the function's /metrics" }));
  const config = parseConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: 127.0.0.1\n    endpoint: ${rie.url}\n`,
    {
      source: "test.yaml",
      env: { LRP_DISABLE_METRICS: "true" },
    },
  );
  assert.equal(config.metrics, false);
  const running = startLrp(config, silentLogger, "9.9.9");
  try {
    const r = await fetch(`http://127.0.0.1:${running.addr.port}/metrics`);
    assert.equal(await r.text(), "the function's /metrics");
  } finally {
    await running.shutdown();
  }
});

Deno.test("LrpMetrics sums carry no float noise and requests that never invoked are not invocation errors", () => {
  const m = new LrpMetrics(
    "1",
    () => [{ route: "a.test", endpoint: "http://x:1", stats: { inFlight: 0, waiting: 0 } }],
  );
  const done = { route: "a.test", status: 200, bytesIn: 0, bytesOut: 0 };
  m.observe({ ...done, durationMs: 100, upstreamMs: 100 }, new Response(null));
  m.observe({ ...done, durationMs: 200, upstreamMs: 200 }, new Response(null));
  for (const error of ["route_not_found", "bad_request", "body_too_large", "method_not_allowed"]) {
    m.observe({ ...done, status: 400, durationMs: 1, error }, new Response(null));
  }
  m.observe(
    { ...done, status: 502, durationMs: 1, upstreamMs: 1, error: "function_error" },
    new Response(null),
  );
  const text = m.registry.render();
  assert.ok(text.includes('lrp_upstream_duration_seconds_sum{route="a.test"} 0.301\n'), text);
  assert.ok(text.includes('lrp_request_duration_seconds_sum{route="a.test"} 0.305\n'), text);
  assert.equal(text.includes("0000000"), false);
  assert.equal(
    text.split("\n").filter((l) => l.startsWith("lrp_invocation_errors_total{")).join("\n"),
    'lrp_invocation_errors_total{route="a.test",cause="function_error"} 1',
  );
  assert.ok(text.includes('lrp_queue_depth{route="a.test"} 0\n'));
  assert.equal(formatValue(0.1 + 0.2), "0.3");
  assert.equal(formatValue(2 ** 53), "9007199254740992");
});

Deno.test("queue gauges add up the queues of one host's rules (rules with routes share a host)", () => {
  const m = new LrpMetrics("1", () => [
    { route: "api.test", endpoint: "http://a:1", stats: { inFlight: 1, waiting: 2 } },
    { route: "api.test", endpoint: "http://b:1", stats: { inFlight: 1, waiting: 3 } },
    // A second rule of the host on the same endpoint shares its queue: counted once.
    { route: "api.test", endpoint: "http://b:1", stats: { inFlight: 1, waiting: 3 } },
  ]);
  const text = m.registry.render();
  assert.ok(text.includes('lrp_queue_depth{route="api.test"} 5\n'), text);
  assert.ok(text.includes('lrp_queue_in_flight{route="api.test"} 2\n'), text);
});
