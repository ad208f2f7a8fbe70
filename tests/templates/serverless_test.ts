/**
 * The Serverless Framework reader: provider defaults, each function's
 * settings, httpApi and http events with CORS, and variables (self, env,
 * opt, sls, aws, file, nested, fallbacks), with the messages for what needs
 * AWS. The file system is a fake.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/types.ts";
import type { Plan } from "../../lib/templates/plan.ts";
import { SERVERLESS_CORS_HEADERS } from "../../lib/templates/serverless.ts";
import { readServerless } from "../../lib/templates/serverless.ts";
import { parseDotenv, resolveVariables, type VariableScope } from "../../lib/templates/serverless_vars.ts";
import { parseTemplateText } from "../../lib/templates/yaml.ts";

const FILES = new Set(["/s/handler.js", "/s/src/api.py", "/s/src/ts.ts"]);
const files = {
  isFile: (p: string) => FILES.has(p),
  isDirectory: (p: string) => p === "/s" || p === "/s/src",
};
const DATA: Record<string, unknown> = { "./config.dev.json": { DB: "dev-db", nested: { size: 3 } } };

function read(text: string, options: { stage?: string; env?: Record<string, string> } = {}): Plan {
  return readServerless(parseTemplateText(text, "/s/serverless.yml"), {
    source: "/s/serverless.yml",
    region: "us-east-1",
    env: options.env ?? {},
    files,
    readFile: (path) => DATA[path],
    ...(options.stage !== undefined && { stage: options.stage }),
  });
}

Deno.test("provider defaults: stage dev, timeout 6 s, memorySize 1024, the service-stage-function name; environments merged, the function's wins", () => {
  const plan = read(`service: shop
provider:
  name: aws
  runtime: nodejs20.x
  environment: {A: p, B: p}
functions:
  one:
    handler: handler.main
    environment: {B: f}
  two:
    handler: src/api.run
    runtime: python3.12
    timeout: 20
    memorySize: 256
    reservedConcurrency: 3
    name: custom-two
`);
  assert.deepEqual(plan.functions, [
    {
      id: "one",
      name: "shop-dev-one",
      runtime: "nodejs20.x",
      lrpRuntime: "nodejs",
      handler: "handler.main",
      code: "/s",
      timeoutS: 6,
      memoryMb: 1024,
      environment: { A: "p", B: "f" },
      routes: [],
      where: "functions.one",
    },
    {
      id: "two",
      name: "custom-two",
      runtime: "python3.12",
      lrpRuntime: "python",
      handler: "src/api.run",
      code: "/s",
      timeoutS: 20,
      memoryMb: 256,
      concurrency: 3,
      environment: { A: "p", B: "p" },
      routes: [],
      where: "functions.two",
    },
  ]);
});

Deno.test("httpApi events: a string, '*' for $default, the object form; stage always $default; provider.httpApi.cors true and payload, a function's payload first", () => {
  const plan = read(`service: shop
provider: {runtime: nodejs20.x, stage: prod, httpApi: {cors: true, payload: '1.0'}}
functions:
  one:
    handler: handler.main
    events:
      - httpApi: 'GET /users/{id}'
      - httpApi: '*'
      - httpApi: {method: '*', path: /any}
      - httpApi: {method: post, path: /users, authorizer: {name: jwt}}
  two:
    handler: handler.main
    httpApi: {payload: '2.0'}
    events:
      - httpApi: 'GET /two'
`);
  assert.deepEqual(plan.functions[0]!.routes, [
    { key: "GET /users/{id}", api: "HttpApi", payloadFormat: "1.0", notEnforced: [] },
    { key: "$default", api: "HttpApi", payloadFormat: "1.0", notEnforced: [] },
    { key: "ANY /any", api: "HttpApi", payloadFormat: "1.0", notEnforced: [] },
    {
      key: "POST /users",
      api: "HttpApi",
      payloadFormat: "1.0",
      notEnforced: ['authorizer "jwt" (every request is let through)'],
    },
  ]);
  assert.deepEqual(plan.functions[1]!.routes, [
    { key: "GET /two", api: "HttpApi", payloadFormat: "2.0", notEnforced: [] },
  ]);
  assert.deepEqual(plan.apis.HttpApi, {
    id: "HttpApi",
    kind: "http",
    stage: "$default",
    stageVariables: {},
    cors: { allow_origins: ["*"], allow_headers: SERVERLESS_CORS_HEADERS, allow_methods: ["*"] },
    notEnforced: [],
  });
});

Deno.test("http events: REST, payload 1.0, stage from --stage, leading / optional, cors true merged across methods; private is not enforced", () => {
  const plan = read(
    `service: shop
provider: {runtime: nodejs20.x}
functions:
  one:
    handler: handler.main
    events:
      - http: GET hello
      - http: {path: '/posts/{id}', method: post, cors: true, private: true}
      - http: {path: posts, method: any, cors: true}
`,
    { stage: "qa" },
  );
  assert.deepEqual(plan.functions[0]!.routes, [
    { key: "GET /hello", api: "ApiGatewayRestApi", payloadFormat: "1.0", notEnforced: [] },
    {
      key: "POST /posts/{id}",
      api: "ApiGatewayRestApi",
      payloadFormat: "1.0",
      notEnforced: ["API key (private: true; requests without one are let through)"],
    },
    { key: "ANY /posts", api: "ApiGatewayRestApi", payloadFormat: "1.0", notEnforced: [] },
  ]);
  assert.deepEqual(plan.apis.ApiGatewayRestApi, {
    id: "ApiGatewayRestApi",
    kind: "rest",
    stage: "qa",
    stageVariables: {},
    cors: {
      allow_origins: ["*"],
      allow_headers: SERVERLESS_CORS_HEADERS,
      allow_methods: ["OPTIONS", "POST", "ANY"],
    },
    notEnforced: [],
  });
});

Deno.test("variables: self, env with default, opt, sls:stage, aws:region, file with nested variables, chained fallbacks, strToBool", () => {
  const scope: VariableScope = {
    self: {
      service: "shop",
      provider: { stage: "${opt:stage, 'dev'}" },
      custom: { cfg: "${file(./config.${sls:stage}.json)}" },
    },
    env: { HOME_DIR: "/home/x", EMPTY: "" },
    options: { stage: undefined },
    stage: "dev",
    region: "eu-west-1",
    readFile: (path) => DATA[path],
  };
  const r = (v: string) => resolveVariables(v, scope);
  assert.equal(r("${self:service}-${sls:stage}"), "shop-dev");
  assert.equal(r("${self:provider.stage}"), "dev");
  assert.equal(r("${env:HOME_DIR}"), "/home/x");
  assert.equal(r("${env:MISSING, 'fallback'}"), "fallback");
  assert.equal(r("${env:EMPTY, plain}"), "plain");
  assert.equal(r("${opt:memory, env:MISSING, 1024}"), 1024);
  assert.equal(r("${aws:region}"), "eu-west-1");
  assert.equal(r("${file(./config.${sls:stage}.json):DB}"), "dev-db");
  assert.equal(r("${self:custom.cfg.nested.size}"), 3);
  assert.deepEqual(r("${self:custom.cfg.nested}"), { size: 3 });
  assert.equal(r("${strToBool(true)}"), true);
  assert.equal(r("${ssm:/param, 'local'}"), "local");
});

Deno.test("ssm, cf and unknown variables stop start-up naming the key and the variable; in an environment they leave the variable out", () => {
  const bad = (key: string, value: string, message: string) => {
    assert.throws(
      () =>
        read(
          `service: shop\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one:\n    handler: handler.main\n    ${key}: "${value}"\n`,
        ),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.message, message);
        return true;
      },
    );
  };
  bad(
    "timeout",
    "${ssm:/app/timeout}",
    "/s/serverless.yml: functions.one.timeout: ${ssm:/app/timeout}: ssm:/app/timeout needs AWS or the Serverless Dashboard, which lrp does not call; give the variable a fallback (${ssm:/app/timeout, 'local value'}) or set the key locally",
  );
  bad("timeout", "${env:NOPE}", "/s/serverless.yml: functions.one.timeout: ${env:NOPE} has no value");
  bad(
    "timeout",
    "${vault:x}",
    '/s/serverless.yml: functions.one.timeout: ${vault:x}: unknown variable source "vault"',
  );
  const plan = read(
    `service: shop\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one:\n    handler: handler.main\n    environment: {A: "\${cf:other.Out}", B: ok}\n`,
  );
  assert.deepEqual(plan.functions[0]!.environment, { B: "ok" });
  assert.deepEqual(plan.warnings, [
    "functions.one.environment.A: ${cf:other.Out}: cf:other.Out needs AWS or the Serverless Dashboard, which lrp does not call; give the variable a fallback (${cf:other.Out, 'local value'}) or set the key locally; the variable is left out",
  ]);
});

Deno.test("a missing handler file, a missing runtime, a duplicate route and a bad httpApi string are precise errors; TypeScript sources run on deno", () => {
  const fails = (text: string, message: string) =>
    assert.throws(() => read(text), (e: Error) => {
      assert.equal(e.message, message);
      return true;
    });
  fails(
    "service: s\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one: {handler: nope.main}\n",
    "/s/serverless.yml: functions.one.handler: /s has no file nope (.js, .mjs, .cjs)",
  );
  fails(
    "service: s\nfunctions:\n  one: {handler: handler.main}\n",
    "/s/serverless.yml: functions.one.runtime: missing, and no provider.runtime",
  );
  fails(
    "service: s\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one: {handler: handler.main, events: [{httpApi: 'GET /a'}]}\n  two: {handler: handler.main, events: [{httpApi: 'GET /a'}]}\n",
    "/s/serverless.yml: functions.two: route GET /a is also declared by functions.one",
  );
  fails(
    "service: s\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one: {handler: handler.main, events: [{httpApi: 'GET'}]}\n",
    '/s/serverless.yml: functions.one.events[0].httpApi: "GET" must be "METHOD /path" or "*"',
  );
  fails(
    "service: s\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one: {handler: handler.main, events: [{http: 'GET a/{x+}/b'}]}\n",
    '/s/serverless.yml: functions.one.events[0].http: "GET /a/{x+}/b": the greedy variable {x+} must be the last segment',
  );
  const plan = read(
    "service: s\nprovider: {runtime: nodejs20.x}\nfunctions:\n  one: {handler: src/ts.handler}\n",
  );
  assert.deepEqual([plan.functions[0]!.lrpRuntime, plan.functions[0]!.codeNote], [
    "deno",
    "TypeScript source src/ts.ts run by deno",
  ]);
});

Deno.test(".env variables feed ${env:…} under the real environment; .env.<stage> is read for that stage", () => {
  assert.deepEqual(parseDotenv("# c\nexport A=1\nB = 'two words'\nC=\"q\"\nD=x # note\nbad line\n"), {
    A: "1",
    B: "two words",
    C: "q",
    D: "x",
  });
  const seen: string[] = [];
  const plan = readServerless(
    parseTemplateText(
      "service: s\nprovider: {runtime: nodejs20.x, stage: qa}\nfunctions:\n  one:\n    handler: handler.main\n    environment: {A: '${env:A}', B: '${env:B}'}\n",
      "/s/serverless.yml",
    ),
    {
      source: "/s/serverless.yml",
      region: "us-east-1",
      env: { B: "real" },
      files,
      dotenv: (stage) => {
        seen.push(stage);
        return { A: "from-dotenv", B: "from-dotenv" };
      },
    },
  );
  assert.deepEqual(seen, ["qa"]);
  assert.deepEqual(plan.functions[0]!.environment, { A: "from-dotenv", B: "real" });
});
