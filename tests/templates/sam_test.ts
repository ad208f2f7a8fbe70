/**
 * The SAM reader, rule by rule: Globals merging, function defaults and
 * names, HttpApi and Api events, the APIs' stages, variables and CORS,
 * Function URLs, runtimes lrp cannot run, S3 and image packages, esbuild
 * builds, what is not enforced, and one precise message per mistake. The
 * file system is a fake listing the folders and files that exist.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/types.ts";
import type { FunctionPlan, Plan } from "../../lib/templates/plan.ts";
import type { Files } from "../../lib/templates/runtimes.ts";
import { mergeGlobals } from "../../lib/templates/sam_apis.ts";
import { readSam } from "../../lib/templates/sam.ts";
import { parseTemplateText } from "../../lib/templates/yaml.ts";

const FILES = new Set([
  "/p/src/app.js",
  "/p/src/hello.py",
  "/p/src/bootstrap",
  "/p/ts/app.ts",
  "/p/.aws-sam/build/Built/app.js",
]);
const DIRS = new Set(["/p", "/p/src", "/p/ts", "/p/.aws-sam/build/Built"]);
const files: Files = { isFile: (p) => FILES.has(p), isDirectory: (p) => DIRS.has(p) };

function read(text: string, overrides: Record<string, string> = {}): Plan {
  return readSam(parseTemplateText(text, "/p/template.yaml"), {
    source: "/p/template.yaml",
    parameterOverrides: overrides,
    region: "eu-west-1",
    files,
  });
}

function fails(text: string, message: string) {
  assert.throws(() => read(text), (e: Error) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

const fn = (props: string, events = "") =>
  `Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n${
    props.split("\n").map((l) => `      ${l}`).join("\n")
  }\n${events ? `      Events:\n${events.split("\n").map((l) => `        ${l}`).join("\n")}\n` : ""}`;

const ZIP = "Runtime: nodejs20.x\nHandler: app.handler\nCodeUri: src";

Deno.test("Globals merge as SAM merges them: primitives replaced, maps merged (resource wins), lists prepended", () => {
  assert.deepEqual(
    mergeGlobals(
      { Timeout: 3, Environment: { Variables: { A: "g", B: "g" } }, Layers: ["g1"], Tags: { Ref: "T" } },
      { Timeout: 9, Environment: { Variables: { B: "r", C: "r" } }, Layers: ["r1"], Tags: { x: "1" } },
    ),
    {
      Timeout: 9,
      Environment: { Variables: { A: "g", B: "r", C: "r" } },
      Layers: ["g1", "r1"],
      Tags: { x: "1" },
    },
  );
});

Deno.test("a function: defaults of Timeout 3 s and MemorySize 128, its logical id as name, Globals applied", () => {
  const plan = read(
    `Globals:\n  Function:\n    Runtime: nodejs20.x\n    Environment:\n      Variables: {A: g, B: g}\n` +
      fn("Handler: app.handler\nCodeUri: src/\nEnvironment:\n  Variables: {B: r}"),
  );
  const expected: FunctionPlan = {
    id: "Fn",
    name: "Fn",
    runtime: "nodejs20.x",
    lrpRuntime: "nodejs",
    handler: "app.handler",
    code: "/p/src",
    timeoutS: 3,
    memoryMb: 128,
    environment: { A: "g", B: "r" },
    routes: [],
    where: "Resources.Fn",
  };
  assert.deepEqual(plan.functions, [expected]);
  assert.deepEqual(plan.apis, {});
  assert.deepEqual(plan.warnings, []);
});

Deno.test("HttpApi events: 2.0 by default, PayloadFormatVersion 1.0, neither Path nor Method is $default, the implicit API", () => {
  const plan = read(
    fn(
      `${ZIP}\nFunctionName: !Sub "\${AWS::StackName}-fn"\nTimeout: 10\nMemorySize: 512\nReservedConcurrentExecutions: 2`,
      "A:\n  Type: HttpApi\n  Properties: {Path: '/items/{id}', Method: get}\n" +
        "B:\n  Type: HttpApi\n  Properties: {Path: /old, Method: ANY, PayloadFormatVersion: '1.0'}\n" +
        "C:\n  Type: HttpApi",
    ),
  );
  const f = plan.functions[0]!;
  assert.deepEqual([f.name, f.timeoutS, f.memoryMb, f.concurrency], ["local-fn", 10, 512, 2]);
  assert.deepEqual(f.routes, [
    { key: "GET /items/{id}", api: "ServerlessHttpApi", payloadFormat: "2.0", notEnforced: [] },
    { key: "ANY /old", api: "ServerlessHttpApi", payloadFormat: "1.0", notEnforced: [] },
    { key: "$default", api: "ServerlessHttpApi", payloadFormat: "2.0", notEnforced: [] },
  ]);
  assert.deepEqual(plan.apis, {
    ServerlessHttpApi: {
      id: "ServerlessHttpApi",
      kind: "http",
      stage: "$default",
      stageVariables: {},
      notEnforced: [],
    },
  });
});

Deno.test("Api events: REST, payload 1.0, the implicit API's stage Prod with Globals.Api; an explicit API's StageName, Variables and quoted Cors", () => {
  const plan = read(
    `Globals:\n  Api:\n    Cors: "'*'"\nParameters:\n  Stage: {Type: String, Default: dev}\n` +
      `Resources:\n  Rest:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: !Ref Stage\n` +
      `      Variables: {mode: test}\n      Cors: {AllowOrigin: "'https://a.example'", AllowMethods: "'GET,POST'", MaxAge: "'60'"}\n` +
      fn(
        ZIP,
        "A:\n  Type: Api\n  Properties: {Path: /a, Method: get}\nB:\n  Type: Api\n  Properties: {Path: /b, Method: post, RestApiId: !Ref Rest}",
      ).replace("Resources:\n", ""),
  );
  assert.deepEqual(plan.functions[0]!.routes, [
    { key: "GET /a", api: "ServerlessRestApi", payloadFormat: "1.0", notEnforced: [] },
    { key: "POST /b", api: "Rest", payloadFormat: "1.0", notEnforced: [] },
  ]);
  assert.deepEqual(plan.apis, {
    Rest: {
      id: "Rest",
      kind: "rest",
      stage: "dev",
      stageVariables: { mode: "test" },
      cors: { allow_origins: ["https://a.example"], allow_methods: ["GET", "POST"], max_age: 60 },
      notEnforced: [],
    },
    ServerlessRestApi: {
      id: "ServerlessRestApi",
      kind: "rest",
      stage: "Prod",
      stageVariables: {},
      cors: { allow_origins: ["*"] },
      notEnforced: [],
    },
  });
});

Deno.test("an HttpApi resource: StageName, StageVariables, CorsConfiguration; its authorizer and domain are listed as not enforced", () => {
  const plan = read(
    `Resources:\n  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      StageName: live\n` +
      `      StageVariables: {v: "1"}\n      CorsConfiguration: true\n      Domain: {DomainName: api.example.com}\n` +
      `      Auth:\n        DefaultAuthorizer: Jwt\n        Authorizers:\n          Jwt: {JwtConfiguration: {issuer: x}}\n` +
      fn(
        ZIP,
        "A:\n  Type: HttpApi\n  Properties: {Path: /a, Method: get, ApiId: !Ref Http, Auth: {Authorizer: Other}}",
      ).replace("Resources:\n", ""),
  );
  assert.deepEqual(plan.apis.Http, {
    id: "Http",
    kind: "http",
    stage: "live",
    stageVariables: { v: "1" },
    cors: { allow_origins: ["*"] },
    notEnforced: [
      "authorizer Jwt (JWT) (every request is let through)",
      "custom domain (served on lrp's host and port)",
    ],
  });
  assert.deepEqual(plan.functions[0]!.routes[0]!.notEnforced, [
    "authorizer Other (every request is let through)",
  ]);
});

Deno.test("FunctionUrlConfig gives a Function URL with its CORS and invoke mode; AWS_IAM and layers are not enforced", () => {
  const plan = read(
    fn(
      `${ZIP}\nLayers: [arn:aws:lambda:eu-west-1:123456789012:layer:deps:3]\nFunctionUrlConfig:\n  AuthType: AWS_IAM\n  InvokeMode: RESPONSE_STREAM\n  Cors: {AllowOrigins: ["*"]}`,
    ),
  );
  assert.deepEqual(plan.functions[0]!.functionUrl, {
    cors: { allow_origins: ["*"] },
    invokeMode: "RESPONSE_STREAM",
    notEnforced: [
      "AuthType AWS_IAM (requests are not checked for a SigV4 signature)",
      "1 layer(s) not loaded",
    ],
  });
});

Deno.test("functions lrp does not run are listed with the reason: java, an image, code in S3; unknown resources are listed", () => {
  const plan = read(
    `Resources:\n  Java:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: java21, Handler: a.B::handle, CodeUri: src}\n` +
      `  Image:\n    Type: AWS::Serverless::Function\n    Properties: {PackageType: Image, ImageUri: repo:tag}\n` +
      `  S3:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.12, Handler: a.b, CodeUri: s3://bucket/key.zip}\n` +
      `  Table:\n    Type: AWS::DynamoDB::Table\n  Queue:\n    Type: AWS::SQS::Queue\n`,
  );
  assert.deepEqual(plan.functions.map((f) => [f.id, f.lrpRuntime, f.notServed]), [
    [
      "Java",
      undefined,
      "runtime java21: lrp runs nodejs, python and provided functions; serve java functions through an RIE container and a local: rule (docs/start-api.md)",
    ],
    [
      "Image",
      undefined,
      'PackageType Image: lrp runs Zip packages itself; run the image (its RIE answers on port 8080) and serve it with a local: rule in an lrp.yaml (docs/start-api.md, "Image functions")',
    ],
    [
      "S3",
      undefined,
      'CodeUri is an S3 location ("s3://bucket/key.zip"); lrp serves code from a local folder',
    ],
  ]);
  assert.deepEqual(plan.warnings, [
    "Resources.S3.Properties.CodeUri: S3 skipped: its code is in S3",
    "resources not emulated (ignored): Table (AWS::DynamoDB::Table), Queue (AWS::SQS::Queue)",
  ]);
});

Deno.test("runtimes: python3.12 runs on python, provided.al2023 on its bootstrap; esbuild output is used when built, TypeScript source on deno otherwise", () => {
  const plan = read(
    `Resources:\n  Py:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.12, Handler: hello.handler, CodeUri: src}\n` +
      `  Go:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: provided.al2023, Handler: bootstrap, CodeUri: src}\n` +
      `  Built:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: esbuild}\n    Properties: {Runtime: nodejs20.x, Handler: app.handler, CodeUri: ts}\n` +
      `  Source:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: esbuild}\n    Properties: {Runtime: nodejs20.x, Handler: app.handler, CodeUri: ts}\n`,
  );
  assert.deepEqual(plan.functions.map((f) => [f.id, f.lrpRuntime, f.code, f.codeNote]), [
    ["Py", "python", "/p/src", undefined],
    ["Go", "provided", "/p/src", undefined],
    ["Built", "nodejs", "/p/.aws-sam/build/Built", "from .aws-sam/build/Built (sam build's output)"],
    ["Source", "deno", "/p/ts", "TypeScript source app.ts run by deno (no sam build output)"],
  ]);
});

Deno.test("an environment variable that cannot be resolved is left out with a warning; elsewhere it stops start-up naming resource and property", () => {
  const plan = read(
    `Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n` +
      fn(`${ZIP}\nEnvironment:\n  Variables:\n    STREAM: !GetAtt Table.StreamArn\n    NAME: !Ref Table`)
        .replace(
          "Resources:\n",
          "",
        ),
  );
  assert.deepEqual(plan.functions[0]!.environment, { NAME: "Table" });
  assert.equal(
    plan.warnings[0],
    "Resources.Fn.Properties.Environment.Variables.STREAM: cannot be resolved locally: Fn::GetAtt Table.StreamArn (AWS::DynamoDB::Table) is only known once deployed; the variable is left out",
  );
  fails(
    fn(`${ZIP}\nTimeout: !ImportValue shared-timeout`),
    `/p/template.yaml: Resources.Fn.Properties.Timeout: cannot be resolved locally: Fn::ImportValue "shared-timeout" is another stack's output, which lrp cannot read locally`,
  );
});

Deno.test("Parameters come from --parameter-overrides, then Default; a resource whose Condition is false is left out", () => {
  const text =
    `Parameters:\n  Mem: {Type: Number, Default: 256}\nConditions:\n  On: !Equals [!Ref Mem, 512]\n` +
    fn(`${ZIP}\nMemorySize: !Ref Mem`).replace(
      "Resources:\n",
      "Resources:\n  Extra:\n    Type: AWS::Serverless::Function\n    Condition: On\n    Properties: {Runtime: java21}\n",
    );
  assert.deepEqual(read(text).functions.map((f) => [f.id, f.memoryMb]), [["Fn", 256]]);
  assert.deepEqual(read(text, { Mem: "512" }).functions.map((f) => [f.id, f.memoryMb]), [["Extra", 128], [
    "Fn",
    512,
  ]]);
});

Deno.test("each mistake is one message naming the file, resource and property", () => {
  const at = "/p/template.yaml: Resources.Fn";
  fails("Transform: x", "/p/template.yaml: Resources: missing; this is not a SAM template");
  fails(
    fn("Runtime: nodejs20.x\nHandler: app.handler"),
    `${at}.Properties.CodeUri: missing (a local folder, relative to the template)`,
  );
  fails(
    fn("Runtime: nodejs20.x\nHandler: app.handler\nCodeUri: nope"),
    `${at}.Properties.CodeUri: no such folder: /p/nope`,
  );
  fails(
    fn("Runtime: nodejs20.x\nHandler: missing.handler\nCodeUri: src"),
    `${at}.Properties.Handler: /p/src has no file missing.js, .mjs or .cjs (Handler missing.handler)`,
  );
  fails(
    fn("Handler: app.handler\nCodeUri: src"),
    `${at}.Properties.Runtime: missing (required for a Zip package)`,
  );
  fails(
    fn(ZIP, "A:\n  Type: HttpApi\n  Properties: {Path: /a}"),
    `${at}.Properties.Events.A.Properties.Method: missing (give both Path and Method, or neither for the $default route)`,
  );
  fails(
    fn(ZIP, "A:\n  Type: Api\n  Properties: {Method: get}"),
    `${at}.Properties.Events.A.Properties.Path: missing (required)`,
  );
  fails(
    fn(ZIP, "A:\n  Type: HttpApi\n  Properties: {Path: /events/, Method: get}"),
    `${at}.Properties.Events.A.Properties.Path: "/events/": the path must not end with / (API Gateway refuses it)`,
  );
  fails(
    fn(ZIP, "A:\n  Type: HttpApi\n  Properties: {Path: /a, Method: get, ApiId: Nope}"),
    `${at}.Properties.Events.A.Properties.ApiId: Nope is not an AWS::Serverless::HttpApi in this template`,
  );
  fails(
    fn(
      ZIP,
      "A:\n  Type: HttpApi\n  Properties: {Path: /a, Method: get}\nB:\n  Type: HttpApi\n  Properties: {Path: /a, Method: GET}",
    ),
    `${at}: route GET /a is also declared by Resources.Fn; a route key is served once`,
  );
});

Deno.test("other event types are listed as not emulated", () => {
  const plan = read(fn(ZIP, "Q:\n  Type: SQS\n  Properties: {Queue: arn}"));
  assert.deepEqual(plan.warnings, [
    "Resources.Fn.Properties.Events.Q: event type SQS is not emulated (only HttpApi and Api events are served)",
  ]);
});

Deno.test("InlineCode is kept to be written into a folder of its own, named after the handler (CommonJS .js for Node.js)", () => {
  const plan = read(fn("Runtime: nodejs20.x\nHandler: index.handler\nInlineCode: 'exports.handler = 1'"));
  const f = plan.functions[0]!;
  assert.deepEqual([f.inlineCode, f.lrpRuntime, f.codeNote], [
    { file: "index.js", text: "exports.handler = 1" },
    "nodejs",
    "InlineCode",
  ]);
});
