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
import { argsProblem, closest, COMMANDS, helpText } from "./lib/run/cli.ts";
import { type Config, ConfigError } from "./lib/config/types.ts";
import { createBufferedSink, createLogger } from "./lib/obs/log.ts";
import { createHandler } from "./lib/run/handler.ts";
import { enableTracing } from "./lib/obs/tracing.ts";
import type { SpawnWorker } from "./lib/run/workers.ts";

/**
 * Log lines go to stderr in asynchronous batches, off the request path, collected for up to 100 ms so
 * that one write carries many access lines even when requests come one at a time: each write of stderr
 * is a hand-off to one of Deno's blocking threads and back (docs/performance.md, round 5). Lines are
 * flushed on every way out.
 */
const stderrLines = createBufferedSink(Deno.stderr, undefined, 100);

/** lrp's version. */
export const VERSION: string = denoJson.version;

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
    console.error(`lrp: ${argsProblem(err, Object.keys(options))}; run "lrp --help" for usage`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(helpText(VERSION));
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
  // A worker binds the port its supervisor found (port 0 picks it once, for all).
  if (env.LRP_WORKER_ID && env.LRP_WORKER_PORT) flags.port = env.LRP_WORKER_PORT;
  const [first, ...rest] = positionals;
  const named = COMMANDS.find((c) => c === first);
  const meant = first !== undefined && !named && !/[./]/.test(first) ? closest(first, COMMANDS) : undefined;
  if (meant && !exists(first!)) {
    console.error(`lrp: unknown command "${first}" (did you mean "${meant}"?); run "lrp --help" for usage`);
    return 2;
  }
  const command = named ?? (env.AWS_LAMBDA_RUNTIME_API ? "lambda" : "serve");
  const operands = named ? rest : positionals;
  if (operands.length > 1) {
    console.error(`lrp: too many arguments: ${operands.join(" ")}; run "lrp --help" for usage`);
    return 2;
  }

  // Deno's OpenTelemetry is on: lrp's own spans need the API, loaded only then (it costs start-up time).
  if (command !== "check" && command !== "healthcheck" && otelOn(env.OTEL_DENO)) await enableTracing();

  // The modules of the other commands and modes load when used (static specifiers: `deno compile` bundles
  // them), so that serving pays no start-up time for them.
  if (command === "demo") {
    const { DEMO_DEFAULTS, runDemo } = await import("./lib/run/demo.ts");
    const config = parseConfig("", { source: "<demo>", env: { ...DEMO_DEFAULTS, ...env }, flags });
    const log = createLogger(config.logLevel, stderrLines.write, stderrLines);
    return await runDemo(config, log, VERSION, waitForStopSignal, (text) => console.log(text), env);
  }

  if (command === "healthcheck") {
    const { checkHealth, defaultHealthUrl } = await import("./lib/run/healthcheck.ts");
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
        const { reportInitError } = await import("./lib/run/lambda_runtime.ts");
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
    const log = createLogger(config.logLevel, stderrLines.write, stderrLines);
    if (command === "lambda") {
      const { runLambdaRuntime } = await import("./lib/run/lambda_runtime.ts");
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
    const { runExtension } = await import("./lib/run/extension.ts");
    const running = startLrp(config, log, VERSION);
    const reason = await runExtension({ api, name: env.LRP_EXTENSION_NAME ?? "lrp", log });
    log.info("shutting down", { extensionShutdown: reason });
    await running.shutdown();
    return 0;
  }
  if (command === "check") {
    console.log(`${path}: ok, ${config.rules.length} route(s), listening on ${config.host}:${config.port}`);
    for (const line of describeRules(config)) console.log(`  ${line}`);
    if (config.rules.length === 0) {
      console.error(
        `lrp: warning: ${path} has no routes: every request will get 404 (add "local:", "aws:" or "functions:" rules)`,
      );
    }
    return 0;
  }

  const workerId = env.LRP_WORKER_ID ? Number(env.LRP_WORKER_ID) : undefined;
  const workers = config.workers === "auto" ? navigator.hardwareConcurrency : config.workers;
  if (workerId === undefined && workers > 1) return await supervise(config, workers);
  let link;
  const workerLink = workerId === undefined ? undefined : await import("./lib/run/worker_link.ts");
  try {
    if (workerId !== undefined && workerLink) {
      link = await workerLink.linkToSupervisor(
        workerId,
        env.LRP_WORKER_LINK ?? "",
        env.LRP_WORKER_TOKEN ?? "",
      );
    }
  } catch (err) {
    console.error(
      `lrp: worker ${workerId} cannot reach its supervisor: ${err instanceof Error ? err.message : err}`,
    );
    return 1;
  }
  // Loaded before serving: no await may come between serving and installing the signal handlers.
  const watching = config.watchConfig ? await import("./lib/run/watch.ts") : undefined;
  const base = createLogger(config.logLevel, stderrLines.write, stderrLines);
  const log = link && workerLink ? workerLink.withFields(base, { worker: workerId }) : base;
  let running;
  try {
    running = startLrp(
      config,
      log,
      VERSION,
      link && { reusePort: true, queues: link.queues, createMetrics: link.createMetrics },
    );
  } catch (err) {
    const why = err instanceof Deno.errors.AddrInUse
      ? "the port is in use; pick another with --port (or LRP_PORT, or port: in the file)"
      : err instanceof Error
      ? err.message
      : err;
    console.error(`lrp: cannot listen on ${config.host}:${config.port}: ${why}`);
    return 1;
  }
  const reload = () => running.reload(() => loadConfig(path, { env, flags }));
  const onHangup = () => {
    log.info("reloading the configuration", { signal: "SIGHUP", config: path });
    void reload();
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onHangup);
  // A worker whose supervisor is gone drains like on SIGTERM (no orphans serving on).
  link?.lost.then(() => Deno.kill(Deno.pid, "SIGTERM"));
  link?.ready(running.addr.port);
  const watch = config.watchConfig
    ? watching?.watchFile(path, () => {
      log.info("reloading the configuration", { changed: path });
      void reload();
    })
    : undefined;
  const signals = stopSignals(running.finished);
  const signal = await signals.first;
  watch?.close();
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", onHangup);
  if (signal) {
    log.info("shutting down", { signal, inFlight: running.inFlight });
    // `deno task` and terminals send a second SIGINT on a second Ctrl-C: only a third one cuts requests.
    signals.later = (name, count) => {
      if (count === 2) {
        log.warn("already shutting down; a third signal forces the exit", {
          signal: name,
          inFlight: running.inFlight,
        });
        return;
      }
      log.error("forced exit: in-flight requests were cut", { signal: name, inFlight: running.inFlight });
      void stderrLines.flush().finally(() => Deno.exit(128 + (name === "SIGINT" ? 2 : 15)));
    };
    await running.shutdown();
  }
  signals.dispose();
  return 0;
}

/** SIGINT/SIGTERM, listened to until disposed (so that a later one cannot end the process unasked). */
interface StopSignals {
  /** The first signal's name, or `undefined` if `finished` settles first. */
  first: Promise<string | undefined>;
  /** Called for every signal after the first, with its name and count (2, 3, …). */
  later: (name: string, count: number) => void;
  dispose(): void;
}

function stopSignals(finished: Promise<void>): StopSignals {
  const first = Promise.withResolvers<string | undefined>();
  const handlers: [Deno.Signal, () => void][] = [];
  let count = 0;
  const signals: StopSignals = {
    first: first.promise,
    later: () => {},
    dispose() {
      for (const [sig, h] of handlers.splice(0)) Deno.removeSignalListener(sig, h);
    },
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    if (Deno.build.os === "windows" && sig === "SIGTERM") continue;
    const h = () => {
      count++;
      if (count === 1) first.resolve(sig);
      else signals.later(sig, count);
    };
    handlers.push([sig, h]);
    Deno.addSignalListener(sig, h);
  }
  finished.then(() => first.resolve(undefined));
  return signals;
}

/**
 * Runs `workers` copies of this very command line (same executable, same
 * arguments: `deno run … main.ts …` or a compiled binary alike) as workers
 * sharing the port, and supervises them until SIGINT/SIGTERM (see
 * lib/run/workers.ts). The command line comes from `/proc/self/cmdline`:
 * `SO_REUSEPORT` balancing is Linux's anyway.
 */
async function supervise(config: Config, workers: number): Promise<number> {
  const [{ withFields }, { superviseWorkers }] = await Promise.all([
    import("./lib/run/worker_link.ts"),
    import("./lib/run/workers.ts"),
  ]);
  const log = withFields(createLogger(config.logLevel, stderrLines.write, stderrLines), { worker: 0 });
  if (config.workers === "auto" && Deno.build.os !== "linux") workers = 1;
  let args: string[];
  try {
    if (Deno.build.os !== "linux") throw new Error("workers above 1 need Linux (SO_REUSEPORT)");
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    if (argv.at(-1) === "") argv.pop();
    args = argv.slice(1);
    // `Deno.listen({ reusePort })` is behind --unstable-net in `deno run` (compiled binaries carry it).
    const deno = /^deno(\.exe)?$/.test(Deno.execPath().split(/[\\/]/).at(-1) ?? "");
    if (deno && args[0] === "run" && !args.includes("--unstable-net")) args.splice(1, 0, "--unstable-net");
  } catch (err) {
    console.error(`lrp: cannot start ${workers} workers: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  const spawn: SpawnWorker = (_id, env) => {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return {
      pid: child.pid,
      status: child.status.then((s) => ({ code: s.code, signal: s.signal })),
      kill: (signal) => child.kill(signal),
    };
  };
  const supervisor = superviseWorkers({
    count: workers,
    spawn,
    log,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    slotHoldMs: config.upstreamTimeoutMs,
  });
  const signals: [Deno.Signal, () => void][] = [
    ["SIGHUP", () => {
      log.info("reloading the configuration of every worker", { signal: "SIGHUP" });
      supervisor.reload();
    }],
  ];
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    signals.push([name, () => {
      // Later signals must not cut the drain short.
      log.info("shutting down", { signal: name });
      void supervisor.shutdown();
    }]);
  }
  for (const [name, handler] of signals) Deno.addSignalListener(name, handler);
  let code = 0;
  try {
    await supervisor.started;
  } catch (err) {
    console.error(`lrp: ${err instanceof Error ? err.message : err}`);
    code = 1;
  }
  await supervisor.finished;
  for (const [name, handler] of signals) Deno.removeSignalListener(name, handler);
  return code;
}

/** Whether `OTEL_DENO` turns Deno's OpenTelemetry on ("true" or "1"; anything but off, to be safe). */
function otelOn(value: string | undefined): boolean {
  return value !== undefined && !["", "0", "false"].includes(value.trim().toLowerCase());
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first SIGINT/SIGTERM (or `undefined` when `finished` settles first), for
 * the demo. The listeners stay: a second Ctrl-C during the demo's shutdown is
 * absorbed instead of killing the process mid-drain.
 */
function waitForStopSignal(finished: Promise<void>): Promise<string | undefined> {
  return stopSignals(finished).first;
}

if (import.meta.main) {
  const code = await main(Deno.args, Deno.env.toObject());
  await stderrLines.flush();
  Deno.exit(code);
}
