/** `functions:` rules in `lrp.yaml`: defaults, and one-line errors from parsing and `lrp check`. */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { ConfigError } from "../../lib/config/types.ts";
import { runLrp, tempConfig } from "../helpers/process.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("a functions rule gets Lambda's defaults and its code folder resolved against the config file", () => {
  const config = parseConfig(
    "functions:\n  - hostname: API.localhost\n    runtime: nodejs\n    handler: index.handler\n    code: ./fn\n",
    { source: "/srv/app/lrp.yaml" },
  );
  assert.deepEqual(config.rules, [{
    kind: "function",
    hostname: "api.localhost",
    payloadFormat: "2.0",
    multiValueHeaders: false,
    name: "api-localhost",
    runtime: "nodejs",
    handler: "index.handler",
    code: "/srv/app/fn",
    concurrency: 1,
    timeoutMs: 3000,
    memoryMb: 128,
    region: "us-east-1",
    environment: {},
    hostEnvironment: {},
    watch: false,
    idleTimeoutMs: 300_000,
    queueLimit: 1000,
    queueTimeoutMs: config.queueTimeoutMs,
    line: 2,
  }]);
});

Deno.test("functions rule mistakes are one-line errors naming line and key", () => {
  const cases: [string, string][] = [
    [
      "    runtime: ruby\n    handler: a.b\n",
      `t:4: functions[0].runtime: "ruby" is not a runtime (known: nodejs, deno, python, provided)`,
    ],
    ["    runtime: nodejs\n", `t:2: functions[0]: missing required key "handler" (runtime nodejs)`],
    [
      "    runtime: nodejs\n    handler: index\n",
      `t:5: functions[0].handler: "index" must be FILE.EXPORT such as index.handler`,
    ],
    [
      "    runtime: nodejs\n    handler: a.b\n    memory: 64\n",
      "t:6: functions[0].memory: 64 must be from 128 to 10240 (MB), as in Lambda",
    ],
    [
      "    runtime: nodejs\n    handler: a.b\n    colour: red\n",
      "t:6: functions[0].colour: unknown key (known: hostname, name, runtime, handler, code, concurrency, timeout, memory, environment, environment_passthrough, watch_code, watch, idle_timeout, queue_limit, queue_timeout, payload_format, multi_value_headers, invoke_mode, routes, api, api_id, stage, stage_variables, stage_in_path, cors)",
    ],
  ];
  for (const [extra, message] of cases) {
    assert.throws(
      () => parseConfig(`functions:\n  - hostname: a.test\n    code: ./x\n${extra}`, { source: "t" }),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, message);
        return true;
      },
    );
  }
});

Deno.test("lrp check reports a missing code folder, a missing handler file and a missing interpreter", async () => {
  const cases: [string, string][] = [
    [
      `runtime: nodejs\n    handler: index.handler\n    code: ${FIXTURES}nope`,
      `functions[0].code: no such folder: ${FIXTURES}nope`,
    ],
    [
      `runtime: nodejs\n    handler: missing.handler\n    code: ${FIXTURES}node_echo`,
      `functions[0].handler: ${FIXTURES}node_echo has no file missing (.js, .mjs, .cjs)`,
    ],
    [
      `runtime: provided\n    code: ${FIXTURES}node_echo`,
      `functions[0].code: ${FIXTURES}node_echo has no file named bootstrap`,
    ],
  ];
  for (const [rule, message] of cases) {
    const path = await tempConfig(`functions:\n  - hostname: a.test\n    ${rule}\n`);
    const out = await runLrp(["check", path]);
    assert.equal(out.code, 1, out.stderr);
    assert.equal(out.stderr.trim(), `lrp: invalid configuration: ${path}:2: ${message}`);
  }
  const path = await tempConfig(
    `functions:\n  - hostname: a.test\n    runtime: python\n    handler: app.handler\n    code: ${FIXTURES}py_echo\n`,
  );
  const out = await runLrp(["check", path], { env: { PATH: "/nonexistent" } });
  assert.equal(
    out.stderr.trim(),
    `lrp: invalid configuration: ${path}:2: functions[0].runtime: python3 is not on PATH; install it to run python functions`,
  );
  const ok = await runLrp(["check", path]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    ok.stdout,
    /a\.test -> function a-test \(python app\.handler in .*py_echo, concurrency 1, timeout 3s, queue 1000\)/,
  );
});

Deno.test("a handler that would load code from outside its code folder is refused by lrp check and at start (Runtime.MalformedHandlerName)", async () => {
  const refused = [
    ["nodejs", "x/../../other/index.handler"],
    ["nodejs", "../index.handler"],
    ["nodejs", "/etc/index.handler"],
    ["deno", "a..b/main.handler"],
    ["python", "/srv/app.handler"],
  ];
  for (const [runtime, handler] of refused) {
    const path = await tempConfig(
      `functions:\n  - hostname: a.test\n    runtime: ${runtime}\n    handler: ${handler}\n    code: ${FIXTURES}node_echo\n`,
    );
    const message = `lrp: invalid configuration: ${path}:4: functions[0].handler: ${
      JSON.stringify(handler)
    } is not a valid handler name (Runtime.MalformedHandlerName): it must name a file inside code, without ".." or a leading "/"`;
    const check = await runLrp(["check", path]);
    assert.equal(check.code, 1, check.stderr);
    assert.equal(check.stderr.trim(), message);
    const serve = await runLrp([path]);
    assert.equal(serve.code, 1, serve.stderr);
    assert.equal(serve.stderr.trim(), message);
  }
});

Deno.test("a function inherits from lrp's environment only what a runtime needs and what environment_passthrough names", () => {
  const env = {
    PATH: "/usr/bin",
    HOME: "/home/me",
    DENO_DIR: "/cache/deno",
    AWS_ACCESS_KEY_ID: "AKIA",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_PROFILE: "dev",
    LRP_PORT: "8080",
    EDITOR: "vi",
  };
  const rules = parseConfig(
    "functions:\n" +
      "  - { hostname: a.test, runtime: nodejs, handler: i.h, code: . }\n" +
      "  - { hostname: b.test, runtime: nodejs, handler: i.h, code: ., environment_passthrough: [AWS_PROFILE, NOT_SET] }\n",
    { source: "t", env },
  ).rules.map((r) => r.kind === "function" && r.hostEnvironment);
  assert.deepEqual(rules, [
    { PATH: "/usr/bin", HOME: "/home/me", DENO_DIR: "/cache/deno" },
    { PATH: "/usr/bin", HOME: "/home/me", DENO_DIR: "/cache/deno", AWS_PROFILE: "dev" },
  ]);
  assert.throws(
    () =>
      parseConfig(
        "functions:\n  - hostname: a.test\n    runtime: nodejs\n    handler: i.h\n    code: .\n    environment_passthrough: [AWS-PROFILE]\n",
        { source: "t" },
      ),
    {
      message:
        `t:6: functions[0].environment_passthrough[0]: "AWS-PROFILE" is not an environment variable name`,
    },
  );
});
