/**
 * `lrp demo`: example Lambda handlers served through `functions:` rules, with
 * lrp in front, so a newcomer sees the whole path work with nothing else
 * running. The handlers run under `node`, or under `deno` where node is not
 * installed; their texts are embedded (`demo_handlers.ts`) and written to a
 * temporary folder at start, so no source file is read.
 *
 * @module
 */

import { startLrp } from "./serve.ts";
import type { Config } from "../config/types.ts";
import type { InvokeMode } from "../invoke/types.ts";
import type { Logger } from "../obs/log.ts";
import type { FunctionRule } from "../route/rule.ts";
import { isDeno, onPath } from "../runtime/interpreters.ts";
import { DEMO_FILES } from "./demo_handlers.ts";
import { hostEnvironment } from "../config/functions.ts";

/**
 * Defaults the demo changes, as environment values under the user's own
 * (`LRP_INSPECT=false lrp demo` still switches the inspector off): a
 * newcomer's first question is what the function saw.
 */
export const DEMO_DEFAULTS: Readonly<Record<string, string>> = { LRP_INSPECT: "true" };

/** One example function of the demo. */
export interface DemoExample {
  /** The host name its rule answers for. */
  hostname: string;
  /** Its handler file in {@linkcode DEMO_FILES} (export `handler`). */
  file: string;
  /** What it shows, one line. */
  about: string;
  /** The path and query of the printed `curl` command. */
  path: string;
  /** More `curl` options, before the URL. */
  extra?: string;
  /** How lrp invokes it; `BUFFERED` when absent. */
  invokeMode?: InvokeMode;
}

/** The demo's functions, in the order the instructions list them. */
export const DEMO_EXAMPLES: readonly DemoExample[] = [
  {
    hostname: "hello.localhost",
    file: "hello.mjs",
    about: "a structured result with a cookie",
    path: "/hello?name=lrp",
  },
  {
    hostname: "echo.localhost",
    file: "echo.mjs",
    about: "returns the payload 2.0 event it received",
    path: "/any/path%2Fencoded?x=1&x=2",
    extra: `-H 'Cookie: a=1; b=2' -H 'content-type: application/json' -d '{"json":true}'`,
  },
  {
    hostname: "stream.localhost",
    file: "stream.mjs",
    about: "a streaming handler (awslambda.streamifyResponse), passed on as it writes",
    path: "/",
    extra: "-N",
    invokeMode: "RESPONSE_STREAM",
  },
  {
    hostname: "fail.localhost",
    file: "fail.mjs",
    about: "a handler that throws (lrp answers 502)",
    path: "/",
  },
  {
    hostname: "whoami.localhost",
    file: "whoami.mjs",
    about: "its function name, runtime and process (the same warm process answers again)",
    path: "/?name=lrp",
  },
];

/** The runtime the demo runs its handlers with: node when installed, else deno; none without either. */
export function demoRuntime(env: Record<string, string | undefined>): "nodejs" | "deno" | undefined {
  if (nodeOnPath(env)) return "nodejs";
  // A deno function runs on lrp's own executable when lrp runs on deno (clients.ts), else on `deno` on PATH.
  if (isDeno() || onPath("deno", env)) return "deno";
  return undefined;
}

/**
 * Whether a real `node` comes first on `PATH`. Deno puts a `node` that is
 * deno itself (`…/node_compat_bin/node`) on the `PATH` of programs it runs
 * when none is installed: that one does not count.
 */
function nodeOnPath(env: Record<string, string | undefined>): boolean {
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir === "" || !onPath(`${dir}/node`)) continue;
    try {
      return Deno.realPathSync(`${dir}/node`) !== Deno.realPathSync(Deno.execPath());
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Runs the demo until `waitForStop` resolves: the handler files written to a
 * temporary folder, lrp listening with a `functions:` rule for each, and the
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
  const runtime = demoRuntime(env);
  if (runtime === undefined) {
    log.error("demo cannot run its functions", {
      error: "neither node nor deno is on PATH; install one of them to run the demo",
    });
    return 1;
  }
  const code = await Deno.makeTempDir({ prefix: "lrp-demo-" });
  const removeCode = () => Deno.remove(code, { recursive: true }).catch(() => {});
  for (const [name, text] of Object.entries(DEMO_FILES)) await Deno.writeTextFile(`${code}/${name}`, text);
  const config: Config = {
    ...base,
    source: "<demo>",
    host: base.source === "<demo>" && base.host === "0.0.0.0" ? "127.0.0.1" : base.host,
    rules: DEMO_EXAMPLES.map((example) => demoRule(example, runtime, code, base, env)),
  };
  let running;
  try {
    running = startLrp(config, log, version);
  } catch (err) {
    await removeCode();
    log.error("demo cannot listen", {
      address: `${config.host}:${config.port}`,
      error: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const port = running.addr.port;
  const lines = [`lrp demo is running on http://127.0.0.1:${port} — try (Ctrl-C to stop):`, ""];
  for (const e of DEMO_EXAMPLES) {
    lines.push(`  # ${e.hostname}: ${e.about}`);
    lines.push(
      `  curl -i -H 'Host: ${e.hostname}' ${e.extra ? `${e.extra} ` : ""}'http://127.0.0.1:${port}${e.path}'`,
    );
  }
  lines.push("", `  curl http://127.0.0.1:${port}/healthz`);
  lines.push(
    "",
    `Each function runs in ${runtime === "nodejs" ? "node" : "deno"} processes lrp starts itself ` +
      `(no Docker, no RIE); their code is in ${code}.`,
  );
  if (config.inspect) {
    lines.push(`See what each function saw: http://127.0.0.1:${port}${config.internalRoutePrefix}/inspect`);
  }
  print(lines.join("\n"));
  const signal = await waitForStop(running.finished);
  if (signal) log.info("shutting down", { signal });
  await running.shutdown();
  await removeCode();
  return 0;
}

/** The `functions:` rule of one example, as `lrp.yaml` would give it. */
function demoRule(
  example: DemoExample,
  runtime: "nodejs" | "deno",
  code: string,
  base: Config,
  env: Record<string, string | undefined>,
): FunctionRule {
  return {
    kind: "function",
    hostname: example.hostname,
    ...(example.invokeMode && { invokeMode: example.invokeMode }),
    name: example.hostname.slice(0, example.hostname.indexOf(".")),
    runtime,
    handler: `${example.file.slice(0, example.file.lastIndexOf("."))}.handler`,
    code,
    concurrency: 2,
    timeoutMs: 10_000,
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
