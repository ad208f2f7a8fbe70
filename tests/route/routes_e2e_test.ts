/**
 * API Gateway routes end to end: lrp as a real process (`deno run main.ts`)
 * in front of fake RIE processes whose function echoes its event, so each
 * test reads the route AWS would choose and the event it would send.
 */
import assert from "node:assert/strict";
import { runLrp, startLrpChild, startRieProcess, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

type Json = Record<string, unknown>;

async function withLrp(
  rules: (a: string, b: string) => string,
  body: (
    lrp: { port: number; get: Getter; waitForLine: (m: (l: Json) => boolean) => Promise<Json> },
  ) => Promise<void>,
) {
  await using a = await startRieProcess(["--mode", "echo"]);
  await using b = await startRieProcess(["--mode", "echo"]);
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nlocal:\n${rules(a.url, b.url)}`);
  await using lrp = await startLrpChild([path]);
  const get: Getter = async (host, target, init = {}) => {
    const res = await request(lrp.port, host, target, init);
    let event: Json | undefined;
    try {
      event = res.header("content-type") === "application/json" && res.status === 200
        ? JSON.parse(res.text)
        : undefined;
    } catch { /* not an event */ }
    // The access-log line of this request names the endpoint that answered.
    const endpoint = async () => {
      const id = (event?.requestContext as Json | undefined)?.requestId;
      const line = await lrp.waitForLine((l) => l.msg === "request" && l.requestId === id);
      return String(line.target).endsWith(a.url) ? "a" : String(line.target).endsWith(b.url) ? "b" : "?";
    };
    return Object.assign(res, { event: event as Json, endpoint });
  };
  await body({ port: lrp.port, get, waitForLine: (m) => lrp.waitForLine(m) });
}

type Getter = (
  host: string,
  target: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<Awaited<ReturnType<typeof request>> & { event: Json; endpoint: () => Promise<string> }>;

const ctx = (e: Json) => e.requestContext as Json;

Deno.test("AWS's worked example: each request selects the route the documentation names, across two rules", async () => {
  await withLrp(
    (a, b) =>
      `  - hostname: pets.test
    endpoint: ${a}
    routes: ["GET /pets/dog/1", "GET /pets/dog/{id}", "$default"]
  - hostname: pets.test
    endpoint: ${b}
    routes: ["GET /pets/{proxy+}", "ANY /{proxy+}"]
`,
    async ({ get }) => {
      const cases: [string, string, string, string, Json | undefined][] = [
        ["GET", "/pets/dog/1", "GET /pets/dog/1", "a", undefined],
        ["GET", "/pets/dog/2", "GET /pets/dog/{id}", "a", { id: "2" }],
        ["GET", "/pets/cat/1", "GET /pets/{proxy+}", "b", { proxy: "cat/1" }],
        ["POST", "/test/5", "ANY /{proxy+}", "b", { proxy: "test/5" }],
        ["GET", "/", "$default", "a", undefined],
      ];
      for (const [method, target, key, fn, params] of cases) {
        const res = await get("pets.test", target, { method, ...(method === "POST" && { body: "{}" }) });
        assert.equal(res.status, 200, `${method} ${target}`);
        assert.equal(res.event.routeKey, key, `${method} ${target}`);
        assert.equal(ctx(res.event).routeKey, key);
        assert.equal(ctx(res.event).stage, "$default");
        assert.equal(res.event.rawPath, target);
        assert.deepEqual(res.event.pathParameters, params);
        assert.equal(await res.endpoint(), fn, `${method} ${target} reaches rule ${fn}`);
      }
    },
  );
});

Deno.test('HTTP API: no matching route is a 404 {"message":"Not Found"}, byte for byte, with x-lrp-error', async () => {
  await withLrp(
    (a) =>
      `  - hostname: api.test
    endpoint: ${a}
    routes: ["GET /pets", "GET /pets/{id}"]
`,
    async ({ get, waitForLine }) => {
      const res = await get("api.test", "/orders");
      assert.equal(res.status, 404);
      assert.equal(res.text, '{"message":"Not Found"}');
      assert.equal(res.header("content-type"), "application/json");
      assert.equal(res.header("x-lrp-error"), "no route of this host matches GET /orders");
      // The path exists, the method does not, and nothing falls back.
      const post = await get("api.test", "/pets", { method: "POST", body: "x" });
      assert.equal(post.status, 404);
      assert.equal(post.text, '{"message":"Not Found"}');
      // HEAD is not served by a GET route (docs/routes.md, open question).
      assert.equal((await get("api.test", "/pets", { method: "HEAD" })).status, 404);
      // A trailing slash on the request is routed like none; rawPath keeps it.
      const slash = await get("api.test", "/pets/7/");
      assert.equal(slash.event.routeKey, "GET /pets/{id}");
      assert.deepEqual(slash.event.pathParameters, { id: "7" });
      assert.equal(slash.event.rawPath, "/pets/7/");
      const log = await waitForLine((l) => l.msg === "request" && l.status === 404);
      assert.equal(log.error, "no_route");
      assert.equal(log.errorMessage, "no route of this host matches GET /orders");
    },
  );
});

Deno.test("HTTP API: pathParameters and rawPath are percent-decoded, %2F splits segments, a named stage leads the path", async () => {
  await withLrp(
    (a) =>
      `  - hostname: api.test
    endpoint: ${a}
    routes: ["GET /malls/{name}", "GET /{x}/thing", "ANY /{proxy+}"]
  - hostname: staged.test
    endpoint: ${a}
    routes: ["GET /items/{id}"]
    stage: prod
    stage_variables: { table: pets, level: 3 }
`,
    async ({ get }) => {
      const mall = await get("api.test", "/malls/Chester%20Mall");
      assert.equal(mall.event.routeKey, "GET /malls/{name}");
      assert.deepEqual(mall.event.pathParameters, { name: "Chester Mall" });
      assert.equal(mall.event.rawPath, "/malls/Chester Mall");
      assert.equal((ctx(mall.event).http as Json).path, "/malls/Chester Mall");
      const split = await get("api.test", "/a%2Fb/thing");
      assert.equal(split.event.routeKey, "ANY /{proxy+}");
      assert.deepEqual(split.event.pathParameters, { proxy: "a/b/thing" });
      const bad = await get("api.test", "/a%25");
      assert.equal(bad.status, 400);
      assert.equal(bad.text, '{"message":"Bad Request"}');

      const item = await get("staged.test", "/prod/items/7");
      assert.equal(item.event.routeKey, "GET /items/{id}");
      assert.equal(item.event.rawPath, "/prod/items/7");
      assert.equal((ctx(item.event).http as Json).path, "/prod/items/7");
      assert.equal(ctx(item.event).stage, "prod");
      assert.deepEqual(item.event.stageVariables, { table: "pets", level: "3" });
      assert.deepEqual(item.event.pathParameters, { id: "7" });
      const outside = await get("staged.test", "/items/7");
      assert.equal(outside.status, 404);
      assert.equal(outside.text, '{"message":"Not Found"}');
    },
  );
});

Deno.test("REST API: 1.0 events keep the path as sent, resource is the template, the stage is in requestContext.path only", async () => {
  await withLrp(
    (a) =>
      `  - hostname: rest.test
    endpoint: ${a}
    api: rest
    routes: ["GET /", "ANY /{proxy+}", "GET /users/{id}"]
    stage_variables: { env: test }
`,
    async ({ get }) => {
      const res = await get("rest.test", "/Prod/capture/space%20value", { method: "POST", body: "{}" });
      assert.equal(res.status, 200);
      const e = res.event;
      assert.equal("version" in e, false, "a REST API's event has no version");
      assert.equal(e.resource, "/{proxy+}");
      assert.equal(e.path, "/capture/space%20value");
      assert.deepEqual(e.pathParameters, { proxy: "capture/space%20value" });
      assert.deepEqual(e.stageVariables, { env: "test" });
      assert.equal(ctx(e).resourcePath, "/{proxy+}");
      assert.equal(ctx(e).path, "/Prod/capture/space%20value");
      assert.equal(ctx(e).stage, "Prod");
      assert.equal(e.routeKey, undefined);
      const user = await get("rest.test", "/Prod/users/my-id%2F100");
      assert.equal(user.event.resource, "/users/{id}");
      assert.deepEqual(user.event.pathParameters, { id: "my-id%2F100" });
      const root = await get("rest.test", "/Prod");
      assert.equal(root.event.resource, "/");
      assert.equal(root.event.pathParameters, null);
      // The greedy variable does not catch the root: only GET / is defined there.
      const post = await get("rest.test", "/Prod/", { method: "POST", body: "x" });
      assert.equal(post.status, 403);
      assert.equal(post.text, '{"message":"Missing Authentication Token"}');
      assert.equal(post.header("x-amzn-errortype"), "MissingAuthenticationTokenException");
      const head = await get("rest.test", "/Prod/users/1", { method: "HEAD" });
      assert.equal(head.status, 200, "ANY /{proxy+} takes HEAD, which GET /users/{id} does not serve");
      const outside = await get("rest.test", "/users/1");
      assert.equal(outside.status, 403);
      assert.equal(outside.text, '{"message":"Missing Authentication Token"}');
    },
  );
});

Deno.test("stage_in_path false: the URL has no stage, the events are built as if it had", async () => {
  await withLrp(
    (a) =>
      `  - hostname: local.test
    endpoint: ${a}
    routes: ["GET /items/{id}"]
    stage: dev
    stage_in_path: false
  - hostname: local.test
    endpoint: ${a}
    api: rest
    api_id: Rest
    stage_in_path: false
    routes: ["POST /orders"]
`,
    async ({ get }) => {
      const item = await get("local.test", "/items/7");
      assert.equal(item.event.rawPath, "/dev/items/7");
      assert.equal(ctx(item.event).stage, "dev");
      const order = await get("local.test", "/orders", { method: "POST", body: "{}" });
      assert.equal(order.event.path, "/orders");
      assert.equal(ctx(order.event).path, "/Prod/orders");
      assert.equal(ctx(order.event).stage, "Prod");
      assert.equal(ctx(order.event).apiId, "Rest");
      // One of the host's APIs is an HTTP API, so its 404 answers.
      const none = await get("local.test", "/dev/items/7");
      assert.equal(none.status, 404);
    },
  );
});

Deno.test("lrp check prints each host's route table in the order routes are tried, and refuses a duplicate route key", async () => {
  const ok = await tempConfig(`local:
  - hostname: pets.test
    endpoint: http://127.0.0.1:9001
    routes: ["$default", "ANY /{proxy+}", "GET /pets/dog/{id}"]
  - hostname: pets.test
    endpoint: http://127.0.0.1:9002
    routes: ["GET /pets/{proxy+}", "GET /pets/dog/1"]
    stage: prod
    api_id: second
`);
  const out = await runLrp(["check", ok]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    out.stdout.split("\n").slice(3).join("\n"),
    `  pets.test routes, in the order they are tried:
    GET /prod/pets/dog/1 -> local http://127.0.0.1:9002
    GET /pets/dog/{id} -> local http://127.0.0.1:9001
    GET /prod/pets/{proxy+} -> local http://127.0.0.1:9002
    ANY /{proxy+} -> local http://127.0.0.1:9001
    $default -> local http://127.0.0.1:9001
`,
  );
  const bad = await tempConfig(`local:
  - hostname: pets.test
    endpoint: http://127.0.0.1:9001
    routes: ["GET /pets"]
  - hostname: pets.test
    endpoint: http://127.0.0.1:9002
    routes: ["GET /pets"]
`);
  const refused = await runLrp(["check", bad]);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr.trim(),
    `lrp: invalid configuration: ${bad}:7: local[1].routes[0]: route "GET /pets" is defined twice: local[1] and local[0] (line 2) on "pets.test"`,
  );
});
