/**
 * A plan translated into the `functions:` rules an lrp.yaml would hold, the
 * normal parser accepting them, the route table in words, and
 * `--parameter-overrides` parsing.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { describePlan, type Plan, planToConfig } from "../../lib/templates/plan.ts";
import { findTemplate, parseOverrides } from "../../lib/templates/start_api.ts";

const ROUTE = { notEnforced: [] as string[] };

function plan(): Plan {
  return {
    source: "/p/template.yaml",
    format: "sam",
    apis: {
      Http: {
        id: "Http",
        kind: "http",
        stage: "$default",
        stageVariables: { v: "1" },
        cors: { allow_origins: ["*"] },
        notEnforced: [],
      },
      Rest: {
        id: "Rest",
        kind: "rest",
        stage: "Prod",
        stageVariables: {},
        notEnforced: ["custom domain (x)"],
      },
    },
    functions: [
      {
        id: "Items",
        name: "items-fn",
        runtime: "nodejs20.x",
        lrpRuntime: "nodejs",
        handler: "app.handler",
        code: "/p/src",
        timeoutS: 3,
        memoryMb: 128,
        environment: { A: "1" },
        routes: [
          { key: "GET /items/{id}", api: "Http", payloadFormat: "2.0", ...ROUTE },
          { key: "$default", api: "Http", payloadFormat: "1.0", ...ROUTE },
          { key: "POST /legacy", api: "Rest", payloadFormat: "1.0", notEnforced: ["API key (x)"] },
        ],
        functionUrl: { invokeMode: "BUFFERED", notEnforced: [] },
        where: "Resources.Items",
      },
      {
        id: "Java",
        name: "Java",
        runtime: "java21",
        notServed: "runtime java21: not here",
        handler: "",
        code: "",
        timeoutS: 3,
        memoryMb: 128,
        environment: {},
        routes: [],
        where: "Resources.Java",
      },
      {
        id: "Lonely",
        name: "Lonely",
        runtime: "python3.12",
        lrpRuntime: "python",
        handler: "a.b",
        code: "/p/src",
        timeoutS: 3,
        memoryMb: 128,
        environment: {},
        routes: [],
        where: "Resources.Lonely",
      },
    ],
    warnings: ["resources not emulated (ignored): T (AWS::DynamoDB::Table)"],
  };
}

Deno.test("a plan becomes one functions: rule per function, API and payload format, plus its Function URL host", () => {
  const common = {
    name: "items-fn",
    runtime: "nodejs",
    handler: "app.handler",
    code: "/p/src",
    timeout: 3,
    memory: 128,
    environment: { A: "1" },
    concurrency: 10,
    watch_code: true,
  };
  assert.deepEqual(planToConfig(plan(), { stageInPath: false, watch: true, hostname: "*" }), [
    {
      hostname: "*",
      ...common,
      routes: ["GET /items/{id}"],
      api: "http",
      api_id: "Http",
      stage: "$default",
      stage_variables: { v: "1" },
      cors: { allow_origins: ["*"] },
      payload_format: "2.0",
      stage_in_path: false,
    },
    {
      hostname: "*",
      ...common,
      routes: ["$default"],
      api: "http",
      api_id: "Http",
      stage: "$default",
      stage_variables: { v: "1" },
      cors: { allow_origins: ["*"] },
      payload_format: "1.0",
      stage_in_path: false,
    },
    {
      hostname: "*",
      ...common,
      routes: ["POST /legacy"],
      api: "rest",
      api_id: "Rest",
      stage: "Prod",
      payload_format: "1.0",
      stage_in_path: false,
    },
    { hostname: "items-fn.localhost", ...common },
  ]);
});

Deno.test("the translated rules pass the normal configuration parser", () => {
  const functions = planToConfig(plan(), { stageInPath: true, watch: false, hostname: "*" });
  const config = parseConfig(JSON.stringify({ functions }), { source: "/p/template.yaml" });
  assert.deepEqual(config.rules.map((r) => [r.hostname, r.kind === "function" && r.name, r.payloadFormat]), [
    ["*", "items-fn", "2.0"],
    ["*", "items-fn", "1.0"],
    ["*", "items-fn", "1.0"],
    ["items-fn.localhost", "items-fn", "2.0"],
  ]);
});

Deno.test("the route table says where each route is served, by which runtime, what is not served or routed, and what is not enforced", () => {
  assert.deepEqual(describePlan(plan(), "http://127.0.0.1:3000", true, { nodejs: "20.11.1" }), [
    "GET http://127.0.0.1:3000/items/{id} → Items (nodejs20.x on node 20.11.1, app.handler) [HTTP API Http]",
    "ANY http://127.0.0.1:3000/* ($default) → Items (nodejs20.x on node 20.11.1, app.handler) [HTTP API Http, payload 1.0]",
    "POST http://127.0.0.1:3000/Prod/legacy → Items (nodejs20.x on node 20.11.1, app.handler) [REST Rest, stage Prod]",
    "ANY http://items-fn.localhost:3000/* → Items (nodejs20.x on node 20.11.1, app.handler) [Function URL]",
    "not served: Java: runtime java21: not here",
    "not routed: Lonely (Resources.Lonely) has no HttpApi or Api event",
    "warning: POST /legacy → Items: not enforced locally: custom domain (x); API key (x)",
    "warning: resources not emulated (ignored): T (AWS::DynamoDB::Table)",
  ]);
});

Deno.test("--parameter-overrides takes K=V words, quoted values and SAM's ParameterKey=,ParameterValue= form", () => {
  assert.deepEqual(parseOverrides(["A=1 B='two words'", "ParameterKey=C,ParameterValue=x=y", 'D="q"']), {
    A: "1",
    B: "two words",
    C: "x=y",
    D: "q",
  });
  assert.throws(() => parseOverrides(["novalue"]), /--parameter-overrides: "novalue" is not KEY=VALUE/);
});

Deno.test("without --template, the first of .aws-sam/build/template.yaml, template.yaml, template.yml, serverless.yml, serverless.yaml", () => {
  const has = (...names: string[]) => ({
    isFile: (p: string) => names.includes(p),
    isDirectory: () => false,
  });
  assert.equal(
    findTemplate(undefined, has("serverless.yml", "template.yaml", ".aws-sam/build/template.yaml")),
    ".aws-sam/build/template.yaml",
  );
  assert.equal(findTemplate(undefined, has("serverless.yml", "template.yml")), "template.yml");
  assert.equal(findTemplate(undefined, has("serverless.yaml", "serverless.yml")), "serverless.yml");
  assert.equal(findTemplate("mine.yaml", has()), "mine.yaml");
});
