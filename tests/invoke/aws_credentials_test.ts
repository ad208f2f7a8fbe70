/**
 * aws rules without resolvable credentials are reported once at start-up,
 * without holding start-up up and without contacting AWS: the environment
 * holds no credentials and no profile file, and the instance metadata lookup
 * is switched off.
 */
import assert from "node:assert/strict";
import { startLrpChild } from "../helpers/process.ts";

const CONFIG = "aws:\n  - hostname: fn.test\n    function_name: my-function\n";

async function withConfig(run: (path: string, home: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lrp.yaml`, CONFIG);
    await run(`${dir}/lrp.yaml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** An environment with only what names the (fake, unreachable) Lambda endpoint and region. */
function env(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: home,
    AWS_CONFIG_FILE: `${home}/none`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/none`,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:1",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    ...extra,
  };
}

Deno.test("aws rules with no resolvable credentials get one warning at start-up", async () => {
  await withConfig(async (path, home) => {
    await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path], {
      env: env(home),
      clearEnv: true,
    });
    const warning = await lrp.waitForLine((l) => l.level === "warn");
    assert.equal(warning.msg, "no AWS credentials: aws rules will answer 502 until some can be found");
    assert.equal(
      warning.hint,
      "set AWS_PROFILE or aws_profile, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role",
    );
    assert.equal(lrp.lines.filter((l) => l.level === "warn").length, 1);
  });
});

Deno.test("aws rules with credentials in the environment start without a warning", async () => {
  await withConfig(async (path, home) => {
    await using lrp = await startLrpChild([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--log-level",
      "debug",
      path,
    ], {
      env: env(home, { AWS_ACCESS_KEY_ID: "AKIDFAKE", AWS_SECRET_ACCESS_KEY: "fake-secret" }),
      clearEnv: true,
    });
    await lrp.waitForLine((l) => l.msg === "AWS credentials found");
    assert.deepEqual(lrp.lines.filter((l) => l.level === "warn"), []);
  });
});
