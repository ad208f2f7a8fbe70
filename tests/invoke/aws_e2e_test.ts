import assert from "node:assert/strict";
import { type FakeFunction, startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { startLrpChild } from "../helpers/process.ts";
import { parseRawResponse, request } from "../helpers/socket.ts";

const REGION = "eu-west-1";
const CREDENTIALS = { accessKeyId: "AKIDE2ETEST", secretAccessKey: "e2e-secret" };

function reporter(name: string): FakeFunction {
  return {
    name,
    aliases: { live: "3" },
    versions: ["3"],
    handler: (_event, ctx) => ({
      kind: "result",
      value: { statusCode: 200, body: `${ctx.functionName}@${ctx.qualifier}` },
    }),
  };
}

/**
 * `deno run main.ts CONFIG` with an environment holding only the standard AWS
 * variables pointed at the fake, and no permission beyond what lrp needs.
 */
function startLrp(config: string, endpoint: string) {
  return startLrpChild([config], {
    denoArgs: ["--allow-net", "--allow-read", "--allow-env", "--allow-sys"],
    clearEnv: true,
    env: {
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    },
  });
}

/** GET / with a chosen Host; "status body". */
async function rawGet(port: number, host: string): Promise<string> {
  const res = await request(port, host, "/");
  return `${res.status} ${res.text}`;
}

Deno.test("deno run main.ts with aws rules reaches the right function for every Host, env holding only endpoint, region and keys", async () => {
  await using fake = startFakeLambdaApi({
    functions: [reporter("my-function"), reporter("other")],
    credentials: CREDENTIALS,
    region: REGION,
  });
  const dir = await Deno.makeTempDir({ prefix: "lrp-e2e-" });
  const config = `${dir}/lrp.yaml`;
  // The lambda-reverse-proxy file format, plus lrp's host/port.
  await Deno.writeTextFile(
    config,
    `host: 127.0.0.1
port: 0
aws:
  - hostname: bar.domain.lb
    function_name: my-function
  - hostname: live.domain.lb
    function_name: my-function:live
  - hostname: versioned.domain.lb
    function_name: my-function
    qualifier: 3
  - hostname: arn.domain.lb
    function_name: arn:aws:lambda:${REGION}:123456789012:function:other
`,
  );
  await using child = await startLrp(config, fake.url);
  const port = child.port;
  try {
    const get = (host: string) => rawGet(port, host);
    assert.equal(await get("bar.domain.lb"), "200 my-function@$LATEST");
    assert.equal(await get("live.domain.lb"), "200 my-function@live");
    assert.equal(await get("versioned.domain.lb"), "200 my-function@3");
    assert.equal(await get("arn.domain.lb"), "200 other@$LATEST");
    assert.match(await get("unknown.domain.lb"), /^404 \{"error":"route_not_found"/);
    assert.equal(fake.requests.length, 4);
    assert.equal(fake.requests.every((r) => r.signatureValid), true);
    assert.equal(
      fake.requests.every((r) => r.headers.get("authorization")!.includes(`/${REGION}/lambda/aws4_request`)),
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno run main.ts streams an aws RESPONSE_STREAM rule: prelude split across chunks, body in order, mid-stream error aborts", async () => {
  const prelude = '{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}' +
    "\0".repeat(8);
  await using fake = startFakeLambdaApi({
    functions: [{
      name: "streamer",
      streaming: { contentType: "application/vnd.awslambda.http-integration-response", delayMs: 5 },
      handler: (event) => {
        const path = (event as { rawPath: string }).rawPath;
        return {
          kind: "stream",
          chunks: [prelude.slice(0, 30), prelude.slice(30, -3), prelude.slice(-3) + "one,", "two,", "three"],
          ...(path === "/fail" && { complete: { ErrorCode: "Runtime.Boom" } }),
        };
      },
    }],
    credentials: CREDENTIALS,
    region: REGION,
  });
  const dir = await Deno.makeTempDir({ prefix: "lrp-e2e-" });
  const config = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(
    config,
    `host: 127.0.0.1\nport: 0\naws:\n  - hostname: stream.domain.lb\n    function_name: streamer\n    invoke_mode: RESPONSE_STREAM\n`,
  );
  await using child = await startLrp(config, fake.url);
  const port = child.port;
  try {
    const raw = async (path: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        new TextEncoder().encode(
          `GET ${path} HTTP/1.1\r\nHost: stream.domain.lb\r\nConnection: close\r\n\r\n`,
        ),
      );
      const text = await new Response(conn.readable).text().catch((e) => `read failed: ${e}`);
      return text;
    };
    const ok = await raw("/");
    assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(ok, /\r\ncontent-type: text\/plain\r\n/);
    assert.match(ok, /\r\nset-cookie: a=1\r\n/);
    assert.match(ok, /\r\ntransfer-encoding: chunked\r\n/);
    const body = ok.slice(ok.indexOf("\r\n\r\n") + 4);
    assert.equal(
      new TextDecoder().decode(parseRawResponse(new TextEncoder().encode(ok)).body),
      "one,two,three",
    );
    assert.equal(body.endsWith("0\r\n\r\n"), true);
    const failed = await raw("/fail");
    assert.match(failed, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(failed.endsWith("0\r\n\r\n"), false);
    assert.equal(
      fake.requests.every((r) => r.operation === "InvokeWithResponseStream" && r.signatureValid),
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
