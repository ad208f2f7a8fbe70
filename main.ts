/**
 * lrp — the Lambda Reverse Proxy. The only module that reads arguments and
 * the environment, installs signal handlers and exits.
 *
 * ```sh
 * lrp [CONFIG]            serve (CONFIG defaults to $LRP_CONFIG, then ./lrp.yaml)
 * lrp check [CONFIG]      validate and print the route table
 * lrp healthcheck [URL|CONFIG]  exit 0 when a running lrp answers pong
 * lrp lambda [CONFIG]     run as a Lambda function (custom runtime, Function URL events)
 * lrp extension [CONFIG]  run as a Lambda extension serving lrp on localhost
 * lrp demo                run example functions behind lrp
 * lrp start-api           serve a SAM template's or serverless.yml's functions and routes
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
import { argsProblem, closest, COMMANDS, FLAG_ALIASES, helpText, START_API_OPTIONS } from "./lib/run/cli.ts";
import { type Config, ConfigError } from "./lib/config/types.ts";
import { createBufferedSink, createLogger } from "./lib/obs/log.ts";
import { createHandler } from "./lib/run/handler.ts";
import { enableTracing } from "./lib/obs/tracing.ts";
import type { SpawnWorker } from "./lib/run/workers.ts";
import type { StartApiSession } from "./lib/templates/start_api.ts";

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
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
    ...START_API_OPTIONS,
  };
  for (const s of SETTINGS) options[s.flag] = { type: s.switch ? "boolean" : "string" };
  for (const [old, { flag }] of Object.entries(FLAG_ALIASES)) options[old] = options[flag]!;
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
  for (const [old, { flag, warning }] of Object.entries(FLAG_ALIASES)) {
    if (values[old] === undefined) continue;
    console.error(`lrp: warning: ${warning}`);
    values[flag] ??= values[old];
  }
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
  // start-api, and check with --template, read a SAM template or serverless.yml instead of an lrp.yaml.
  const templated = command === "start-api" || (command === "check" && values.template !== undefined);
  const stray = Object.keys(START_API_OPTIONS).find((k) => values[k] !== undefined);
  if ((!templated && stray) || (templated && operands.length > 0)) {
    console.error(
      templated
        ? `lrp: ${command} reads a template, not ${operands[0]}: name it with --template`
        : `lrp: --${stray} is an option of start-api (and --template of check); run "lrp --help" for usage`,
    );
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
    const { checkHealth, defaultHealthUrl, healthTarget } = await import("./lib/run/healthcheck.ts");
    const target = operands[0] === undefined ? undefined : healthTarget(operands[0]);
    if (target?.kind === "url") return reportHealth(await checkHealth(target.url));
    // A config file gives host, port and prefix; a base URL takes the prefix of the configuration lrp would read.
    const path = target?.kind === "config" ? target.path : env.LRP_CONFIG ?? "lrp.yaml";
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (target?.kind === "config") {
        const why = err instanceof Deno.errors.NotFound ? "no such file" : String(err);
        console.error(
          `lrp: healthcheck: cannot read ${path}: ${why}; pass a running lrp's URL (http://127.0.0.1:8080) or its config file`,
        );
        return 1;
      }
      // No readable file: the port and prefix come from the environment or defaults.
    }
    let config: Config;
    try {
      config = parseConfig(text, { source: path, env, flags });
    } catch (err) {
      console.error(err instanceof ConfigError ? invalidConfiguration(err) : `lrp: ${err}`);
      return 1;
    }
    if (target?.kind !== "base") return reportHealth(await checkHealth(defaultHealthUrl(config)));
    const prefix = config.internalRoutePrefix;
    const hint = prefix === ""
      ? "does this lrp set internal_route_prefix? pass its config file, lrp healthcheck lrp.yaml, or --internal-route-prefix"
      : undefined;
    return reportHealth(await checkHealth(`${target.base}${prefix}/ping`, undefined, hint));
  }

  let path = operands[0] ?? env.LRP_CONFIG ?? "lrp.yaml";
  let load = () => loadConfig(path, { env, flags });
  let session: StartApiSession | undefined;
  let config: Config;
  try {
    if (templated) {
      const { StartApiSession, startApiOptionsOf } = await import("./lib/templates/start_api.ts");
      const started = new StartApiSession(startApiOptionsOf(values), { env, flags });
      [session, path, load] = [started, started.template, () => started.load()];
    }
    config = await load();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(invalidConfiguration(err));
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
  if (command === "check" && session) {
    await session.prepare();
    console.log(`${path}: ok, the routes start-api would serve:`);
    for (const line of session.routeLines()) console.log(`  ${line}`);
    return 0;
  }
  if (command === "check") {
    for (const warning of config.warnings ?? []) console.error(`lrp: warning: ${warning}`);
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
  const watchPath = config.watchConfig || session?.options.watch;
  const watching = watchPath ? await import("./lib/run/watch.ts") : undefined;
  const base = createLogger(config.logLevel, stderrLines.write, stderrLines);
  const log = link && workerLink ? workerLink.withFields(base, { worker: workerId }) : base;
  // Said once: by the one process, or by the supervisor of workers.
  if (workerId === undefined) { for (const warning of config.warnings ?? []) log.warn(warning, {}); }
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
  if (session) {
    if (session.options.warm === "EAGER") running.prewarm();
    // Printed once the interpreters said their versions, off the path to serving.
    const table = session;
    void table.prepare().then(() => {
      for (const line of table.routeLines(running.addr.port)) console.log(line);
    });
  }
  const reload = () =>
    running.reload(load).then((ok) => {
      if (!ok || !session) return;
      if (session.options.warm === "EAGER") running.prewarm();
      const table = session;
      return table.prepare().then(() => {
        for (const line of table.routeLines(running.addr.port)) console.log(line);
      });
    });
  const onHangup = () => {
    log.info("reloading the configuration", { signal: "SIGHUP", config: path });
    void reload();
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onHangup);
  // A worker whose supervisor is gone drains like on SIGTERM (no orphans serving on).
  link?.lost.then(() => Deno.kill(Deno.pid, "SIGTERM"));
  link?.ready(running.addr.port);
  const watch = watchPath
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
  for (const warning of config.warnings ?? []) log.warn(warning, {});
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

/** Prints a health check's line (stdout when healthy, stderr when not); its exit code. */
function reportHealth(result: { ok: boolean; message: string }): number {
  (result.ok ? console.log : console.error)(`lrp: ${result.message}`);
  return result.ok ? 0 : 1;
}

/** A refused configuration as the user reads it: one line, or a count and one `file:line: key: …` line each. */
function invalidConfiguration(err: ConfigError): string {
  const { problems } = err;
  return problems.length === 1
    ? `lrp: invalid configuration: ${problems[0]}`
    : `lrp: invalid configuration, ${problems.length} mistakes:\n${problems.join("\n")}`;
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
