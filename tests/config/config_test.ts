import assert from "node:assert/strict";
import { describeRules } from "../../lib/config/describe.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { ConfigError } from "../../lib/config/types.ts";

const parse = (text: string, extra: { env?: Record<string, string>; flags?: Record<string, string> } = {}) =>
  parseConfig(text, { source: "lrp.yaml", ...extra });

function rejects(text: string, message: string | RegExp, extra = {}) {
  assert.throws(() => parse(text, extra), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("parseConfig() accepts the lambda-reverse-proxy lrp.yaml unchanged", () => {
  const config = parse(`local:
  - hostname: foo.domain.lb
    endpoint: http://lambda-1:8080
  - hostname: bar.domain.lb
    endpoint: http://lambda-2:8080
`);
  assert.equal(config.region, ""); // the SDK's chain, then eu-central-1 (tests/aws_region_test.ts)
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 8080);
  assert.equal(config.internalRoutePrefix, "");
  assert.deepEqual(describeRules(config), [
    "foo.domain.lb -> local http://lambda-1:8080 (concurrency 1, queue 1000)",
    "bar.domain.lb -> local http://lambda-2:8080 (concurrency 1, queue 1000)",
  ]);
});

Deno.test("parseConfig() reads every documented top-level key, port as string or number", () => {
  const config = parse(`region: us-east-1
host: 127.0.0.1
port: "9000"
internal_route_prefix: _lrp
log_level: debug
upstream_timeout: 2.5s
max_body_size: 1MB
error_details: true
aws:
  - hostname: API.Example.com.
    function_name: my-fn:live
  - hostname: b.example.com
    function_name: arn:aws:lambda:us-east-1:123456789012:function:other
    qualifier: 7
`);
  assert.equal(config.region, "us-east-1");
  assert.equal(config.port, 9000);
  assert.equal(config.internalRoutePrefix, "/_lrp");
  assert.equal(config.logLevel, "debug");
  assert.equal(config.upstreamTimeoutMs, 2500);
  assert.equal(config.maxBodyBytes, 1024 * 1024);
  assert.equal(config.errorDetails, true);
  assert.equal(config.rules[0]!.hostname, "api.example.com");
  assert.deepEqual(config.rules[1], {
    kind: "aws",
    hostname: "b.example.com",
    payloadFormat: "2.0",
    multiValueHeaders: false,
    allow: [],
    functionName: "arn:aws:lambda:us-east-1:123456789012:function:other",
    qualifier: "7",
    line: 12,
  });
  assert.equal(parse("port: 8081").port, 8081);
});

Deno.test("parseConfig() lets flags beat LRP_* variables beat the file", () => {
  const text = "port: 1000\nhost: 10.0.0.1\n";
  assert.equal(parse(text).port, 1000);
  assert.equal(parse(text, { env: { LRP_PORT: "2000" } }).port, 2000);
  assert.equal(parse(text, { env: { LRP_PORT: "2000" }, flags: { port: "3000" } }).port, 3000);
  assert.equal(parse(text, { env: { LRP_HOST: "127.0.0.1" } }).host, "127.0.0.1");
});

Deno.test("parseConfig() gives the defaults for an empty file", () => {
  const config = parse("");
  assert.equal(config.rules.length, 0);
  assert.equal(config.upstreamTimeoutMs, 30_000);
  assert.equal(config.maxBodyBytes, 6 * 1024 * 1024);
  assert.equal(config.errorDetails, false);
});

Deno.test("parseConfig() reads per-rule queue settings of local rules", () => {
  const config = parse(`queue_limit: 5
local:
  - hostname: a
    endpoint: http://a:8080/
    concurrency: 4
    queue_timeout: 500ms
  - hostname: b
    endpoint: http://b:8080
`);
  const [a, b] = config.rules;
  assert.ok(a?.kind === "local" && b?.kind === "local");
  assert.equal(a.endpoint, "http://a:8080");
  assert.equal(a.concurrency, 4);
  assert.equal(a.queueTimeoutMs, 500);
  assert.equal(a.queueLimit, 5);
  assert.equal(b.concurrency, 1);
});

Deno.test("parseConfig() names file, line and key path for every kind of mistake", () => {
  rejects("local:\n  - hostname: a\n    endpoint: [", /^lrp\.yaml:3: YAML syntax error: /);
  rejects("host: x\nlisten: 1\n", /^lrp\.yaml:2: listen: unknown key/);
  rejects("port: eighty\n", 'lrp.yaml:1: port: "eighty" must be a port number from 0 to 65535');
  rejects("port: 70000\n", "lrp.yaml:1: port: 70000 must be a port number from 0 to 65535");
  rejects("local:\n  - hostname: a\n", 'lrp.yaml:2: local[0]: missing required key "endpoint"');
  rejects(
    "local:\n  - hostname: a\n    endpoint: not a url\n",
    'lrp.yaml:3: local[0].endpoint: "not a url" is not a valid URL (expected e.g. http://lambda-1:8080)',
  );
  rejects(
    "local:\n  - hostname: a\n    endpoint: ftp://x\n",
    /^lrp\.yaml:3: local\[0\]\.endpoint: .* must use http or https/,
  );
  rejects(
    "local:\n  - hostname: a\n    endpoint: http://x\n    concurency: 2\n",
    /^lrp\.yaml:4: local\[0\]\.concurency: unknown key/,
  );
  rejects(
    "local:\n  - hostname: A.example\n    endpoint: http://x\naws:\n  - hostname: a.example.\n    function_name: f\n",
    'lrp.yaml:5: aws[0].hostname: duplicate hostname "a.example" (also at lrp.yaml:2)',
  );
  rejects(
    "aws:\n  - hostname: a\n    function_name: 'bad name!'\n",
    /^lrp\.yaml:3: aws\[0\]\.function_name: /,
  );
  rejects(
    "aws:\n  - hostname: a:80\n    function_name: f\n",
    /^lrp\.yaml:2: aws\[0\]\.hostname: "a:80" must be a host name/,
  );
  rejects("local: {hostname: a}\n", "lrp.yaml:1: local: must be a list of rules");
  rejects("local:\n  - just-a-string\n", /^lrp\.yaml:2: local\[0\]: a rule must be a mapping/);
  rejects("upstream_timeout: soon\n", /^lrp\.yaml:1: upstream_timeout: "soon" must be a duration/);
  rejects("error_details: maybe\n", /^lrp\.yaml:1: error_details: "maybe" must be true or false/);
  rejects("log_level: loud\n", /^lrp\.yaml:1: log_level: "loud" must be one of debug, info, warn, error/);
  rejects("- a\n- b\n", "lrp.yaml:1: the file must be a YAML mapping");
  rejects(
    "port: 1\nport: 2\n",
    "lrp.yaml:2: port: duplicate key (first on line 1); a key may appear once in a mapping",
  );
  rejects("", 'flag --port: "x" must be a port number from 0 to 65535', { flags: { port: "x" } });
  rejects("", 'environment LRP_LOG_LEVEL: "loud" must be one of debug, info, warn, error', {
    env: { LRP_LOG_LEVEL: "loud" },
  });
});

Deno.test("parseConfig() reports every mistake of a file at once, in file order, an unknown key with the closest known key", () => {
  const text = [
    "prot: 8080", // 1
    "log_level: loud", // 2
    "local:", // 3
    "  - hostname: a.test", // 4
    "    endpoint: nope", // 5
    "    concurency: 2", // 6
    "  - hostname: a.test", // 7
    "    endpont: http://x", // 8
    "aws:", // 9
    "  - hostname: b:80", // 10
    "    function_name: f", // 11
    "colour: blue", // 12
    "upstream_timeout: soon", // 13
  ].join("\n");
  const problems = [
    'lrp.yaml:1: prot: unknown key (did you mean "port"?)',
    'lrp.yaml:2: log_level: "loud" must be one of debug, info, warn, error',
    'lrp.yaml:5: local[0].endpoint: "nope" is not a valid URL (expected e.g. http://lambda-1:8080)',
    'lrp.yaml:6: local[0].concurency: unknown key (did you mean "concurrency"?)',
    'lrp.yaml:7: local[1]: missing required key "endpoint"',
    'lrp.yaml:8: local[1].endpont: unknown key (did you mean "endpoint"?)',
    'lrp.yaml:10: aws[0].hostname: "b:80" must be a host name without port or scheme',
    `lrp.yaml:12: colour: unknown key (known: ${["host", "port"].join(", ")}`,
    'lrp.yaml:13: upstream_timeout: "soon" must be a duration such as 30s, 500ms or 2m (a number means seconds)',
  ];
  assert.throws(() => parse(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, problems.length, err.message);
    for (const [i, p] of problems.entries()) {
      if (p.includes("colour")) assert.ok(err.problems[i]!.startsWith(p), String(err.problems[i]));
      else assert.equal(err.problems[i], p);
    }
    assert.equal(err.message, err.problems.join("\n"));
    return true;
  });
  // A repeated key is one mistake among the others, not a stop.
  assert.throws(
    () => parse("local:\n  - hostname: a.test\n    endpoint: http://a\n    endpoint: http://b\nprot: 1\n"),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        "lrp.yaml:4: local[0].endpoint: duplicate key (first on line 3); a key may appear once in a mapping",
        'lrp.yaml:5: prot: unknown key (did you mean "port"?)',
      ]);
      return true;
    },
  );
  // One mistake stays one problem, the message as before.
  assert.throws(() => parse("port: x\n"), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, ['lrp.yaml:1: port: "x" must be a port number from 0 to 65535']);
    return true;
  });
});

Deno.test("parseConfig() takes the region from the file, else AWS_REGION, else AWS_DEFAULT_REGION, else leaves it to the SDK", () => {
  assert.equal(parse("region: us-west-2\n", { env: { AWS_REGION: "ap-south-1" } }).region, "us-west-2");
  assert.equal(
    parse("", { env: { AWS_REGION: "ap-south-1", AWS_DEFAULT_REGION: "sa-east-1" } }).region,
    "ap-south-1",
  );
  assert.equal(parse("", { env: { AWS_DEFAULT_REGION: "sa-east-1" } }).region, "sa-east-1");
  assert.equal(parse("").region, "");
});

Deno.test("parseConfig() reads invoke_mode RESPONSE_STREAM on local and aws rules, and refuses other values and formats", () => {
  const config = parseConfig(
    `local:\n  - hostname: a.test\n    endpoint: http://a:8080\n    invoke_mode: RESPONSE_STREAM\naws:\n  - hostname: b.test\n    function_name: fn\n    invoke_mode: RESPONSE_STREAM\n  - hostname: c.test\n    function_name: fn\n    invoke_mode: BUFFERED\n`,
    { source: "lrp.yaml" },
  );
  assert.deepEqual(config.rules.map((r) => r.invokeMode), ["RESPONSE_STREAM", "RESPONSE_STREAM", undefined]);
  assert.deepEqual(describeRules(config), [
    "a.test -> local http://a:8080 (concurrency 1, queue 1000) [stream]",
    "b.test -> aws fn [stream]",
    "c.test -> aws fn",
  ]);
  assert.throws(
    () =>
      parseConfig(`aws:\n  - hostname: b.test\n    function_name: fn\n    invoke_mode: stream\n`, {
        source: "lrp.yaml",
      }),
    { message: 'lrp.yaml:4: aws[0].invoke_mode: "stream" must be "BUFFERED" or "RESPONSE_STREAM"' },
  );
  assert.throws(
    () =>
      parseConfig(
        `aws:\n  - hostname: b.test\n    function_name: fn\n    payload_format: "1.0"\n    invoke_mode: RESPONSE_STREAM\n`,
        { source: "lrp.yaml" },
      ),
    { message: 'lrp.yaml:5: aws[0].invoke_mode: RESPONSE_STREAM needs payload_format "2.0"' },
  );
});

Deno.test("metrics is on by default; --disable-metrics and LRP_DISABLE_METRICS say the opposite of the key", () => {
  assert.equal(parse("").metrics, true);
  assert.equal(parse("metrics: false\n").metrics, false);
  assert.equal(parse("", { env: { LRP_DISABLE_METRICS: "1" } }).metrics, false);
  assert.equal(parse("metrics: false\n", { env: { LRP_DISABLE_METRICS: "false" } }).metrics, true);
  assert.equal(parse("", { flags: { "disable-metrics": "true" } }).metrics, false);
});

Deno.test("watch_config defaults to false; --watch-config and LRP_WATCH_CONFIG switch it on", () => {
  assert.equal(parse("").watchConfig, false);
  assert.equal(parse("watch_config: true\n").watchConfig, true);
  assert.equal(parse("", { env: { LRP_WATCH_CONFIG: "yes" } }).watchConfig, true);
  assert.equal(parse("", { flags: { "watch-config": "true" } }).watchConfig, true);
  rejects("watch_config: sometimes\n", 'lrp.yaml:1: watch_config: "sometimes" must be true or false');
});

Deno.test("the repository's lrp.yaml and examples/lrp.yaml are valid", async () => {
  for (const path of ["../../lrp.yaml", "../../examples/lrp.yaml"]) {
    const text = await Deno.readTextFile(new URL(path, import.meta.url));
    const config = parseConfig(text, { source: path });
    assert.equal(config.rules.length, 2, path);
  }
});

Deno.test("watch_code names a function's code watch; watch is its deprecated alias, with a warning naming the new key", () => {
  const rule = (key: string) =>
    `functions:\n  - hostname: a.test\n    runtime: provided\n    code: .\n    ${key}: true\n`;
  const current = parse(rule("watch_code"));
  assert.deepEqual([(current.rules[0] as { watch: boolean }).watch, current.warnings], [true, []]);
  const old = parse(rule("watch"));
  assert.deepEqual([(old.rules[0] as { watch: boolean }).watch, old.warnings], [true, [
    "lrp.yaml:5: functions[0].watch: deprecated, use watch_code (it restarts the function when its code " +
    "changes; watch_config reloads this file)",
  ]]);
  rejects(
    "functions:\n  - hostname: a.test\n    runtime: provided\n    code: .\n    watch: true\n    watch_code: true\n",
    "lrp.yaml:5: functions[0].watch: use watch_code alone (watch is its old name)",
  );
});
