import assert from "node:assert/strict";
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { parseConfig } from "../../lib/config/parse.ts";
import { compileArgs, outputPath, PERMISSIONS, TARGETS } from "../../scripts/compile.ts";
import { ROOT } from "../helpers/process.ts";

const read = (path: string) => Deno.readTextFile(`${ROOT}${path}`);

Deno.test("compileArgs() builds main.ts for one target with lrp's permissions into dist/", () => {
  assert.deepEqual(compileArgs("aarch64-apple-darwin"), [
    "compile",
    "--frozen",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    "--allow-run",
    "--allow-write",
    "--unstable-no-legacy-abort",
    "--unstable-net",
    "--v8-flags=--max-semi-space-size=8,--heap-growing-percent=20",
    "--target",
    "aarch64-apple-darwin",
    "--output",
    outputPath("aarch64-apple-darwin"),
    "main.ts",
  ]);
  assert.equal(outputPath("x86_64-pc-windows-msvc", "1.0.0"), "dist/lrp-1.0.0-x86_64-pc-windows-msvc.exe");
  assert.equal(TARGETS.length, 5);
});

Deno.test("the Dockerfile compiles with the same permissions and health-checks with lrp healthcheck", async () => {
  const dockerfile = await read("Dockerfile");
  assert.ok(dockerfile.includes(`deno compile --frozen ${PERMISSIONS.join(" ")} --output /out/lrp main.ts`));
  assert.ok(dockerfile.includes("FROM gcr.io/distroless/cc-debian12:nonroot"));
  assert.ok(
    dockerfile.includes(
      'HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 CMD ["/usr/local/bin/lrp", "healthcheck"]',
    ),
  );
  assert.ok(dockerfile.includes("EXPOSE 8080"));
  assert.ok(dockerfile.includes("ENV LRP_CONFIG=/etc/lrp/lrp.yaml"));
  const tools = JSON.parse(await read(".tools/package.json"));
  assert.ok(
    dockerfile.includes(`ARG DENO_VERSION=${tools.dependencies.deno}`),
    "the image's Deno is the pinned one",
  );
});

Deno.test("examples: the compose file's lrp.yaml is valid and routes to its two Lambda services", async () => {
  const compose = parseYaml(await read("examples/docker-compose.yaml"));
  assert.deepEqual(Object.keys(compose.services), ["lrp", "hello", "echo"]);
  assert.deepEqual(compose.services.lrp.volumes, ["./lrp.yaml:/etc/lrp/lrp.yaml:ro"]);
  for (const name of ["hello", "echo"]) {
    assert.equal(compose.services[name].image, "public.ecr.aws/lambda/nodejs:22");
    assert.ok(compose.services[name].healthcheck.test.length > 1);
  }
  const config = parseConfig(await read("examples/lrp.yaml"), { source: "examples/lrp.yaml" });
  assert.deepEqual(
    config.rules.map((r) => [r.hostname, r.kind === "local" ? r.endpoint : ""]),
    [["hello.localhost", "http://hello:8080"], ["echo.localhost", "http://echo:8080"]],
  );
});

Deno.test("examples: the Lambda handlers answer as they would on the nodejs:22 image", async () => {
  const hello = await import("../../examples/functions/hello/index.mjs");
  assert.deepEqual(await hello.handler({ queryStringParameters: { name: "lrp" } }), {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
    cookies: ["visited=1; Path=/"],
    body: "Hello, lrp! (nodejs:22 Lambda behind lrp)\n",
  });
  const echo = await import("../../examples/functions/echo/index.mjs");
  assert.deepEqual(await echo.handler({ rawPath: "/x" }), { rawPath: "/x" });
});

Deno.test("examples: the systemd unit reloads with SIGHUP and runs hardened", async () => {
  const unit = await read("examples/lrp.service");
  for (
    const line of [
      "ExecReload=/bin/kill -HUP $MAINPID",
      "DynamicUser=yes",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "ExecStart=/usr/local/bin/lrp /etc/lrp/lrp.yaml",
    ]
  ) assert.ok(unit.split("\n").includes(line), line);
});

Deno.test("main.lock, the lock of deno.json (tasks, deno run, compile, Docker), holds exactly main.ts's npm packages", async () => {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(info.code, 0);
  const graph = Object.keys(JSON.parse(new TextDecoder().decode(info.stdout)).npmPackages).sort();
  const lock = Object.keys(JSON.parse(await read("main.lock")).npm).sort();
  assert.deepEqual(lock, graph);
  // Test-only packages live in deno.lock, which only the test, check and bench tasks read.
  for (const testOnly of ["express@", "hono@", "fast-check@"]) {
    assert.equal(lock.some((p) => p.startsWith(testOnly)), false, testOnly);
  }
  const config = JSON.parse(await read("deno.json"));
  assert.deepEqual(config.lock, { path: "./main.lock", frozen: true });
});
