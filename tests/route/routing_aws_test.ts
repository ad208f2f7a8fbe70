import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { ConfigError } from "../../lib/config/types.ts";
import {
  cidrContains,
  forwardedHeaderHost,
  parseCidr,
  parseIp,
  routingHost,
} from "../../lib/route/forwarded.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../../lib/invoke/types.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { compileHostPattern, globToRegExp, matchHostPattern } from "../../lib/route/pattern.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/handle/handler.ts";

const parse = (text: string) => parseConfig(text, { source: "lrp.yaml" });

function rejects(text: string, message: string) {
  assert.throws(() => parse(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

/** Records what each rule was asked to invoke. */
class RecordingInvoker implements Invoker {
  calls: Pick<InvokeRequest, "functionName" | "qualifier">[] = [];
  constructor(readonly describe: string) {}
  invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.calls.push({ functionName: req.functionName, qualifier: req.qualifier });
    return Promise.resolve({ body: new TextEncoder().encode(JSON.stringify(this.describe)) });
  }
}

function setup(yaml: string) {
  const config = parse(yaml);
  const invokers: RecordingInvoker[] = [];
  const handler = createHandler({
    config,
    router: createRouter(config.rules, (rule) => {
      const inv = new RecordingInvoker(rule.hostname);
      invokers.push(inv);
      return inv;
    }),
    log: createLogger("error", () => {}),
    version: "test",
    listenPort: 8080,
    newRequestId: () => "req-1",
  });
  const call = async (headers: Record<string, string>, peer = "127.0.0.1") => {
    // As Deno.serve builds it: the URL's authority is the Host header (origin-form target).
    const url = `http://${headers.host || "x"}/`;
    const res = await handler(new Request(url, { headers }), { remoteAddr: { hostname: peer } });
    return `${res.status} ${await res.text()}`;
  };
  const calls = () => invokers.flatMap((i) => i.calls);
  return { call, calls };
}

Deno.test("compileHostPattern() captures within one label, never across a dot", () => {
  const p = compileHostPattern("{alias}.example.com");
  assert.deepEqual(matchHostPattern(p, "live.example.com"), { alias: "live" });
  assert.equal(matchHostPattern(p, "a.live.example.com"), undefined);
  assert.equal(matchHostPattern(p, "example.com"), undefined);
  assert.deepEqual(matchHostPattern(compileHostPattern("{alias}-{function}.x.test"), "prod-my-app.x.test"), {
    alias: "prod",
    function: "my-app",
  });
  assert.throws(() => compileHostPattern("{a}{b}.test"), /two placeholders must be separated/);
});

Deno.test("globToRegExp() lets * match anything but a colon", () => {
  assert.equal(globToRegExp("app-*").test("app-web"), true);
  assert.equal(globToRegExp("app-*").test("app-web:live"), false);
  assert.equal(globToRegExp("app-*:*").test("app-web:live"), true);
  assert.equal(globToRegExp("app-?").test("app-ab"), false);
  assert.equal(globToRegExp("a.b").test("axb"), false);
});

Deno.test("router prefers exact names, then the most specific pattern, then *", async () => {
  const { call } = setup(`local:
  - hostname: exact.example.com
    endpoint: http://a:1
  - hostname: "*"
    endpoint: http://b:1
  - hostname: "{x}.example.com"
    endpoint: http://c:1
  - hostname: "{x}-{y}.example.com"
    endpoint: http://d:1
`);
  assert.equal(await call({ host: "exact.example.com" }), '200 "exact.example.com"');
  assert.equal(await call({ host: "live.example.com" }), '200 "{x}.example.com"');
  assert.equal(await call({ host: "live-app.example.com" }), '200 "{x}-{y}.example.com"');
  assert.equal(await call({ host: "other.test" }), '200 "*"');
});

Deno.test("an arbitrary Host reaches nothing the configuration does not name", async () => {
  const { call, calls } = setup(`aws:
  - hostname: "{alias}.example.com"
    function_name: example:{alias}
    allow: ["example:live"]
`);
  for (
    const host of ["admin.example.com", "x.live.example.com", "live.example.com.evil.test", "evil.test", ""]
  ) {
    const status = (await call({ host })).slice(0, 3);
    // An empty Host is refused at admission (400); the others find no allowed function or route.
    assert.ok(status === "400" || status === "403" || status === "404", `${host}: ${status}`);
  }
  assert.deepEqual(calls(), []);
  assert.equal((await call({ host: "live.example.com" })).slice(0, 3), "200");
  assert.deepEqual(calls(), [{ functionName: "example:live", qualifier: undefined }]);
});

Deno.test("X-Forwarded-Host and Forwarded are ignored for routing unless the peer is trusted", async () => {
  const yaml = `local:
  - hostname: public.test
    endpoint: http://a:1
  - hostname: internal.test
    endpoint: http://b:1
`;
  const untrusted = setup(yaml);
  assert.equal(
    await untrusted.call({ host: "public.test", "x-forwarded-host": "internal.test" }),
    '200 "public.test"',
  );
  assert.equal(
    await untrusted.call({ host: "public.test", forwarded: "host=internal.test" }),
    '200 "public.test"',
  );
  const proxied = setup(`trusted_proxies: [10.0.0.0/8]\n${yaml}`);
  assert.equal(
    await proxied.call({ host: "lb.test", "x-forwarded-host": "internal.test" }, "10.1.2.3"),
    '200 "internal.test"',
  );
  assert.equal(
    await proxied.call({ host: "public.test", "x-forwarded-host": "internal.test" }, "192.0.2.1"),
    '200 "public.test"',
  );
  assert.equal(
    await proxied.call(
      { host: "lb.test", forwarded: 'for=1.2.3.4;host="Internal.test:443"' },
      "::ffff:10.0.0.9",
    ),
    '200 "internal.test"',
  );
  const all = setup(`trust_forwarded_host: true\n${yaml}`);
  assert.equal(
    await all.call({ host: "public.test", "x-forwarded-host": "internal.test, public.test" }, "192.0.2.1"),
    '200 "internal.test"',
  );
});

Deno.test("a forwarded host from a trusted proxy still reaches only allowed functions", async () => {
  const { call, calls } = setup(`trust_forwarded_host: true
aws:
  - hostname: "{alias}.example.com"
    function_name: example:{alias}
    allow: ["example:live"]
`);
  assert.equal(
    (await call({ host: "live.example.com", "x-forwarded-host": "admin.example.com" })).slice(0, 3),
    "403",
  );
  assert.deepEqual(calls(), []);
});

Deno.test("a function header reaches only what allow names; without function_header it is ignored", async () => {
  const { call, calls } = setup(`aws:
  - hostname: fixed.test
    function_name: fixed
  - hostname: header.test
    function_header: X-Lambda-Function
    allow: ["public-*"]
`);
  assert.equal((await call({ host: "fixed.test", "x-lambda-function": "admin" })).slice(0, 3), "200");
  assert.equal((await call({ host: "header.test", "x-lambda-function": "admin" })).slice(0, 3), "403");
  assert.equal((await call({ host: "header.test", "x-lambda-function": "public-a:x:y" })).slice(0, 3), "400");
  assert.equal((await call({ host: "header.test", "x-lambda-function": "public-a" })).slice(0, 3), "200");
  assert.deepEqual(calls(), [
    { functionName: "fixed", qualifier: undefined },
    { functionName: "public-a", qualifier: undefined },
  ]);
});

Deno.test("parseIp() and cidrContains() handle IPv4, IPv6 and IPv4-mapped peers", () => {
  assert.equal(cidrContains(parseCidr("10.0.0.0/8"), parseIp("10.255.0.1")!), true);
  assert.equal(cidrContains(parseCidr("10.0.0.0/8"), parseIp("11.0.0.1")!), false);
  assert.equal(cidrContains(parseCidr("10.0.0.0/8"), parseIp("::ffff:10.0.0.1")!), true);
  assert.equal(cidrContains(parseCidr("fd00::/8"), parseIp("fd12::1")!), true);
  assert.equal(cidrContains(parseCidr("fd00::/8"), parseIp("fe80::1")!), false);
  assert.equal(cidrContains(parseCidr("127.0.0.1"), parseIp("127.0.0.2")!), false);
  assert.throws(() => parseCidr("10.0.0.0/33"), /prefix length outside 0-32/);
  assert.equal(parseIp("300.0.0.1"), undefined);
});

Deno.test("forwardedHeaderHost() reads host= of RFC 7239 Forwarded from the right, quoted or not", () => {
  const none = { all: false, proxies: [] };
  assert.equal(forwardedHeaderHost('host=b.test, for=1.2.3.4;host="a.test:8080"', none), "a.test:8080");
  assert.equal(forwardedHeaderHost("for=1.2.3.4, Host=b.test", none), "b.test");
  assert.equal(forwardedHeaderHost("for=1.2.3.4", none), undefined);
  assert.equal(
    routingHost(new Headers({ host: "h.test", forwarded: "host=f.test" }), "1.1.1.1", {
      all: false,
      proxies: [],
    }),
    "h.test",
  );
});

Deno.test("parseConfig() refuses a request-chosen function without allow, naming file, line and key", () => {
  rejects(
    `aws:\n  - hostname: "{alias}.example.com"\n    function_name: example:{alias}\n`,
    'lrp.yaml:2: aws[0]: the request chooses the function here (a {placeholder} or function_header), so "allow" must list the functions it may reach',
  );
  rejects(
    `aws:\n  - hostname: h.test\n    function_header: X-Fn\n`,
    'lrp.yaml:2: aws[0]: the request chooses the function here (a {placeholder} or function_header), so "allow" must list the functions it may reach',
  );
  rejects(
    `aws:\n  - hostname: "{alias}.example.com"\n    function_name: "{function}"\n    allow: ["*"]\n`,
    'lrp.yaml:3: aws[0].function_name: {function} is not a placeholder of hostname "{alias}.example.com"',
  );
  rejects(
    `aws:\n  - hostname: h.test\n    function_name: fixed\n    allow: ["*"]\n`,
    "lrp.yaml:4: aws[0].allow: only applies when the request chooses the function (a {placeholder} or function_header)",
  );
  rejects(
    `aws:\n  - hostname: h.test\n    function_header: X-Fn\n    allow: ["a b"]\n`,
    'lrp.yaml:4: aws[0].allow[0]: "a b" is not a glob of function names (letters, digits, - _ . : $ * ?)',
  );
  rejects(
    `local:\n  - hostname: h.test\n    endpoint: http://a:1\n    payload_format: "3.0"\n`,
    'lrp.yaml:4: local[0].payload_format: "3.0" must be one of "2.0", "1.0", "alb"',
  );
  rejects(
    `local:\n  - hostname: h.test\n    endpoint: http://a:1\n    multi_value_headers: true\n`,
    'lrp.yaml:4: local[0].multi_value_headers: only applies to payload_format "alb"',
  );
  rejects(
    "trusted_proxies: [10.0.0.0/40]\n",
    'lrp.yaml:1: trusted_proxies: Cannot parse CIDR: "10.0.0.0/40" has a prefix length outside 0-32',
  );
  rejects(
    "endpoint_url: ftp://x\n",
    'lrp.yaml:1: endpoint_url: "ftp://x" must be an http(s) URL such as http://127.0.0.1:9001',
  );
});

Deno.test("parseConfig() reads trusted_proxies from the file and LRP_TRUSTED_PROXIES", () => {
  const c = parseConfig("trusted_proxies: 10.0.0.0/8, fd00::/8\n", { source: "x" });
  assert.deepEqual(c.trustedProxies, ["10.0.0.0/8", "fd00::/8"]);
  assert.deepEqual(
    parseConfig("", { source: "x", env: { LRP_TRUSTED_PROXIES: "127.0.0.1" } }).trustedProxies,
    ["127.0.0.1"],
  );
});
