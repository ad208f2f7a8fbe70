/**
 * End to end through the real binary path: `deno run main.ts CONFIG` as a
 * child process, in front of a fake RIE process that — like the classic RIE —
 * exits when it gets a second concurrent invocation.
 */
import assert from "node:assert/strict";
import { runLrp, startLrpChild, startRieProcess, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const td = new TextDecoder();

Deno.test("lrp serves a local rule end to end and never overlaps invocations on one RIE under 64 connections", async () => {
  await using rie = await startRieProcess(["--mode", "echo", "--delay-ms", "2"]);
  const config = await tempConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: fn.test\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild([config]);
  const one = await request(lrp.port, "fn.test", "/hello%20world?x=1&x=2", {
    headers: { cookie: "a=1; b=2" },
  });
  assert.equal(one.status, 200);
  const event = JSON.parse(one.text);
  assert.equal(event.rawPath, "/hello%20world");
  assert.deepEqual(event.queryStringParameters, { x: "1,2" });
  assert.deepEqual(event.cookies, ["a=1", "b=2"]);

  const statuses = new Map<number, number>();
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    for (let i = 0; i < 5; i++) {
      const res = await request(lrp.port, "fn.test", "/load");
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual([...statuses], [[200, 320]]);
  // The fake RIE exits on any overlap; it is still there and still answers.
  const after = await fetch(`${rie.url}/2015-03-31/functions/function/invocations`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(after.status, 200);
  await after.body?.cancel();
  console.log(`64 connections x 5 requests through one RIE: 320 x 200 in ${seconds.toFixed(2)} s`);
});

Deno.test("lrp answers 502 naming the endpoint when the RIE is down, and keeps serving", async () => {
  const config = await tempConfig(
    "host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: dead.test\n    endpoint: http://127.0.0.1:9\n",
  );
  await using lrp = await startLrpChild([config]);
  const res = await request(lrp.port, "dead.test", "/");
  assert.equal(res.status, 502);
  const body = JSON.parse(res.text);
  assert.equal(body.error, "upstream_unreachable");
  assert.match(body.message, /^Cannot reach the RIE at http:\/\/127\.0\.0\.1:9: /);
  const ping = await fetch(`http://127.0.0.1:${lrp.port}/ping`);
  assert.equal(await ping.text(), "pong");
});

Deno.test("lrp finishes in-flight requests on SIGTERM, then exits 0", async () => {
  await using rie = await startRieProcess(["--mode", "echo", "--delay-ms", "400"]);
  const config = await tempConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: fn.test\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild([config]);
  const inFlight = request(lrp.port, "fn.test", "/slow");
  await new Promise((r) => setTimeout(r, 150));
  const status = lrp.stop("SIGTERM");
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.text).rawPath, "/slow");
  assert.equal((await status).code, 0);
  assert.ok(lrp.stderr.some((l) => l.includes('"shutting down"') && l.includes("SIGTERM")));
});

Deno.test("lrp check prints the route table; a broken config exits 1 naming file, line and key", async () => {
  const good = await tempConfig("local:\n  - hostname: foo.domain.lb\n    endpoint: http://lambda-1:8080\n");
  const ok = await runLrp(["check", good]);
  assert.equal(ok.code, 0);
  assert.equal(
    ok.stdout,
    `${good}: ok, 1 route(s), listening on 0.0.0.0:8080\n  foo.domain.lb -> local http://lambda-1:8080 (concurrency 1, queue 1000)\n`,
  );
  const bad = await tempConfig("local:\n  - hostname: foo\n    endpoint: nope\n");
  for (const args of [["check", bad], [bad]]) {
    const res = await runLrp(args);
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      `lrp: invalid configuration: ${bad}:3: local[0].endpoint: "nope" is not a valid URL (expected e.g. http://lambda-1:8080)\n`,
    );
  }
  const missing = await runLrp(["/nonexistent/lrp.yaml"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/lrp\.yaml: cannot read the configuration file: no such file/);
});

Deno.test("lrp --help, --version and a bad flag", async () => {
  const help = await runLrp(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^lrp \d+\.\d+\.\d+ — the Lambda Reverse Proxy/);
  assert.match(help.stdout, /--upstream-timeout <value>/);
  const version = await runLrp(["--version"]);
  assert.match(version.stdout, /^lrp \d+\.\d+\.\d+\n$/);
  const bad = await runLrp(["--nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^lrp: unknown option --nope/);
});

Deno.test("lrp flags and LRP_* variables override the file", async () => {
  const config = await tempConfig("host: 127.0.0.1\nport: 1\ninternal_route_prefix: from-file\n");
  await using lrp = await startLrpChild([config, "--port", "0"], {
    env: { LRP_INTERNAL_ROUTE_PREFIX: "from-env" },
  });
  const res = await fetch(`http://127.0.0.1:${lrp.port}/from-env/ping`);
  assert.equal(td.decode(new Uint8Array(await res.arrayBuffer())), "pong");
});
