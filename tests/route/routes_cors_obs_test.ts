/**
 * CORS as an HTTP API does it, and the route in everything that shows a
 * request (access log, `/metrics`, the inspector), through a real lrp
 * process in front of an in-process RIE whose function sends CORS headers
 * of its own.
 */
import assert from "node:assert/strict";
import { startRie } from "../fakes/rie.ts";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const CORS = `    cors:
      allow_origins: ["https://app.test", "http://*"]
      allow_methods: [GET, POST]
      allow_headers: [Content-Type, X-Api-Key]
      expose_headers: [x-id]
      max_age: 300
      allow_credentials: true
`;

async function setup() {
  const rie = startRie({
    handler: (event) => ({
      statusCode: 200,
      headers: {
        "content-type": "application/json",
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "DELETE",
        "x-id": "7",
      },
      body: JSON.stringify(event),
    }),
  });
  const path = await tempConfig(`host: 127.0.0.1
port: 0
metrics: true
inspect: true
local:
  - hostname: plain.test
    endpoint: ${rie.url}
${CORS}  - hostname: api.test
    endpoint: ${rie.url}
    routes: ["GET /pets/{id}", "POST /pets"]
${CORS}  - hostname: default.test
    endpoint: ${rie.url}
    routes: ["$default", "OPTIONS /{proxy+}"]
${CORS}`);
  const lrp = await startLrpChild([path]);
  return {
    lrp,
    rie,
    async [Symbol.asyncDispose]() {
      await lrp[Symbol.asyncDispose]();
      await rie.shutdown();
    },
  };
}

const CORS_NAMES = (h: [string, string][]) =>
  h.filter(([n]) => n.startsWith("access-control-") || n === "vary");

Deno.test("CORS: lrp answers the preflight itself, 204 with the configured headers, on hosts with and without routes", async () => {
  await using s = await setup();
  for (
    const [host, target] of [["plain.test", "/anything"], ["api.test", "/pets/1"], ["api.test", "/nowhere"]]
  ) {
    const res = await request(s.lrp.port, host!, target!, {
      method: "OPTIONS",
      headers: { origin: "https://app.test", "access-control-request-method": "POST" },
    });
    assert.equal(res.status, 204, `${host}${target}`);
    assert.equal(res.text, "");
    assert.deepEqual(CORS_NAMES(res.headers), [
      ["access-control-allow-credentials", "true"],
      ["access-control-allow-headers", "content-type,x-api-key"],
      ["access-control-allow-methods", "GET,POST"],
      ["access-control-allow-origin", "https://app.test"],
      ["access-control-max-age", "300"],
      ["vary", "Origin"],
    ]);
  }
  assert.equal(s.rie.stats.invocations, 0, "no preflight reached the function");
  // A disallowed origin gets the 204 without CORS headers.
  const refused = await request(s.lrp.port, "api.test", "/pets/1", {
    method: "OPTIONS",
    headers: { origin: "https://evil.test", "access-control-request-method": "GET" },
  });
  assert.equal(refused.status, 204);
  assert.deepEqual(CORS_NAMES(refused.headers), []);
  // OPTIONS without Access-Control-Request-Method is no preflight: routed, and no route serves it.
  const bare = await request(s.lrp.port, "api.test", "/pets/1", {
    method: "OPTIONS",
    headers: { origin: "https://app.test" },
  });
  assert.equal(bare.status, 404);
});

Deno.test("CORS: the configured headers replace the function's on a request with Origin; none without Origin", async () => {
  await using s = await setup();
  for (const host of ["plain.test", "api.test"]) {
    const res = await request(s.lrp.port, host, "/pets/1", { headers: { origin: "http://localhost:3000" } });
    assert.equal(res.status, 200);
    assert.deepEqual(CORS_NAMES(res.headers), [
      ["access-control-allow-credentials", "true"],
      ["access-control-allow-origin", "http://localhost:3000"],
      ["access-control-expose-headers", "x-id"],
    ]);
    assert.equal(res.header("x-id"), "7");
    const none = await request(s.lrp.port, host, "/pets/1");
    assert.deepEqual(CORS_NAMES(none.headers), [], "the function's own CORS headers are dropped too");
    assert.equal(none.header("x-id"), "7");
    const other = await request(s.lrp.port, host, "/pets/1", { headers: { origin: "https://evil.test" } });
    assert.deepEqual(CORS_NAMES(other.headers), []);
  }
});

Deno.test("the route shows in the access log, the metrics' route label and the inspector", async () => {
  await using s = await setup();
  const res = await request(s.lrp.port, "api.test", "/pets/42?x=1");
  assert.equal(res.status, 200);
  const event = JSON.parse(res.text);
  const line = await s.lrp.waitForLine((l) =>
    l.msg === "request" && l.requestId === event.requestContext.requestId
  );
  assert.equal(line.route, "GET /pets/{id}");
  assert.equal(line.host, "api.test");
  await request(s.lrp.port, "api.test", "/nope");
  const plain = await request(s.lrp.port, "plain.test", "/x");
  const plainLine = await s.lrp.waitForLine((l) =>
    l.msg === "request" && l.requestId === JSON.parse(plain.text).requestContext.requestId
  );
  assert.equal(plainLine.route, undefined, "a host without routes logs as before");

  const metrics = (await request(s.lrp.port, "127.0.0.1", "/metrics")).text;
  assert.match(metrics, /lrp_requests_total\{route="api\.test GET \/pets\/\{id\}",code="2xx"\} 1\n/);
  assert.match(metrics, /lrp_requests_total\{route="api\.test",code="4xx"\} 1\n/);
  assert.match(metrics, /lrp_requests_total\{route="plain\.test",code="2xx"\} 1\n/);

  // The first exchange the inspector kept is that request.
  const detail = JSON.parse((await request(s.lrp.port, "127.0.0.1", "/inspect/exchanges/1")).text);
  assert.equal(detail.target, "/pets/42?x=1");
  assert.equal(detail.route, "api.test");
  assert.equal(detail.routeKey, "GET /pets/{id}");
  assert.deepEqual(detail.pathParameters, { id: "42" });

  // A replay goes to the rule the original's method and path choose again.
  const replay = await request(s.lrp.port, "127.0.0.1", "/inspect/replay", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: 1 }),
  });
  const replayed = JSON.parse(replay.text);
  assert.equal(replayed.status, 200);
  const again = JSON.parse(
    (await request(s.lrp.port, "127.0.0.1", `/inspect/exchanges/${replayed.id}`)).text,
  );
  assert.equal(again.routeKey, "GET /pets/{id}");
  assert.deepEqual(again.pathParameters, { id: "42" });
});
