/**
 * Static credentials (the environment's, as the SDK's first provider reads
 * them) and a known region: buffered Invoke calls are signed and sent without
 * ever loading the AWS SDK (docs/aws.md, "Credentials"), in a process of their
 * own so nothing else has loaded it.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { DENO } from "../helpers/process.ts";

const CREDENTIALS = { accessKeyId: "AKIDSTATIC", secretAccessKey: "static-secret", sessionToken: "TOKEN" };

Deno.test("credentials come from the environment exactly when the SDK's first provider would take them", () => {
  const parse = (env: Record<string, string>, yaml = "") => parseConfig(yaml, { source: "t", env });
  const keys = { AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "SK" };
  const plain = (c: unknown) => c && { ...c };
  assert.deepEqual(plain(parse(keys).awsCredentials), {
    accessKeyId: "AK",
    secretAccessKey: "SK",
    sessionToken: undefined,
  });
  assert.deepEqual(plain(parse({ ...keys, AWS_SESSION_TOKEN: "T" }).awsCredentials), {
    accessKeyId: "AK",
    secretAccessKey: "SK",
    sessionToken: "T",
  });
  assert.equal(parse({ AWS_ACCESS_KEY_ID: "AK" }).awsCredentials, undefined);
  assert.equal(parse({ ...keys, AWS_PROFILE: "dev" }).awsCredentials, undefined);
  assert.equal(parse(keys, "aws_profile: dev\n").awsCredentials, undefined);
  assert.equal(parse({ ...keys, LRP_AWS_PROFILE: "dev" }).awsCredentials, undefined);
  // Never printed with the configuration.
  const config = parse(keys);
  assert.ok(!JSON.stringify(config).includes("SK"));
  assert.ok(!Deno.inspect(config).includes("SK"));
});

Deno.test("buffered Invoke calls with static credentials and a region never load the SDK", async () => {
  await using fake = startFakeLambdaApi({
    functions: [{
      name: "echo",
      aliases: {},
      versions: ["1"],
      handler: (event) => ({ kind: "result", value: { statusCode: 200, body: JSON.stringify(event) } }),
    }],
    credentials: CREDENTIALS,
    region: "eu-west-1",
  });
  const aws = new URL("../../lib/invoke/aws.ts", import.meta.url).href;
  const code = `
    const { AwsInvoker, LambdaClients, sdkRequested } = await import(${JSON.stringify(aws)});
    const clients = new LambdaClients({
      region: "eu-west-1", endpointUrl: ${JSON.stringify(fake.url)}, profile: "",
      credentials: ${JSON.stringify(CREDENTIALS)},
    });
    const invoker = new AwsInvoker({ clients, functionName: "echo", describe: "aws echo" });
    const results = [];
    for (let i = 0; i < 3; i++) {
      const r = await invoker.invoke({
        payload: new TextEncoder().encode(JSON.stringify({ n: i })),
        signal: new AbortController().signal,
      });
      results.push(JSON.parse(new TextDecoder().decode(r.body)).body);
    }
    await clients.close();
    console.log(JSON.stringify({ results, sdk: sdkRequested() }));
  `;
  const out = await new Deno.Command(DENO, {
    args: ["eval", "--frozen", "--lock=deno.lock", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    results: ['{"n":0}', '{"n":1}', '{"n":2}'],
    sdk: false,
  });
});

Deno.test("credentials holding a line break are refused before anything is sent, never written into the head", async () => {
  const { AwsInvoker, LambdaClients } = await import("../../lib/invoke/aws.ts");
  const { LrpError } = await import("../../lib/errors.ts");
  let connections = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      conn.close();
    }
  })();
  try {
    for (
      const creds of [
        { accessKeyId: "AKID\r\nx-injected: 1", secretAccessKey: "s" },
        { accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "T\nx-injected: 1" },
      ]
    ) {
      const clients = new LambdaClients({
        region: "eu-west-1",
        endpointUrl: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
        profile: "",
        credentials: creds,
      });
      const invoker = new AwsInvoker({ clients, functionName: "echo", describe: "aws echo" });
      await assert.rejects(
        invoker.invoke({ payload: new Uint8Array([0x7b, 0x7d]), signal: new AbortController().signal }),
        (err: unknown) =>
          err instanceof LrpError && err.code === "upstream_auth" && /line break/.test(err.message),
      );
      await clients.close();
    }
    assert.equal(connections, 0);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});
