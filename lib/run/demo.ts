/**
 * `lrp demo`: example Lambda handlers behind an RIE-compatible local endpoint,
 * with lrp in front, so a newcomer sees the whole path work with nothing else
 * running. Everything is embedded: no files are read.
 *
 * @module
 */

import { startLrp } from "./serve.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../obs/log.ts";
import { onPath } from "../runtime/interpreters.ts";
import { hostEnvironment } from "../config/functions.ts";
import type { FunctionRule } from "../route/rule.ts";
import { type LambdaHandler, preludeBody, RawPayload, startRie } from "./rie_emulator.ts";

/**
 * Defaults the demo changes, as environment values under the user's own
 * (`LRP_INSPECT=false lrp demo` still switches the inspector off): a
 * newcomer's first question is what the function saw.
 */
export const DEMO_DEFAULTS: Readonly<Record<string, string>> = { LRP_INSPECT: "true" };

/** The demo's functions, by host name. */
export const DEMO_HANDLERS: Record<
  string,
  { handler: LambdaHandler; about: string; curl: string; extra?: string }
> = {
  "hello.localhost": {
    about: "a structured result with a cookie",
    curl: "/hello?name=lrp",
    handler: (event) => {
      const e = event as { queryStringParameters?: Record<string, string> };
      const name = e.queryStringParameters?.name ?? "world";
      return {
        statusCode: 200,
        headers: { "content-type": "text/plain; charset=utf-8" },
        cookies: ["visited=1; Path=/"],
        body: `Hello, ${name}! (from a Lambda handler, through lrp)\n`,
      };
    },
  },
  "echo.localhost": {
    about: "returns the payload 2.0 event it received",
    curl: "/any/path%2Fencoded?x=1&x=2",
    extra: `-H 'Cookie: a=1; b=2' -H 'content-type: application/json' -d '{"json":true}'`,
    handler: (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event, null, 2) + "\n",
    }),
  },
  "stream.localhost": {
    about: "a streaming (HttpResponseStream) handler, as the RIE returns it",
    curl: "/",
    handler: () =>
      new RawPayload(preludeBody(
        { statusCode: 200, headers: { "content-type": "text/plain" }, cookies: ["streamed=yes"] },
        "chunk 1\nchunk 2\nchunk 3\n",
      )),
  },
  "fail.localhost": {
    about: "a handler that throws (lrp answers 502)",
    curl: "/",
    handler: () => {
      throw new Error("this handler always fails");
    },
  },
};

/**
 * Runs the demo until `waitForStop` resolves: one RIE-compatible endpoint per
 * handler on 127.0.0.1, lrp in front with a local rule for each, and the
 * `curl` commands to try printed on stdout. Returns the exit code.
 */
export async function runDemo(
  base: Config,
  log: Logger,
  version: string,
  waitForStop: (finished: Promise<void>) => Promise<string | undefined>,
  print: (text: string) => void,
  env: Record<string, string | undefined> = {},
): Promise<number> {
  const endpoints = Object.entries(DEMO_HANDLERS).map(([hostname, d]) => ({
    hostname,
    rie: startRie({ handler: d.handler, onConcurrent: "reject400" }),
  }));
  // A functions rule (lrp runs the handler itself) when node is installed.
  const nodeDir = onPath("node", env) ? await Deno.makeTempDir({ prefix: "lrp-demo-" }) : undefined;
  if (nodeDir) await Deno.writeTextFile(`${nodeDir}/index.mjs`, DEMO_NODE_HANDLER);
  const config: Config = {
    ...base,
    source: "<demo>",
    host: base.source === "<demo>" && base.host === "0.0.0.0" ? "127.0.0.1" : base.host,
    rules: [
      ...endpoints.map(({ hostname, rie }) => ({
        kind: "local" as const,
        hostname,
        endpoint: rie.url,
        concurrency: 1,
        queueLimit: base.queueLimit,
        queueTimeoutMs: base.queueTimeoutMs,
        line: 0,
      })),
      ...(nodeDir ? [demoFunctionRule(nodeDir, base, env)] : []),
    ],
  };
  let running;
  try {
    running = startLrp(config, log, version);
  } catch (err) {
    for (const e of endpoints) await e.rie.shutdown();
    log.error("demo cannot listen", {
      address: `${config.host}:${config.port}`,
      error: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const port = running.addr.port;
  const lines = [`lrp demo is running on http://127.0.0.1:${port} — try (Ctrl-C to stop):`, ""];
  for (const [hostname, d] of Object.entries(DEMO_HANDLERS)) {
    lines.push(`  # ${hostname}: ${d.about}`);
    lines.push(
      `  curl -i -H 'Host: ${hostname}' ${d.extra ? `${d.extra} ` : ""}'http://127.0.0.1:${port}${d.curl}'`,
    );
  }
  if (nodeDir) {
    lines.push(`  # node.localhost: a Node.js handler run by lrp itself (no Docker, no RIE)`);
    lines.push(`  curl -i -H 'Host: node.localhost' 'http://127.0.0.1:${port}/?name=lrp'`);
  }
  lines.push("", `  curl http://127.0.0.1:${port}/healthz`);
  if (config.inspect) {
    lines.push(
      "",
      `See what each function saw: http://127.0.0.1:${port}${config.internalRoutePrefix}/inspect`,
    );
  }
  print(lines.join("\n"));
  const signal = await waitForStop(running.finished);
  if (signal) log.info("shutting down", { signal });
  await running.shutdown();
  for (const e of endpoints) await e.rie.shutdown();
  if (nodeDir) await Deno.remove(nodeDir, { recursive: true }).catch(() => {});
  return 0;
}

/** The demo's Node.js handler (as `examples/functions/node-hello/index.mjs`), embedded so the demo reads no files. */
export const DEMO_NODE_HANDLER =
  `// A Node.js handler that lrp runs itself (runtime: nodejs): no Docker, no RIE.
// deno-lint-ignore require-await
export const handler = async (event, context) => {
  const name = event.queryStringParameters?.name ?? "world";
  const where = \`\${context.functionName} in node \${process.version}, pid \${process.pid}\`;
  return {
    statusCode: 200,
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: \`Hello, \${name}! (\${where})\\n\`,
  };
};
`;

function demoFunctionRule(
  code: string,
  base: Config,
  env: Record<string, string | undefined>,
): FunctionRule {
  return {
    kind: "function",
    hostname: "node.localhost",
    name: "node-hello",
    runtime: "nodejs",
    handler: "index.handler",
    code,
    concurrency: 2,
    timeoutMs: 3000,
    memoryMb: 128,
    region: base.region || "us-east-1",
    environment: {},
    hostEnvironment: hostEnvironment(env, []),
    watch: false,
    idleTimeoutMs: 300_000,
    queueLimit: base.queueLimit,
    queueTimeoutMs: base.queueTimeoutMs,
    line: 0,
  };
}
