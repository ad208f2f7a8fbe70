/**
 * lrp — the Lambda Reverse Proxy. The only module that reads arguments and
 * the environment, installs signal handlers and exits.
 *
 * ```sh
 * lrp [CONFIG]            serve (CONFIG defaults to $LRP_CONFIG, then ./lrp.yaml)
 * lrp check [CONFIG]      validate and print the route table
 * lrp healthcheck [URL]   exit 0 when a running lrp answers pong
 * lrp lambda [CONFIG]     run as a Lambda function (custom runtime, Function URL events)
 * lrp extension [CONFIG]  run as a Lambda extension serving lrp on localhost
 * lrp demo                run example functions behind lrp
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { buildRouter, startLrp } from "./lib/run/serve.ts";
import { describeRules } from "./lib/config/describe.ts";
import { loadConfig, parseConfig } from "./lib/config/parse.ts";
import { SETTINGS } from "./lib/config/settings.ts";
import { type Config, ConfigError } from "./lib/config/types.ts";
import { DEMO_DEFAULTS, runDemo } from "./lib/run/demo.ts";
import { runExtension } from "./lib/run/extension.ts";
import { checkHealth, defaultHealthUrl } from "./lib/run/healthcheck.ts";
import { reportInitError, runLambdaRuntime } from "./lib/run/lambda_runtime.ts";
import { createBufferedSink, createLogger } from "./lib/obs/log.ts";
import { createHandler } from "./lib/run/handler.ts";
import { watchFile } from "./lib/run/watch.ts";

/** Log lines go to stderr in asynchronous batches, off the request path. */
const stderrLines = createBufferedSink(Deno.stderr);

/** lrp's version. */
export const VERSION: string = denoJson.version;

const HELP = `lrp ${VERSION} — the Lambda Reverse Proxy

Routes HTTP requests by Host to AWS Lambda functions: a local Runtime Interface
Emulator (RIE) endpoint or the Lambda Invoke API, as API Gateway / Function URL
payload format 2.0 events.

Usage:
  lrp [options] [CONFIG]        serve; CONFIG defaults to $LRP_CONFIG, then ./lrp.yaml
  lrp check [options] [CONFIG]  validate CONFIG and print the route table
  lrp healthcheck [URL]         exit 0 if lrp answers "pong" (default: the
                                /ping of CONFIG's port and prefix on 127.0.0.1)
  lrp lambda [options] [CONFIG] run as a Lambda function behind a Function URL
                                (custom runtime; the default when
                                $AWS_LAMBDA_RUNTIME_API is set)
  lrp extension [options] [CONFIG]
                                run as a Lambda extension serving lrp on its
                                host:port until Lambda shuts down
  lrp demo [options]            run example functions behind lrp (no config needed)

Options (flag > environment variable > file > default):
${
  SETTINGS.map((s) =>
    `  --${`${s.flag}${s.switch ? "" : " <value>"}`.padEnd(30)} ${s.help} [env ${s.env}, default ${
      s.inverse ? "off" : JSON.stringify(s.default)
    }]`
  )
    .join("\n")
}
  -h, --help                       show this help
  -V, --version                    show the version

Signals: SIGINT/SIGTERM stop gracefully; SIGHUP reloads the configuration.
`;

/** Runs the CLI and returns the exit code. */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const s of SETTINGS) options[s.flag] = { type: s.switch ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`lrp: ${err instanceof Error ? err.message : String(err)}\nRun "lrp --help" for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.version) {
    console.log(`lrp ${VERSION}`);
    return 0;
  }
  const flags: Record<string, string | undefined> = {};
  for (const s of SETTINGS) {
    const v = values[s.flag];
    if (typeof v === "string") flags[s.flag] = v;
    else if (v === true) flags[s.flag] = "true";
  }
  const [first, ...rest] = positionals;
  const named = ["check", "demo", "healthcheck", "lambda", "extension"].find((c) => c === first);
  const command = named ?? (env.AWS_LAMBDA_RUNTIME_API ? "lambda" : "serve");
  const operands = named ? rest : positionals;
  if (operands.length > 1) {
    console.error(`lrp: too many arguments: ${operands.join(" ")}\nRun "lrp --help" for usage.`);
    return 2;
  }

  if (command === "demo") {
    const config = parseConfig("", { source: "<demo>", env: { ...DEMO_DEFAULTS, ...env }, flags });
    const log = createLogger(config.logLevel, stderrLines.write);
    return await runDemo(config, log, VERSION, waitForStopSignal, (text) => console.log(text));
  }

  if (command === "healthcheck") {
    let url = operands[0];
    if (url === undefined) {
      const path = env.LRP_CONFIG ?? "lrp.yaml";
      let text = "";
      try {
        text = await Deno.readTextFile(path);
      } catch {
        // No readable file: the port and prefix come from the environment or defaults.
      }
      try {
        url = defaultHealthUrl(parseConfig(text, { source: path, env, flags }));
      } catch (err) {
        console.error(`lrp: invalid configuration: ${err instanceof Error ? err.message : err}`);
        return 1;
      }
    }
    const result = await checkHealth(url);
    (result.ok ? console.log : console.error)(`lrp: ${result.message}`);
    return result.ok ? 0 : 1;
  }

  const path = operands[0] ?? env.LRP_CONFIG ?? "lrp.yaml";
  let config: Config;
  try {
    config = await loadConfig(path, { env, flags });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`lrp: invalid configuration: ${err.message}`);
      if (command === "lambda" && env.AWS_LAMBDA_RUNTIME_API) {
        await reportInitError(env.AWS_LAMBDA_RUNTIME_API, err).catch(() => {});
      }
      return 1;
    }
    throw err;
  }
  if (command === "lambda" || command === "extension") {
    const api = env.AWS_LAMBDA_RUNTIME_API;
    if (!api) {
      console.error(`lrp: ${command} mode needs AWS_LAMBDA_RUNTIME_API (set by Lambda)`);
      return 2;
    }
    const log = createLogger(config.logLevel, stderrLines.write);
    if (command === "lambda") {
      const handler = createHandler({
        config,
        router: buildRouter(config),
        log,
        version: VERSION,
        listenPort: 443,
      });
      log.info("lrp running as a Lambda function", { config: config.source, routes: describeRules(config) });
      await runLambdaRuntime({ api, handler, log });
      return 0;
    }
    const running = startLrp(config, log, VERSION);
    const reason = await runExtension({ api, name: env.LRP_EXTENSION_NAME ?? "lrp", log });
    log.info("shutting down", { extensionShutdown: reason });
    await running.shutdown();
    return 0;
  }
  if (command === "check") {
    console.log(`${path}: ok, ${config.rules.length} route(s), listening on ${config.host}:${config.port}`);
    for (const line of describeRules(config)) console.log(`  ${line}`);
    return 0;
  }

  const log = createLogger(config.logLevel, stderrLines.write);
  let running;
  try {
    running = startLrp(config, log, VERSION);
  } catch (err) {
    console.error(
      `lrp: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : err}`,
    );
    return 1;
  }
  const reload = () => running.reload(() => loadConfig(path, { env, flags }));
  const onHangup = () => {
    log.info("reloading the configuration", { signal: "SIGHUP", config: path });
    void reload();
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onHangup);
  const watch = config.watchConfig
    ? watchFile(path, () => {
      log.info("reloading the configuration", { changed: path });
      void reload();
    })
    : undefined;
  const signal = await waitForStopSignal(running.finished);
  watch?.close();
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", onHangup);
  if (signal) {
    log.info("shutting down", { signal });
    await running.shutdown();
  }
  return 0;
}

/** Resolves with the name of the first SIGINT/SIGTERM, or `undefined` if `finished` settles first. */
function waitForStopSignal(finished: Promise<void>): Promise<string | undefined> {
  return new Promise((resolve) => {
    const handlers: [Deno.Signal, () => void][] = [];
    const done = (name: string | undefined) => {
      for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
      resolve(name);
    };
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      if (Deno.build.os === "windows" && sig === "SIGTERM") continue;
      const h = () => done(sig);
      handlers.push([sig, h]);
      Deno.addSignalListener(sig, h);
    }
    finished.then(() => done(undefined));
  });
}

if (import.meta.main) {
  const code = await main(Deno.args, Deno.env.toObject());
  await stderrLines.flush();
  Deno.exit(code);
}
