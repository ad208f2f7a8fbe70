import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { checkHealth, defaultHealthUrl, healthTarget } from "../../lib/run/healthcheck.ts";
import { runLrp, startLrpChild } from "../helpers/process.ts";

Deno.test("defaultHealthUrl() asks 127.0.0.1 for a wildcard host, with port and prefix", () => {
  const url = (yaml: string) => defaultHealthUrl(parseConfig(yaml, { source: "t" }));
  assert.equal(url(""), "http://127.0.0.1:8080/ping");
  assert.equal(url("port: 9000\ninternal_route_prefix: _lrp\n"), "http://127.0.0.1:9000/_lrp/ping");
  assert.equal(url("host: '::'\n"), "http://127.0.0.1:8080/ping");
  assert.equal(url("host: '::1'\n"), "http://[::1]:8080/ping");
  assert.equal(url("host: 10.0.0.7\n"), "http://10.0.0.7:8080/ping");
});

Deno.test("checkHealth() wants 200 pong; another answer or silence is unhealthy", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (r) => {
    const path = new URL(r.url).pathname;
    if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 500));
    return path === "/ping" ? new Response("pong") : new Response("nope", { status: 503 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  assert.deepEqual(await checkHealth(`${base}/ping`), { ok: true, message: `healthy: ${base}/ping` });
  assert.deepEqual(await checkHealth(`${base}/other`), {
    ok: false,
    message: `unhealthy: ${base}/other answered 503 "nope"`,
  });
  assert.deepEqual(await checkHealth(`${base}/slow`, 50), {
    ok: false,
    message: `unhealthy: ${base}/slow: no answer within 50 ms`,
  });
});

Deno.test("lrp healthcheck exits 0 against a running lrp and 1 when nothing listens", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(path, "internal_route_prefix: _lrp\n");
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path]);
  const port = new URL(lrp.url).port;

  const explicit = await runLrp(["healthcheck", `${lrp.url}/_lrp/ping`]);
  assert.deepEqual([explicit.code, explicit.stdout], [0, `lrp: healthy: ${lrp.url}/_lrp/ping\n`]);

  // No URL: port and prefix come from $LRP_CONFIG and the environment.
  const fromConfig = await runLrp(["healthcheck"], { env: { LRP_CONFIG: path, LRP_PORT: port } });
  assert.deepEqual([fromConfig.code, fromConfig.stdout], [
    0,
    `lrp: healthy: http://127.0.0.1:${port}/_lrp/ping\n`,
  ]);

  const wrongPrefix = await runLrp(["healthcheck", `${lrp.url}/ping`], {});
  assert.equal(wrongPrefix.code, 1);
  assert.match(wrongPrefix.stderr, /^lrp: unhealthy: http:\/\/127\.0\.0\.1:\d+\/ping answered 404 /);

  await lrp.stop();
  const down = await runLrp(["healthcheck", `${lrp.url}/_lrp/ping`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^lrp: unhealthy: http:\/\/127\.0\.0\.1:\d+\/_lrp\/ping: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkHealth() accepts /healthz's JSON status ok; another status or JSON is unhealthy", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => {
    const path = new URL(r.url).pathname;
    if (path === "/healthz") return Response.json({ status: "ok", version: "1", routes: 2 });
    if (path === "/degraded") return Response.json({ status: "degraded" });
    return new Response('{"status": "ok"', { headers: { "content-type": "application/json" } });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  assert.deepEqual(await checkHealth(`${base}/healthz`), { ok: true, message: `healthy: ${base}/healthz` });
  assert.deepEqual(await checkHealth(`${base}/degraded`), {
    ok: false,
    message: `unhealthy: ${base}/degraded answered 200 "{\\"status\\":\\"degraded\\"}"`,
  });
  assert.equal((await checkHealth(`${base}/broken`)).ok, false);
});

Deno.test("lrp healthcheck takes a base URL (checks {prefix}/ping) or a config path (its host, port and prefix)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(path, "host: 127.0.0.1\ninternal_route_prefix: _lrp\n");
  await using lrp = await startLrpChild(["--port", "0", path]);
  const port = new URL(lrp.url).port;
  // The file now names the port lrp took (lrp does not watch it).
  await Deno.writeTextFile(path, `host: 127.0.0.1\nport: ${port}\ninternal_route_prefix: _lrp\n`);

  const fromFile = await runLrp(["healthcheck", path]);
  assert.deepEqual([fromFile.code, fromFile.stdout, fromFile.stderr], [
    0,
    `lrp: healthy: http://127.0.0.1:${port}/_lrp/ping\n`,
    "",
  ]);

  // A base URL: the prefix comes from the configuration lrp would read ($LRP_CONFIG here), or --internal-route-prefix.
  for (const base of [lrp.url, `${lrp.url}/`, `127.0.0.1:${port}`]) {
    const res = await runLrp(["healthcheck", base], { env: { LRP_CONFIG: path } });
    assert.deepEqual([res.code, res.stdout], [0, `lrp: healthy: http://127.0.0.1:${port}/_lrp/ping\n`], base);
  }
  const flag = await runLrp(["healthcheck", "--internal-route-prefix", "_lrp", lrp.url], { cwd: dir });
  assert.deepEqual([flag.code, flag.stdout], [0, `lrp: healthy: http://127.0.0.1:${port}/_lrp/ping\n`]);

  // Without the prefix, the 404 says what to try.
  const noPrefix = await runLrp(["healthcheck", lrp.url], { cwd: "/" });
  assert.equal(noPrefix.code, 1);
  assert.equal(
    noPrefix.stderr,
    `lrp: unhealthy: http://127.0.0.1:${port}/ping answered 404 (does this lrp set internal_route_prefix? ` +
      `pass its config file, lrp healthcheck lrp.yaml, or --internal-route-prefix)\n`,
  );

  const missing = await runLrp(["healthcheck", `${dir}/nope.yaml`]);
  assert.deepEqual([missing.code, missing.stderr], [
    1,
    `lrp: healthcheck: cannot read ${dir}/nope.yaml: no such file; pass a running lrp's URL ` +
    `(http://127.0.0.1:8080) or its config file\n`,
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("healthTarget() reads a URL with a path as is, a bare URL or host:port as a base, anything else as a file", () => {
  assert.deepEqual(healthTarget("http://127.0.0.1:8080/_lrp/ping"), {
    kind: "url",
    url: "http://127.0.0.1:8080/_lrp/ping",
  });
  assert.deepEqual(healthTarget("http://127.0.0.1:8080/healthz?x=1"), {
    kind: "url",
    url: "http://127.0.0.1:8080/healthz?x=1",
  });
  assert.deepEqual(healthTarget("https://lrp.internal"), { kind: "base", base: "https://lrp.internal" });
  assert.deepEqual(healthTarget("http://127.0.0.1:8080/"), { kind: "base", base: "http://127.0.0.1:8080" });
  assert.deepEqual(healthTarget("localhost:9000"), { kind: "base", base: "http://localhost:9000" });
  assert.deepEqual(healthTarget("[::1]:9000"), { kind: "base", base: "http://[::1]:9000" });
  assert.deepEqual(healthTarget("lrp.yaml"), { kind: "config", path: "lrp.yaml" });
  assert.deepEqual(healthTarget("./conf/lrp.yml"), { kind: "config", path: "./conf/lrp.yml" });
});
