/**
 * No open doors: nothing a client sends — Host, X-Forwarded-Host, Forwarded,
 * an absolute URI, a path trick — reaches a target the configuration does not
 * name; internal routes cannot be shadowed by functions or spoofed by their
 * results; and secrets never reach lrp's logs, even at debug level.
 */
import assert from "node:assert/strict";
import { startRie } from "../fakes/rie.ts";
import { localRule, serveLrp } from "../helpers/in_process.ts";
import { startLrpChild, startRieProcess, tempConfig, waitFor } from "../helpers/process.ts";
import { rawHttp, request } from "../helpers/socket.ts";

const td = new TextDecoder();

/** Two echo functions, fn.test and two.test; each reports which one answered. */
function twoFunctions(extra = "") {
  const echo = (name: string) =>
    startRie({
      handler: (e) => {
        const event = e as { rawPath: string; headers: Record<string, string> };
        return { statusCode: 200, body: JSON.stringify({ fn: name, rawPath: event.rawPath }) };
      },
    });
  const one = echo("one");
  const two = echo("two");
  const lrp = serveLrp(`${extra}local:\n${localRule("fn.test", one.url)}${localRule("two.test", two.url)}`);
  return {
    lrp,
    invocations: () => one.stats.invocations + two.stats.invocations,
    async [Symbol.asyncDispose]() {
      await lrp.close();
      await one.shutdown();
      await two.shutdown();
    },
  };
}

Deno.test("X-Forwarded-Host, Forwarded and X-Original-Host never pick the route: only Host does", async () => {
  await using env = twoFunctions();
  const port = env.lrp.port;
  for (
    const headers of [
      { "x-forwarded-host": "fn.test" },
      { forwarded: "host=fn.test;proto=http" },
      { "x-original-host": "fn.test", "x-host": "fn.test", "x-forwarded-server": "fn.test" },
    ]
  ) {
    const res = await request(port, "evil.test", "/", { headers });
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.text).message, 'Cannot route host "evil.test": no rule names it');
    const routed = await request(port, "two.test", "/", { headers });
    assert.equal(JSON.parse(routed.text).fn, "two");
  }
  assert.equal(env.invocations(), 3);
});

Deno.test("path tricks never change the route and reach the function exactly as sent", async () => {
  await using env = twoFunctions();
  const port = env.lrp.port;
  const tricks = [
    "/../two.test/",
    "/%2e%2e/%2E%2E/x",
    "//two.test/x",
    "/./x/../../y",
    "/%2fping",
    "/..%2f..%2fetc",
  ];
  for (const path of tricks) {
    assert.equal((await request(port, "evil.test", path)).status, 404, path);
    const res = await request(port, "fn.test", path);
    assert.deepEqual(JSON.parse(res.text), { fn: "one", rawPath: path });
  }
  assert.equal(env.invocations(), tricks.length);
});

Deno.test("a host that differs only by port, case, trailing dot or suffix reaches its own rule or none", async () => {
  await using env = twoFunctions();
  const port = env.lrp.port;
  const routes: [string, number, string?][] = [
    ["FN.TEST:1234", 200, "one"],
    ["fn.test.", 200, "one"],
    ["fn.test.evil.test", 404],
    ["evil.fn.test", 404],
    ["fn.test..", 404],
    ["fn.tes", 404],
    ["two.test:80", 200, "two"],
  ];
  for (const [host, status, fn] of routes) {
    const res = await request(port, host, "/");
    assert.equal(res.status, status, host);
    if (fn) assert.equal(JSON.parse(res.text).fn, fn);
  }
});

Deno.test("internal routes answer before any function, and near misses go to the function", async () => {
  await using env = twoFunctions();
  const port = env.lrp.port;
  for (const target of ["/ping", "/ping?x=1", "http://fn.test/ping"]) {
    const res = await rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: fn.test`);
    assert.equal(td.decode(res.body), "pong", target);
  }
  assert.equal(env.invocations(), 0);
  for (const path of ["/ping/", "/PING", "/%70ing", "/ping/../ping", "//ping", "/healthz/x"]) {
    const res = await request(port, "fn.test", path);
    assert.deepEqual(JSON.parse(res.text), { fn: "one", rawPath: path });
  }
});

Deno.test("with internal_route_prefix, /ping belongs to the function and /_lrp/ping to lrp", async () => {
  await using env = twoFunctions("internal_route_prefix: _lrp\n");
  const port = env.lrp.port;
  assert.deepEqual(JSON.parse((await request(port, "fn.test", "/ping")).text), {
    fn: "one",
    rawPath: "/ping",
  });
  assert.equal((await request(port, "fn.test", "/_lrp/ping")).text, "pong");
  assert.equal((await request(port, "fn.test", "/_lrp/healthz")).status, 200);
});

Deno.test("a function cannot spoof lrp's own x-lrp-error header", async () => {
  await using rie = startRie({
    handler: () => ({
      statusCode: 404,
      headers: { "X-Lrp-Error": "route_not_found", "x-own": "1" },
      body: "{}",
    }),
  });
  await using lrp = serveLrp(`local:\n${localRule("fn.test", rie.url)}`);
  const res = await request(lrp.port, "fn.test", "/");
  assert.equal(res.status, 404);
  assert.equal(res.header("x-own"), "1");
  assert.equal(res.header("x-lrp-error"), undefined);
  const own = await request(lrp.port, "nope.test", "/");
  assert.equal(own.header("x-lrp-error"), "route_not_found");
});

Deno.test("secrets in headers, cookies, query strings, bodies and the environment never reach lrp's debug log", async () => {
  await using echo = await startRieProcess(["--mode", "echo"]);
  await using fail = await startRieProcess(["--mode", "throw"]);
  const config = await tempConfig(
    `host: 127.0.0.1\nport: 0\nlocal:\n${localRule("fn.test", echo.url)}${localRule("fail.test", fail.url)}`,
  );
  await using lrp = await startLrpChild([config, "--log-level", "debug"], {
    env: {
      AWS_ACCESS_KEY_ID: "AKIASECRETKEYID00001",
      AWS_SECRET_ACCESS_KEY: "SecretAccessKeyValue0001",
      AWS_SESSION_TOKEN: "SessionTokenValue0001",
    },
  });
  const secrets = [
    "AKIASECRETKEYID00001",
    "SecretAccessKeyValue0001",
    "SessionTokenValue0001",
    "BearerTokenValue0001",
    "CookieValue0001",
    "QueryTokenValue0001",
    "BodySecretValue0001",
    "AmzTokenValue0001",
    "BasicPass0001",
  ];
  const headers = {
    authorization: "Bearer BearerTokenValue0001",
    cookie: "session=CookieValue0001",
    "x-amz-security-token": "AmzTokenValue0001",
    "proxy-authorization": `Basic ${btoa("user:BasicPass0001")}`,
    "content-type": "application/json",
  };
  const body = JSON.stringify({ password: "BodySecretValue0001" });
  for (const host of ["fn.test", "fail.test", "nope.test"]) {
    for (const target of ["/p?token=QueryTokenValue0001", "/ping?token=QueryTokenValue0001"]) {
      await request(lrp.port, host, target, { method: "POST", headers, body });
    }
  }
  assert.equal(
    (await request(lrp.port, "fn.test", "/?token=QueryTokenValue0001", { method: "TRACE", headers })).status,
    501,
  );
  assert.equal((await request(lrp.port, "bad host", "/?token=QueryTokenValue0001", { headers })).status, 400);
  await waitFor(
    "the access lines",
    () => lrp.stderr.filter((l) => l.includes('"msg":"request"')).length >= 5 || undefined,
  );
  const log = lrp.stderr.join("\n");
  for (const secret of secrets) assert.equal(log.includes(secret), false, `${secret} in the log:\n${log}`);
  assert.equal(log.includes('"path":"/p"'), true);
});
