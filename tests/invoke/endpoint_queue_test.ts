/**
 * The one-at-a-time guarantee belongs to the RIE endpoint, not to a rule:
 * rules sharing an endpoint, and configuration generations across a reload,
 * share one queue.
 */
import assert from "node:assert/strict";
import { startLrp } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { ConfigError } from "../../lib/config/types.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { startRie } from "../fakes/rie.ts";
import { request } from "../helpers/socket.ts";
import { endpointKey } from "../../lib/invoke/local.ts";

const slowEcho = () => new Promise((r) => setTimeout(() => r({ statusCode: 200, body: "ok" }), 60));

Deno.test("two rules naming one RIE endpoint never invoke it twice at once", async () => {
  await using rie = startRie({ handler: slowEcho, onConcurrent: "allow" });
  const config = parseConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: a.test\n    endpoint: ${rie.url}\n` +
      `  - hostname: b.test\n    endpoint: ${rie.url}/\n`,
    { source: "t" },
  );
  const lrp = startLrp(config, silentLogger, "test");
  try {
    const answers = await Promise.all(
      ["a.test", "b.test", "a.test", "b.test"].map((h) => request(lrp.addr.port, h, "/")),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.equal(rie.stats.maxConcurrent, 1);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("a reload that changes a rule's queue settings keeps the endpoint's one queue", async () => {
  await using rie = startRie({ handler: slowEcho, onConcurrent: "allow" });
  const yaml = (timeout: string) =>
    `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: a.test\n    endpoint: ${rie.url}\n    queue_timeout: ${timeout}\n`;
  const lrp = startLrp(parseConfig(yaml("30s"), { source: "t" }), silentLogger, "test");
  try {
    const first = request(lrp.addr.port, "a.test", "/");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await lrp.reload(() => parseConfig(yaml("20s"), { source: "t" })), true);
    const second = request(lrp.addr.port, "a.test", "/");
    assert.deepEqual([(await first).status, (await second).status], [200, 200]);
    assert.equal(rie.stats.maxConcurrent, 1);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("rules sharing an endpoint must agree on its queue settings", () => {
  assert.throws(
    () =>
      parseConfig(
        "local:\n  - hostname: a\n    endpoint: http://fn:8080\n  - hostname: b\n    endpoint: http://FN:8080/\n    concurrency: 2\n",
        { source: "lrp.yaml" },
      ),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /^lrp\.yaml:4: local\[1\]: endpoint http:\/\/FN:8080 is also used by "a" \(line 2\)/,
      );
      return true;
    },
  );
});

Deno.test("durations longer than a timer can wait are refused", () => {
  assert.throws(
    () => parseConfig("upstream_timeout: 600h\n", { source: "lrp.yaml" }),
    {
      message:
        'lrp.yaml:1: upstream_timeout: "600h" is longer than timers allow (2147483647 ms, about 24 days)',
    },
  );
  assert.equal(parseConfig("upstream_timeout: 24h\n", { source: "x" }).upstreamTimeoutMs, 86_400_000);
});

Deno.test("localhost, 127.0.0.1, case, default port, trailing slash and the full invocation URL share one queue", async () => {
  await using rie = startRie({ handler: slowEcho, onConcurrent: "allow" });
  const port = new URL(rie.url).port;
  const endpoints = [
    `http://127.0.0.1:${port}`,
    `HTTP://LOCALHOST:${port}/`,
    `http://localhost:${port}/2015-03-31/functions/function/invocations`,
  ];
  const config = parseConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n` +
      endpoints.map((e, i) => `  - hostname: h${i}.test\n    endpoint: ${e}\n    concurrency: 1\n`).join(""),
    { source: "t" },
  );
  assert.deepEqual(config.rules.map((r) => r.kind === "local" && r.endpoint), [
    `http://127.0.0.1:${port}`,
    `HTTP://LOCALHOST:${port}`,
    `http://localhost:${port}`,
  ]);
  const lrp = startLrp(config, silentLogger, "test");
  try {
    const answers = await Promise.all(
      ["h0.test", "h1.test", "h2.test", "h0.test", "h1.test", "h2.test"].map((h) =>
        request(lrp.addr.port, h, "/")
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(rie.stats.maxConcurrent, 1);
  } finally {
    await lrp.shutdown();
  }
});

Deno.test("endpointKey() treats loopback names, default ports, case and trailing slashes as one address", () => {
  assert.equal(endpointKey("http://localhost:80/"), endpointKey("http://127.0.0.1"));
  assert.equal(endpointKey("HTTP://[::1]:9000"), endpointKey("http://localhost:9000//"));
  assert.equal(endpointKey("https://Fn.Test:443"), endpointKey("https://fn.test/"));
  assert.notEqual(endpointKey("http://127.0.0.1:9000"), endpointKey("http://127.0.0.1:9001"));
  assert.notEqual(endpointKey("http://a.test:9000"), endpointKey("http://b.test:9000"));
});
