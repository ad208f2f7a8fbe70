import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { traceInvocation } from "../../lib/obs/tracing.ts";
import { fakeRie } from "../fakes/rie.ts";
import { startLrpChild } from "../helpers/process.ts";

Deno.test("traceInvocation() without OpenTelemetry only invokes: no traceparent is added", async () => {
  const rule = parseConfig("local:\n  - hostname: a.test\n    endpoint: http://x:1\n", { source: "t" })
    .rules[0]!;
  const headers: Record<string, string> = { host: "a.test" };
  const result = await traceInvocation(
    { rule, target: "t" },
    headers,
    () => Promise.resolve({ body: new Uint8Array([1]) }),
  );
  assert.deepEqual(result, { body: new Uint8Array([1]) });
  assert.deepEqual(headers, { host: "a.test" });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** A fake OTLP/HTTP collector (JSON encoding) that keeps every span it receives. */
function fakeCollector() {
  const spans: OtlpSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.json();
    if (new URL(request.url).pathname === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
      }
    }
    return Response.json({});
  });
  return Object.assign(server, { spans, url: `http://127.0.0.1:${server.addr.port}` });
}

const attr = (span: OtlpSpan | undefined, key: string) => {
  const v = span?.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

Deno.test("with OTEL_DENO=true, lrp exports server and invoke spans and hands traceparent to the function", async () => {
  await using collector = fakeCollector();
  const events: Record<string, Record<string, string>>[] = [];
  await using rie = fakeRie((event) => {
    events.push(event as Record<string, Record<string, string>>);
    return { statusCode: 200, body: "traced" };
  });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/lrp.yaml`, `local:\n  - hostname: 127.0.0.1\n    endpoint: ${rie.url}\n`);
  const lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", `${dir}/lrp.yaml`], {
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "lrp-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    },
  });
  try {
    const r = await fetch(`${lrp.url}/hello`);
    assert.equal(await r.text(), "traced");
  } finally {
    await lrp.stop();
    await Deno.remove(dir, { recursive: true });
  }
  // Spans are flushed when lrp exits.
  const invoke = collector.spans.find((s) => s.name === "invoke 127.0.0.1");
  assert.ok(invoke, `spans: ${collector.spans.map((s) => s.name).join(", ")}`);
  assert.equal(invoke.kind, 3); // CLIENT
  assert.equal(attr(invoke, "lrp.route"), "127.0.0.1");
  assert.equal(attr(invoke, "lrp.target"), `local ${rie.url}`);
  assert.equal(attr(invoke, "lrp.endpoint"), rie.url);
  assert.equal(typeof attr(invoke, "lrp.queue_wait_ms"), "number");
  const server = collector.spans.find((s) => s.spanId === invoke.parentSpanId);
  assert.equal(server?.kind, 2); // SERVER: Deno.serve's own span
  assert.equal(attr(server, "lrp.route"), "127.0.0.1");
  // The call to the RIE goes over lrp's own HTTP/1.1 pool, not fetch: the invoke span is the client span.
  assert.equal(events.length, 1);
  assert.equal(events[0]!.headers!.traceparent, `00-${invoke.traceId}-${invoke.spanId}-01`);
});
