/**
 * The parity test's framework apps (Hono via `hono/aws-lambda`, Express via
 * `serverless-http`) as `runtime: nodejs` handler folders — their packages in
 * a `node_modules` materialised from Deno's npm cache at deno.lock's versions —
 * and as `runtime: deno` handler folders, behind `functions:` rules, answer
 * the browser-like request set byte for byte as the apps served directly and
 * as the same handlers behind an RIE (`local:`) rule.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { type LambdaHandler, startRie } from "../fakes/rie.ts";
import { startLrp } from "../../lib/run/serve.ts";
import * as express from "../apps/express_app.ts";
import * as hono from "../apps/hono_app.ts";
import {
  comparable,
  type Direct,
  materialiseNodeModules,
  PARITY_REQUESTS,
  send,
  serveExpressDirect,
  serveHonoDirect,
} from "../helpers/parity.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const APPS = new URL("../apps/", import.meta.url).pathname;

/**
 * A Node.js handler folder in a temporary directory: the fixture's handler
 * files and package.json, the shared route modules, and a node_modules.
 */
async function nodeAppsFolder(): Promise<{ dir: string; packages: string[] } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "lrp-node-apps-" });
  try {
    for (const file of ["package.json", "hono.mjs", "express.mjs"]) {
      await Deno.copyFile(`${FIXTURES}node_apps/${file}`, `${dir}/${file}`);
    }
    for (const file of ["hono_routes.mjs", "express_routes.mjs"]) {
      await Deno.copyFile(`${APPS}${file}`, `${dir}/${file}`);
    }
    const installed = await materialiseNodeModules(dir);
    const strays = installed.packages.filter((p) => !installed.locked.has(p));
    assert.deepEqual(strays, [], "every package in node_modules is a deno.lock entry");
    return {
      dir,
      packages: installed.packages,
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
}

async function parity(app: "hono" | "express", serveDirect: () => Promise<Direct>, handler: LambdaHandler) {
  await using node = await nodeAppsFolder();
  for (const pkg of app === "hono" ? ["hono@4.13.19"] : ["express@5.3.0", "serverless-http@4.0.0"]) {
    assert.ok(node.packages.includes(pkg), `${pkg} installed`);
  }
  await using direct = await serveDirect();
  await using rie = startRie({ handler });
  const config = parseConfig(
    `host: 127.0.0.1
port: 0
local:
  - hostname: rie.test
    endpoint: ${rie.url}
functions:
  - hostname: node.test
    runtime: nodejs
    handler: ${app}.handler
    code: ${node.dir}
    timeout: 60s
  - hostname: deno.test
    runtime: deno
    handler: index.handler
    code: ${FIXTURES}${app}
    timeout: 60s
`,
    { source: "test" },
  );
  const lrp = startLrp(config, silentLogger, "test");
  try {
    for (const r of PARITY_REQUESTS) {
      const expected = comparable(await send(direct.port, "app.test", r));
      for (const host of ["rie.test", "node.test", "deno.test"]) {
        assert.deepEqual(comparable(await send(lrp.addr.port, host, r)), expected, `${r.name} via ${host}`);
      }
    }
  } finally {
    await lrp.shutdown();
  }
}

Deno.test("the Hono app as a runtime: nodejs and a runtime: deno handler folder answers byte for byte as served directly and through an RIE rule", async () => {
  await parity("hono", serveHonoDirect, hono.handler as LambdaHandler);
});

Deno.test("the Express app as a runtime: nodejs and a runtime: deno handler folder answers byte for byte as served directly and through an RIE rule", async () => {
  await parity("express", serveExpressDirect, express.handler as unknown as LambdaHandler);
});
