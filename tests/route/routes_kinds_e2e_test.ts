/**
 * Routes on every kind of rule: an `aws:` rule (against the fake Lambda
 * API) and a `functions:` rule (a real Node.js runtime process) sharing one
 * host as one HTTP API, through a real lrp process.
 */
import assert from "node:assert/strict";
import { startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const REGION = "eu-west-1";
const CREDENTIALS = { accessKeyId: "AKIDROUTES", secretAccessKey: "routes-secret" };
const NODE_ECHO = new URL("../runtime/fixtures/node_echo", import.meta.url).pathname;

Deno.test("an aws rule and a functions rule share a host: each route reaches its own function with the route's event", async () => {
  await using fake = startFakeLambdaApi({
    functions: [{
      name: "users",
      handler: (event) => ({
        kind: "result",
        value: {
          statusCode: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(event),
        },
      }),
    }],
    credentials: CREDENTIALS,
    region: REGION,
  });
  const config = await tempConfig(`host: 127.0.0.1
port: 0
aws:
  - hostname: shop.test
    function_name: users
    routes: ["GET /users/{id}"]
functions:
  - hostname: shop.test
    name: catchall
    runtime: nodejs
    handler: index.handler
    code: ${NODE_ECHO}
    routes: ["ANY /{proxy+}"]
`);
  await using lrp = await startLrpChild([config], {
    env: {
      AWS_ENDPOINT_URL_LAMBDA: fake.url,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    },
  });
  const user = await request(lrp.port, "shop.test", "/users/9");
  assert.equal(user.status, 200);
  const event = JSON.parse(user.text);
  assert.equal(event.routeKey, "GET /users/{id}");
  assert.deepEqual(event.pathParameters, { id: "9" });

  const other = await request(lrp.port, "shop.test", "/cart/items");
  assert.equal(other.status, 200);
  const seen = JSON.parse(other.text);
  assert.equal(seen.functionName, "catchall");
  assert.equal(seen.path, "/cart/items");

  const root = await request(lrp.port, "shop.test", "/");
  assert.equal(root.status, 404);
  assert.equal(root.text, '{"message":"Not Found"}');
});
