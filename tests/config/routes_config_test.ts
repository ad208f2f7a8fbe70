/**
 * The `routes:`, `api:`, `stage:`, `stage_variables:`, `api_id:`,
 * `stage_in_path:` and `cors:` keys of rules: defaults, and one precise
 * error per mistake, naming both rules of a conflict and the line.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { ConfigError } from "../../lib/config/types.ts";
import { describeRules } from "../../lib/config/describe.ts";

const parse = (text: string) => parseConfig(text, { source: "lrp.yaml" });

function rejects(text: string, message: string) {
  assert.throws(() => parse(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

const local = (host: string, extra: string) =>
  `  - hostname: ${host}\n    endpoint: http://rie:8080\n${extra}`;

Deno.test("a rule with routes defaults to an HTTP API on the $default stage, payload 2.0", () => {
  const rule = parse(`local:\n${local("api.test", '    routes: ["get /pets/{id}", "$default"]\n')}`)
    .rules[0]!;
  assert.deepEqual(rule.routes?.map((k) => k.key), ["GET /pets/{id}", "$default"]);
  assert.deepEqual(rule.api, { kind: "http", id: "", stage: "$default", stageInPath: true });
  assert.equal(rule.payloadFormat, "2.0");
  assert.equal(rule.cors, undefined);
});

Deno.test("a REST API speaks 1.0 on stage Prod by default; an HTTP API may ask for 1.0", () => {
  const config = parse(`local:
${local("rest.test", '    api: rest\n    routes: ["GET /a"]\n')}${
    local("http.test", '    routes: ["GET /a"]\n    payload_format: "1.0"\n    stage: dev\n')
  }`);
  assert.equal(config.rules[0]!.payloadFormat, "1.0");
  assert.deepEqual(config.rules[0]!.api, { kind: "rest", id: "", stage: "Prod", stageInPath: true });
  assert.equal(config.rules[1]!.payloadFormat, "1.0");
  assert.equal(config.rules[1]!.api?.stage, "dev");
});

Deno.test("rules without routes read exactly as before, and cors is valid on them", () => {
  const rule = parse(`local:\n${local("fn.test", "    cors: { allow_origins: ['*'], max_age: 300 }\n")}`)
    .rules[0]!;
  assert.equal(rule.routes, undefined);
  assert.equal(rule.api, undefined);
  assert.deepEqual(rule.cors, {
    allowOrigins: ["*"],
    allowMethods: [],
    allowHeaders: [],
    exposeHeaders: [],
    allowCredentials: false,
    maxAge: 300,
  });
});

Deno.test("two rules defining the same route key on one host: an error naming both rules and the line", () => {
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /pets"]\n')}${
      local("api.test", '    routes: ["POST /x", "GET /pets"]\n')
    }`,
    'lrp.yaml:7: local[1].routes[1]: route "GET /pets" is defined twice: local[1] and local[0] (line 2) on "api.test"',
  );
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /pets/{id}"]\n')}${
      local("api.test", '    routes: ["GET /pets/{name}"]\n')
    }`,
    'lrp.yaml:7: local[1].routes[0]: route "GET /pets/{name}" matches the same requests as "GET /pets/{id}": local[1] and local[0] (line 2) on "api.test"',
  );
  rejects(
    `local:\n${local("api.test", '    routes: ["$default"]\n')}${
      local("api.test", '    api: rest\n    api_id: r\n    routes: ["GET /a"]\n')
    }${local("api.test", '    api_id: h\n    routes: ["$default"]\n')}`,
    'lrp.yaml:13: local[2].routes[0]: a second $default route (one per host): local[2] and local[0] (line 2) on "api.test"',
  );
});

Deno.test("a greedy variable that is not last, or a malformed key, names the key and the reason", () => {
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /{proxy+}/x"]\n')}`,
    'lrp.yaml:4: local[0].routes[0]: "GET /{proxy+}/x" is not a route key: the greedy variable {proxy+} must be the last segment',
  );
  rejects(
    `aws:\n  - hostname: api.test\n    function_name: fn\n    routes: ["GET pets"]\n`,
    'lrp.yaml:4: aws[0].routes[0]: "GET pets" is not a route key: the path must start with /',
  );
  rejects(
    `local:\n${local("api.test", "    routes: []\n")}`,
    'lrp.yaml:4: local[0].routes: must be a non-empty list of route keys such as "GET /pets/{id}"',
  );
});

Deno.test("rules of one API that disagree on api, stage, stage_variables or cors are refused", () => {
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /a"]\n')}${
      local("api.test", '    api: rest\n    routes: ["GET /b"]\n')
    }`,
    'lrp.yaml:7: local[1].api: local[1] and local[0] (line 2) form one API on "api.test" and must agree on api',
  );
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /a"]\n    stage: prod\n')}${
      local("api.test", '    routes: ["GET /b"]\n    stage: dev\n')
    }`,
    'lrp.yaml:9: local[1].stage: local[1] and local[0] (line 2) form one API on "api.test" and must agree on stage',
  );
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /a"]\n    cors: { allow_origins: ["*"] }\n')}${
      local("api.test", '    routes: ["GET /b"]\n')
    }`,
    'lrp.yaml:6: local[1].cors: local[1] and local[0] (line 2) form one API on "api.test" and must agree on cors',
  );
  // Several api_ids on one host are several APIs: they may differ.
  const ok = parse(
    `local:\n${local("api.test", '    routes: ["GET /a"]\n')}${
      local("api.test", '    api: rest\n    api_id: Rest\n    routes: ["GET /b"]\n')
    }`,
  );
  assert.equal(ok.rules.length, 2);
});

Deno.test("the API keys need routes; a rule without routes cannot share its host", () => {
  rejects(
    `local:\n${local("api.test", "    stage: prod\n")}`,
    "lrp.yaml:4: local[0].stage: only applies to a rule with routes",
  );
  rejects(
    `local:\n${local("api.test", '    routes: ["GET /a"]\n')}${local("api.test", "")}`,
    'lrp.yaml:5: local[1].hostname: duplicate hostname "api.test" (also at lrp.yaml:2); rules may share a host only when each has routes',
  );
});

Deno.test("REST API mistakes: another payload format, a $default route, the $default stage", () => {
  rejects(
    `local:\n${local("api.test", '    api: rest\n    payload_format: "2.0"\n    routes: ["GET /a"]\n')}`,
    'lrp.yaml:5: local[0].payload_format: a REST API (api: rest) speaks payload format "1.0"',
  );
  rejects(
    `local:\n${local("api.test", '    api: rest\n    routes: ["$default"]\n')}`,
    "lrp.yaml:5: local[0].routes[0]: a REST API has no $default route",
  );
  rejects(
    `local:\n${local("api.test", '    api: rest\n    stage: $default\n    routes: ["GET /a"]\n')}`,
    'lrp.yaml:5: local[0].stage: "$default" is not a stage name (letters, digits, - _)',
  );
  rejects(
    `local:\n${local("api.test", '    api: graphql\n    routes: ["GET /a"]\n')}`,
    'lrp.yaml:4: local[0].api: "graphql" must be "http" or "rest"',
  );
});

Deno.test("cors mistakes: unknown key, bad origin, credentials with *, max_age out of range", () => {
  rejects(
    `local:\n${local("api.test", "    cors: { allow_origin: ['*'] }\n")}`,
    "lrp.yaml:4: local[0].cors.allow_origin: unknown key (known: allow_origins, allow_methods, allow_headers, expose_headers, max_age, allow_credentials)",
  );
  rejects(
    `local:\n${local("api.test", "    cors: { allow_origins: [example.com] }\n")}`,
    'lrp.yaml:4: local[0].cors.allow_origins[0]: "example.com" is not an origin such as "https://example.com", "https://*" or "*"',
  );
  rejects(
    `local:\n${local("api.test", "    cors: { allow_origins: ['*'], allow_credentials: true }\n")}`,
    'lrp.yaml:4: local[0].cors.allow_credentials: cannot be true while allow_origins holds "*" (browsers refuse it)',
  );
  rejects(
    `local:\n${local("api.test", "    cors: { max_age: -1 }\n")}`,
    "lrp.yaml:4: local[0].cors.max_age: -1 must be 0 to 86400 (seconds)",
  );
});

Deno.test("lrp check shows each host's routes in the order they are tried", () => {
  const config = parse(`local:
${local("api.test", '    routes: ["$default", "ANY /{proxy+}", "GET /pets/{id}"]\n')}  - hostname: api.test
    endpoint: http://other:8080
    routes: ["GET /pets/dog", "GET /pets/{proxy+}"]
${
    local(
      "rest.test",
      '    api: rest\n    api_id: Shop\n    routes: ["POST /orders"]\n    cors: { allow_origins: ["*"] }\n',
    )
  }`);
  assert.deepEqual(describeRules(config), [
    "api.test -> local http://rie:8080 (concurrency 1, queue 1000) [http api, stage $default]",
    "api.test -> local http://other:8080 (concurrency 1, queue 1000) [http api, stage $default]",
    "rest.test -> local http://rie:8080 (concurrency 1, queue 1000) [payload 1.0] [rest api Shop, stage Prod] [cors]",
    "api.test routes, in the order they are tried:",
    "  GET /pets/dog -> local http://other:8080",
    "  GET /pets/{id} -> local http://rie:8080",
    "  GET /pets/{proxy+} -> local http://other:8080",
    "  ANY /{proxy+} -> local http://rie:8080",
    "  $default -> local http://rie:8080",
    "rest.test routes, in the order they are tried:",
    "  POST /Prod/orders -> local http://rie:8080",
  ]);
});
