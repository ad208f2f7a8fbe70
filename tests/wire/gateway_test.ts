/**
 * What a route changes in the events, in process: an HTTP API with payload
 * 1.0 and the `$default` route, the whole routed 2.0 event, and the
 * gateway's no-route answers byte for byte.
 */
import assert from "node:assert/strict";
import { handlerWith, RecordingInvoker } from "../helpers/in_process.ts";

const conn = { remoteAddr: { hostname: "203.0.113.9" } };

function get(handler: (r: Request, c: typeof conn) => Promise<Response>, host: string, target: string) {
  return handler(new Request(`http://${host}${target}`, { headers: { host } }), conn);
}

Deno.test("an HTTP API with payload 1.0: path is the decoded path with the stage, resource the route's path", async () => {
  const invoker = new RecordingInvoker();
  const { handler } = handlerWith(
    `local:
  - hostname: api.test
    endpoint: http://rie:8080
    payload_format: "1.0"
    stage: dev
    routes: ["GET /items/{id}", "$default"]
`,
    invoker,
  );
  assert.equal((await get(handler, "api.test", "/dev/items/a%20b")).status, 200);
  assert.equal((await get(handler, "api.test", "/dev/else")).status, 200);
  const [item, other] = invoker.events as Record<string, Record<string, unknown>>[];
  assert.equal(item!.version, "1.0", "an HTTP API's 1.0 event names its version");
  assert.equal(item!.resource, "/items/{id}");
  assert.equal(item!.path, "/dev/items/a b");
  assert.deepEqual(item!.pathParameters, { id: "a b" });
  assert.equal(item!.stageVariables, null);
  assert.equal(item!.requestContext!.path, "/dev/items/a b");
  assert.equal(item!.requestContext!.resourcePath, "/items/{id}");
  assert.equal(item!.requestContext!.stage, "dev");
  assert.equal(other!.resource, "$default");
  assert.equal(other!.pathParameters, null);
});

Deno.test("a routed 2.0 event carries the route key, stage, parameters and variables; no pathParameters without variables", async () => {
  const invoker = new RecordingInvoker();
  const { handler } = handlerWith(
    `aws:
  - hostname: api.test
    function_name: fn
    api_id: Pets
    stage_variables: { table: pets }
    routes: ["GET /pets/{id}", "GET /pets"]
`,
    invoker,
  );
  await get(handler, "api.test", "/pets/7?x=1");
  await get(handler, "api.test", "/pets");
  const [one, all] = invoker.events as Record<string, unknown>[];
  const ctx = one!.requestContext as Record<string, unknown>;
  assert.equal(one!.routeKey, "GET /pets/{id}");
  assert.equal(one!.rawPath, "/pets/7");
  assert.equal(one!.rawQueryString, "x=1");
  assert.deepEqual(one!.pathParameters, { id: "7" });
  assert.deepEqual(one!.stageVariables, { table: "pets" });
  assert.equal(ctx.routeKey, "GET /pets/{id}");
  assert.equal(ctx.stage, "$default");
  assert.equal(ctx.apiId, "Pets");
  assert.equal(all!.routeKey, "GET /pets");
  assert.equal("pathParameters" in all!, false);
});

Deno.test("no route: HTTP API 404 and REST API 403 bodies byte for byte, nothing invoked", async () => {
  const invoker = new RecordingInvoker();
  const { handler } = handlerWith(
    `local:
  - hostname: http.test
    endpoint: http://rie:8080
    routes: ["GET /a"]
  - hostname: rest.test
    endpoint: http://rie:8080
    api: rest
    routes: ["GET /a"]
`,
    invoker,
  );
  const http = await get(handler, "http.test", "/b");
  assert.equal(http.status, 404);
  assert.deepEqual(
    new Uint8Array(await http.arrayBuffer()),
    new TextEncoder().encode('{"message":"Not Found"}'),
  );
  assert.deepEqual([...http.headers], [
    ["content-type", "application/json"],
    ["x-lrp-error", "no route of this host matches GET /b"],
  ]);
  const rest = await get(handler, "rest.test", "/Prod/b");
  assert.equal(rest.status, 403);
  assert.equal(await rest.text(), '{"message":"Missing Authentication Token"}');
  assert.equal(rest.headers.get("x-amzn-errortype"), "MissingAuthenticationTokenException");
  assert.equal(invoker.events.length, 0);
});
