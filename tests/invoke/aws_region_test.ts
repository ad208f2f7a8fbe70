/**
 * Where an aws rule's region comes from when lrp's configuration names none:
 * the SDK's chain (the profile's region), then lambda-reverse-proxy's
 * eu-central-1. Each case runs `deno run main.ts` with a cleared environment
 * and a HOME of its own; the fake Invoke API accepts only signatures for its
 * one region.
 */
import assert from "node:assert/strict";
import { startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { request } from "../helpers/socket.ts";
import { startLrpChild } from "../helpers/process.ts";

const KEYS = { accessKeyId: "AKIDREGION", secretAccessKey: "region-secret" };

async function regionUsed(expected: string, home: Record<string, string>, env: Record<string, string>) {
  await using fake = startFakeLambdaApi({
    functions: [{ name: "fn", handler: () => ({ kind: "result", value: { statusCode: 200, body: "ok" } }) }],
    credentials: KEYS,
    region: expected,
  });
  const dir = await Deno.makeTempDir({ prefix: "lrp-region-" });
  try {
    for (const [path, text] of Object.entries(home)) {
      await Deno.mkdir(`${dir}/.aws`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, text);
    }
    await Deno.writeTextFile(
      `${dir}/lrp.yaml`,
      "host: 127.0.0.1\nport: 0\naws:\n  - hostname: fn.test\n    function_name: fn\n",
    );
    await using child = await startLrpChild([`${dir}/lrp.yaml`], {
      clearEnv: true,
      env: { HOME: dir, AWS_ENDPOINT_URL_LAMBDA: fake.url, AWS_EC2_METADATA_DISABLED: "true", ...env },
    });
    const res = await request(child.port, "fn.test", "/");
    assert.equal(`${res.status} ${res.text}`, "200 ok", child.stderr.join("\n"));
    assert.equal(fake.requests.at(-1)?.signatureValid, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an aws rule without any region setting signs for eu-central-1, lambda-reverse-proxy's default", async () => {
  await regionUsed("eu-central-1", {}, {
    AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
  });
});

Deno.test("an aws rule without a region setting takes the profile's region from the shared config", async () => {
  await regionUsed("ap-south-1", {
    ".aws/config": "[profile p]\nregion = ap-south-1\n",
    ".aws/credentials":
      `[p]\naws_access_key_id = ${KEYS.accessKeyId}\naws_secret_access_key = ${KEYS.secretAccessKey}\n`,
  }, { AWS_PROFILE: "p" });
});
