/**
 * `lrp start-api` end to end: the three example projects served by a real
 * lrp process (`deno run main.ts start-api --template …`), their Node.js and
 * Python handlers run by lrp, each request answered with the event AWS would
 * have sent; `lrp check --template`; bad templates; a template edited while
 * served; `--warm-containers EAGER`.
 */
import assert from "node:assert/strict";
import { ROOT, runLrp, startLrpChild, waitFor } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

type Json = Record<string, unknown>;

async function get(
  port: number,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

Deno.test("start-api serves examples/sam-http-api: routes, path parameters, $default, Parameters, !Sub, Globals, stage variables, CORS", async () => {
  await using lrp = await startLrpChild([
    "start-api",
    "--template",
    "examples/sam-http-api/template.yaml",
    "--port",
    "0",
  ]);
  const base = `http://127.0.0.1:${lrp.port}`;
  await waitFor("the route table", () => lrp.stdout.length >= 4 ? true : undefined);
  assert.match(
    lrp.stdout[0]!,
    new RegExp(
      `^GET ${base}/items/\\{id\\} → ItemsFunction \\(nodejs20\\.x on node \\d+\\.\\d+\\.\\d+, items\\.handler\\) \\[HTTP API Api\\]$`,
    ),
  );
  assert.equal(lrp.stdout[1]!.startsWith(`POST ${base}/items → ItemsFunction (nodejs20.x on node `), true);
  assert.match(
    lrp.stdout[2]!,
    /^GET http:\/\/127\.0\.0\.1:\d+\/hello\/\{name\} → HelloFunction \(python3\.12 on python \d+\.\d+\.\d+, hello\.handler\)/,
  );
  assert.equal(
    lrp.stdout[3]!.startsWith(`ANY ${base}/* ($default) → FallbackFunction (nodejs20.x on node `),
    true,
  );

  const item = await get(lrp.port, "/items/42");
  assert.equal(item.status, 200);
  assert.deepEqual(item.json, {
    routeKey: "GET /items/{id}",
    id: "42",
    stage: "$default",
    rawPath: "/items/42",
    table: "items-us-east-1",
    stageVariables: { flavour: "vanilla" },
    received: null,
  });
  const posted = await get(lrp.port, "/items", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"name":"pen"}',
  });
  assert.equal(posted.status, 201);
  assert.deepEqual(posted.json.received, { name: "pen" });
  assert.equal(posted.json.routeKey, "POST /items");

  const hello = await get(lrp.port, "/hello/ada%20l");
  assert.deepEqual(hello.json, {
    message: "hello, ada l",
    routeKey: "GET /hello/{name}",
    function: "HelloFunction",
  });

  const other = await get(lrp.port, "/nothing/here");
  assert.equal(other.status, 404);
  assert.deepEqual(other.json, { routeKey: "$default", path: "/nothing/here", function: "local-fallback" });

  const preflight = await fetch(`${base}/items`, {
    method: "OPTIONS",
    headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
  });
  await preflight.body?.cancel();
  assert.equal(preflight.headers.get("access-control-allow-origin"), "http://localhost:5173");
  assert.equal(preflight.headers.get("access-control-max-age"), "600");
  // The rules start-api makes are warning-free: no deprecated key of its own making reaches the log.
  assert.deepEqual(lrp.lines.filter((l) => l.level === "warn").map((l) => l.msg), []);
});

Deno.test("start-api serves examples/sam-rest-api: REST events carry the stage from a Parameter while URLs do not", async () => {
  await using lrp = await startLrpChild([
    "start-api",
    "--template",
    "examples/sam-rest-api/template.yaml",
    "--port",
    "0",
    "--parameter-overrides",
    "Greeting=howdy",
  ]);
  await waitFor("the route table", () => lrp.stdout.length >= 5 ? true : undefined);
  assert.equal(
    lrp.stdout[3],
    "warning: DELETE /users/{id} → UsersFunction: not enforced locally: API key (requests without one are let through)",
  );
  assert.equal(lrp.stdout[4], "warning: resources not emulated (ignored): Orders (AWS::DynamoDB::Table)");
  const user = await get(lrp.port, "/users/5");
  assert.deepEqual(user.json, {
    resource: "/users/{id}",
    path: "/users/5",
    requestPath: "/dev/users/5",
    stage: "dev",
    id: "5",
    stageVariables: { mode: "test" },
    app: "local-rest",
    logLevel: "debug",
  });
  const proxied = await get(lrp.port, "/a/b%20c");
  assert.deepEqual(proxied.json, {
    greeting: "howdy",
    resource: "/{proxy+}",
    path: "/a/b%20c",
    method: "GET",
    proxy: "a/b%20c",
    memory: "256",
  });
  const root = await fetch(`http://127.0.0.1:${lrp.port}/`);
  assert.equal(root.status, 403);
  assert.deepEqual(await root.json(), { message: "Missing Authentication Token" });
});

Deno.test("start-api --stage-in-path serves a REST API under its stage, as the real invoke URL", async () => {
  await using lrp = await startLrpChild([
    "start-api",
    "--template",
    "examples/sam-rest-api/template.yaml",
    "--port",
    "0",
    "--stage-in-path",
  ]);
  await waitFor("the route table", () => lrp.stdout.length >= 1 ? true : undefined);
  assert.equal(
    lrp.stdout[0]!.startsWith(`GET http://127.0.0.1:${lrp.port}/dev/users/{id} → UsersFunction`),
    true,
  );
  const user = await get(lrp.port, "/dev/users/9");
  assert.equal(user.json.path, "/users/9");
  assert.equal(user.json.requestPath, "/dev/users/9");
});

Deno.test("start-api serves examples/serverless with --stage: provider defaults, variables, httpApi and http events", async () => {
  await using lrp = await startLrpChild(
    ["start-api", "--template", "examples/serverless/serverless.yml", "--port", "0", "--stage", "prod"],
    { env: { SHOP_GREETING: "ahoy" } },
  );
  const order = await get(lrp.port, "/orders/7");
  assert.deepEqual(order.json, {
    routeKey: "GET /orders/{id}",
    id: "7",
    stage: "$default",
    table: "shop-prod-orders",
    greeting: "ahoy",
    service: "shop",
    region: "eu-west-1",
    awsRegion: "eu-west-1",
    function: "shop-prod-orders",
    timeoutMs: 20_000,
  });
  const hello = await get(lrp.port, "/hello/ann");
  assert.deepEqual(hello.json, {
    message: "ahoy, ann",
    stage: "prod",
    resource: "/hello/{name}",
    function: "shop-prod-hello",
  });
  const other = await get(lrp.port, "/elsewhere");
  assert.deepEqual(other.json, { routeKey: "$default", path: "/elsewhere" });
});

Deno.test("lrp check --template prints the route table and starts nothing; with no --template it finds template.yaml", async () => {
  const out = await runLrp(["check", "--template", "examples/serverless/serverless.yml"]);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines[0], "examples/serverless/serverless.yml: ok, the routes start-api would serve:");
  assert.match(
    lines[3]!,
    /^ {2}GET http:\/\/127\.0\.0\.1:3000\/hello\/\{name\} → hello \(python3\.12 on python [\d.]+, handler\.hello\) \[REST ApiGatewayRestApi, stage dev\]$/,
  );
  const found = await runLrp(["check", "--template", "template.yaml"], {
    cwd: `${ROOT}examples/sam-http-api`,
  });
  assert.equal(found.code, 0, found.stderr);
  assert.equal(found.stdout.split("\n").length, 6);
});

Deno.test("start-api refuses a bad template with one message naming the file, resource and property", async () => {
  const dir = await Deno.makeTempDir();
  const cases: [string, string][] = [
    ["a: [1\n b", `${dir}/t.yaml:2: neither YAML nor JSON: `],
    [
      "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: app.handler\n      CodeUri: missing/\n",
      `${dir}/t.yaml: Resources.Fn.Properties.CodeUri: no such folder: ${dir}/missing`,
    ],
    [
      "Parameters:\n  Name: {Type: String}\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: !Ref Name\n      Runtime: nodejs20.x\n      Handler: app.handler\n      CodeUri: .\n",
      `${dir}/t.yaml: Resources.Fn.Properties.FunctionName: cannot be resolved locally: parameter Name has no value: give it a Default or pass --parameter-overrides Name=VALUE`,
    ],
  ];
  cases.push([
    "Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      CorsConfiguration: {AllowOrigins: ['http://localhost:5173/']}\n" +
    "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: index.handler\n      InlineCode: x\n" +
    "      Events:\n        A:\n          Type: HttpApi\n          Properties: {Path: /a, Method: GET, ApiId: !Ref Api}\n",
    `${dir}/t.yaml: Resources.Fn on API Api: cors.allow_origins[0]: "http://localhost:5173/" is not an origin`,
  ]);
  for (const [text, message] of cases) {
    await Deno.writeTextFile(`${dir}/t.yaml`, text);
    const out = await runLrp(["start-api", "--template", `${dir}/t.yaml`, "--port", "0"]);
    assert.equal(out.code, 1);
    assert.equal(out.stderr.startsWith(`lrp: invalid configuration: ${message}`), true, out.stderr);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("start-api reloads the route table when the template changes, restarts a function whose code changes, and --warm-containers EAGER starts functions first", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/src`);
  await Deno.writeTextFile(
    `${dir}/src/app.mjs`,
    "export const handler = async (e) => ({ statusCode: 200, body: e.routeKey });\n",
  );
  const template = (path: string) =>
    `Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: nodejs20.x\n      Handler: app.handler\n      CodeUri: src\n      Events:\n        A:\n          Type: HttpApi\n          Properties: {Path: ${path}, Method: GET}\n`;
  await Deno.writeTextFile(`${dir}/template.yaml`, template("/one"));
  await using lrp = await startLrpChild(
    ["start-api", "--port", "0", "--warm-containers", "EAGER", "--log-level", "debug"],
    { cwd: dir },
  );
  await lrp.waitForLine((l) => l.msg === "runtime process started" && l.function === "Fn");
  assert.equal(lrp.lines.some((l) => l.msg === "request"), false);
  assert.equal(await (await fetch(`http://127.0.0.1:${lrp.port}/one`)).text(), "GET /one");
  await Deno.writeTextFile(`${dir}/template.yaml`, template("/two"));
  await lrp.waitForLine((l) => l.msg === "configuration reloaded");
  assert.equal(await (await fetch(`http://127.0.0.1:${lrp.port}/two`)).text(), "GET /two");
  const gone = await fetch(`http://127.0.0.1:${lrp.port}/one`);
  assert.equal(gone.status, 404);
  assert.deepEqual(await gone.json(), { message: "Not Found" });
  // A template that no longer reads is refused with its message; the routes it would replace keep serving.
  await Deno.writeTextFile(
    `${dir}/template.yaml`,
    template("/three").replace("CodeUri: src", "CodeUri: gone"),
  );
  const refused = await lrp.waitForLine((l) => String(l.msg).startsWith("reload rejected"));
  assert.equal(refused.error, `template.yaml: Resources.Fn.Properties.CodeUri: no such folder: ${dir}/gone`);
  assert.equal(await (await fetch(`http://127.0.0.1:${lrp.port}/two`)).text(), "GET /two");
  await Deno.writeTextFile(`${dir}/template.yaml`, template("/two"));
  // A code change restarts the function: the next request runs the new handler.
  await Deno.writeTextFile(
    `${dir}/src/app.mjs`,
    "export const handler = async (e) => ({ statusCode: 200, body: `v2 ${e.routeKey}` });\n",
  );
  await lrp.waitForLine((l) => l.msg === "function code changed; restarting its runtime processes");
  assert.equal(await (await fetch(`http://127.0.0.1:${lrp.port}/two`)).text(), "v2 GET /two");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("start-api serves InlineCode and a Function URL on <name>.localhost, with --env-vars overriding variables and --inspect", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/template.yaml`,
    `Resources:
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: |
        exports.handler = async (event) => ({
          statusCode: 200,
          body: JSON.stringify({ routeKey: event.routeKey, color: process.env.COLOR, size: process.env.SIZE }),
        });
      Environment:
        Variables: {COLOR: red, SIZE: small}
      FunctionUrlConfig:
        AuthType: NONE
      Events:
        Get:
          Type: HttpApi
          Properties: {Path: /inline, Method: GET}
`,
  );
  await Deno.writeTextFile(
    `${dir}/env.json`,
    JSON.stringify({ Parameters: { SIZE: "large" }, Inline: { COLOR: "blue" } }),
  );
  await using lrp = await startLrpChild(["start-api", "--port", "0", "--env-vars", "env.json", "--inspect"], {
    cwd: dir,
  });
  await waitFor("the route table", () => lrp.stdout.length >= 2 ? true : undefined);
  assert.equal(
    lrp.stdout[1],
    `ANY http://inline.localhost:${lrp.port}/* → Inline (nodejs20.x on node ${
      /node (\d+\.\d+\.\d+)/.exec(lrp.stdout[0]!)![1]
    }, index.handler, InlineCode) [Function URL]`,
  );
  assert.deepEqual((await get(lrp.port, "/inline")).json, {
    routeKey: "GET /inline",
    color: "blue",
    size: "large",
  });
  const inspector = await fetch(`http://127.0.0.1:${lrp.port}/inspect`);
  await inspector.body?.cancel();
  assert.equal(inspector.status, 200);
  const url = await request(lrp.port, `inline.localhost:${lrp.port}`, "/any/path");
  assert.deepEqual(JSON.parse(url.text), { routeKey: "$default", color: "blue", size: "large" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("start-api's options belong to start-api: elsewhere, or with a bad value, one line and exit 2 or 1", async () => {
  const stray = await runLrp(["--stage", "prod"]);
  assert.equal(stray.code, 2);
  assert.equal(
    stray.stderr.trim(),
    'lrp: --stage is an option of start-api (and --template of check); run "lrp --help" for usage',
  );
  const operand = await runLrp(["start-api", "lrp.yaml"]);
  assert.equal(operand.code, 2);
  assert.equal(
    operand.stderr.trim(),
    "lrp: start-api reads a template, not lrp.yaml: name it with --template",
  );
  const warm = await runLrp([
    "start-api",
    "--template",
    "examples/sam-http-api/template.yaml",
    "--warm-containers",
    "hot",
  ]);
  assert.equal(warm.code, 1);
  assert.equal(
    warm.stderr.trim(),
    'lrp: invalid configuration: --warm-containers: "hot" must be EAGER or LAZY',
  );
  const none = await runLrp(["start-api"], { cwd: `${ROOT}examples` });
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr.trim(),
    "lrp: invalid configuration: no template found here: looked for .aws-sam/build/template.yaml, template.yaml, " +
      "template.yml, serverless.yml, serverless.yaml (or pass --template FILE)",
  );
});

Deno.test("start-api's events are AWS's where sam local's are not: ANY routeKey, lower-case v2 headers, REST %2F kept, HTTP API 404", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/src`);
  await Deno.writeTextFile(
    `${dir}/src/echo.mjs`,
    "export const handler = async (e) => ({ statusCode: 200, body: JSON.stringify(e) });\n",
  );
  await Deno.writeTextFile(
    `${dir}/template.yaml`,
    `Globals:
  Function: {Runtime: nodejs20.x, CodeUri: src, Handler: echo.handler}
Resources:
  Http:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Any: {Type: HttpApi, Properties: {Path: "/h/{proxy+}", Method: ANY}}
  Rest:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: {Type: Api, Properties: {Path: "/r/{id}", Method: GET}}
`,
  );
  await using lrp = await startLrpChild(["start-api", "--port", "0", "--no-watch"], { cwd: dir });
  const http = await get(lrp.port, "/h/a/b", { method: "POST", headers: { "X-Custom": "1" }, body: "x" });
  assert.equal(http.json.routeKey, "ANY /h/{proxy+}");
  assert.equal((http.json.requestContext as Json).routeKey, "ANY /h/{proxy+}");
  assert.deepEqual(http.json.pathParameters, { proxy: "a/b" });
  assert.equal((http.json.headers as Json)["x-custom"], "1");
  const rest = await get(lrp.port, "/r/my-id%2F100");
  assert.deepEqual(rest.json.pathParameters, { id: "my-id%2F100" });
  assert.equal(rest.json.path, "/r/my-id%2F100");
  assert.equal((rest.json.requestContext as Json).path, "/Prod/r/my-id%2F100");
  assert.equal((rest.json.requestContext as Json).stage, "Prod");
  const missing = await fetch(`http://127.0.0.1:${lrp.port}/h`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { message: "Not Found" });
  await Deno.remove(dir, { recursive: true });
});
