import assert from "node:assert/strict";
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { parseConfig } from "../../lib/config/parse.ts";
import { compileArgs, outputPath, PERMISSIONS, TARGETS } from "../../scripts/compile.ts";
import { LAZY_PACKAGES } from "../../lib/lazy_packages.ts";
import { ROOT, runLrp, startLrpChild } from "../helpers/process.ts";
import { fakeRie } from "../fakes/rie.ts";
import { request } from "../helpers/socket.ts";

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
    "--include=npm:@aws-sdk/client-lambda@3.1164.0",
    "--include=npm:@opentelemetry/api@1.9.0",
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
  const includes = LAZY_PACKAGES.map((spec) => `--include=${spec}`).join(" ");
  assert.ok(
    dockerfile.includes(
      `deno compile --frozen ${PERMISSIONS.join(" ")} ${includes} --output /out/lrp main.ts`,
    ),
  );
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

/** A Deno cache holding only `packages` of the real one's npm cache (copied), for runs with `--cached-only`. */
async function cacheWith(packages: string[]): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const dir = await Deno.makeTempDir({ prefix: "lrp-deno-dir-" });
  for (const name of packages) {
    await Deno.mkdir(`${dir}/npm/registry.npmjs.org/${name}`, { recursive: true });
    const copy = await new Deno.Command("cp", {
      args: ["-R", `${npmCache}/registry.npmjs.org/${name}/.`, `${dir}/npm/registry.npmjs.org/${name}/`],
    }).output();
    assert.equal(copy.code, 0, name);
  }
  return dir;
}

Deno.test("without aws rules and tracing, lrp needs no AWS SDK nor OpenTelemetry package: a first run downloads neither", async () => {
  // Deno's cache holds only the YAML parser; every download would go through this recording proxy, which refuses it.
  const denoDir = await cacheWith(["js-yaml", "argparse"]);
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const attempts: string[] = [];
  (async () => {
    for await (const conn of proxy) {
      const head = new Uint8Array(256);
      const n = await conn.read(head).catch(() => null);
      attempts.push(new TextDecoder().decode(head.subarray(0, n ?? 0)).split("\r\n")[0]!);
      conn.close();
    }
  })().catch(() => {});
  const proxyUrl = `http://127.0.0.1:${(proxy.addr as Deno.NetAddr).port}`;
  const env = { DENO_DIR: denoDir, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, DENO_NO_UPDATE_CHECK: "1" };
  await using rie = fakeRie(() => ({ statusCode: 200, body: "through" }));
  const config = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      config,
      `host: 127.0.0.1\nport: 0\nlocal:\n  - hostname: a.test\n    endpoint: ${rie.url}\n`,
    );
    for (const args of [["--version"], ["check", config]]) {
      const out = await runLrp(args, { env });
      assert.equal(out.code, 0, out.stderr);
    }
    await using lrp = await startLrpChild([config], { env });
    const res = await request(Number(new URL(lrp.url).port), "a.test", "/");
    assert.deepEqual([res.status, res.text], [200, "through"]);
    await lrp.stop();
    assert.deepEqual(attempts, []);
    const cached = [...Deno.readDirSync(`${denoDir}/npm/registry.npmjs.org`)].map((e) => e.name).sort();
    assert.deepEqual(cached, ["argparse", "js-yaml"]);
  } finally {
    proxy.close();
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(config);
  }
});

Deno.test("the packages lrp loads only when needed are in main.lock, and deno compile includes them", async () => {
  const lock = JSON.parse(await read("main.lock"));
  for (const spec of LAZY_PACKAGES) {
    assert.ok(lock.specifiers[spec], spec);
    assert.ok(compileArgs("x86_64-unknown-linux-gnu").includes(`--include=${spec}`), spec);
    assert.ok((await read("Dockerfile")).includes(`--include=${spec}`), spec);
  }
  assert.deepEqual(JSON.parse(await read("deno.json")).unstable, ["npm-lazy-caching"]);
});

Deno.test("the toolchain's package.json lets npm run deno's install script (npm 11 skips it with a warning otherwise)", async () => {
  const tools = JSON.parse(await read(".tools/package.json"));
  assert.deepEqual([tools.dependencies, tools.allowScripts], [{ deno: "2.9.6" }, { deno: true }]);
});
