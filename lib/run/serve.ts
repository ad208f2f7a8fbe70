/**
 * Wires a configuration into a running server: one invoker per rule, the
 * router, the handler, lrp's HTTP server, metrics, reload and graceful shutdown.
 *
 * @module
 */

import { describeAwsTarget, describeRules } from "../config/describe.ts";
import { type Config, ConfigError } from "../config/types.ts";
import type { Rule } from "../route/rule.ts";
import { AwsInvoker, LambdaClients } from "../invoke/aws.ts";
import { EndpointQueues, LocalInvoker } from "../invoke/local.ts";
import type { SlotSource } from "../invoke/queue.ts";
import type { Invoker } from "../invoke/types.ts";
import { errorResponse, type LrpError } from "../errors.ts";
import { type Logger, silentLogger } from "../obs/log.ts";
import { FunctionInvoker } from "../runtime/invoker.ts";
import { LrpMetrics, type MetricsOptions, type QueueSource, type RequestDone } from "../obs/metrics.ts";
import { type InspectOptions, InspectRecorder } from "../obs/inspect.ts";
import { createRouter, type Router } from "../route/router.ts";
import { type ConnInfo, createHandler, type Handler } from "./handler.ts";
import { serverLimits } from "./http_server.ts";
import { requestIds } from "./ids.ts";
import { traceRequest } from "../obs/tracing.ts";
import type { IncomingRequest } from "../wire/request.ts";
import { serveResilient } from "./listen.ts";
import { InFlightBudget } from "./admission.ts";

/** A running lrp. */
export interface RunningLrp {
  /** The address actually listened on. */
  addr: Deno.NetAddr;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes pools. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** The configuration serving new requests. */
  readonly config: Config;
  /** Requests being handled now, across configuration generations. */
  readonly inFlight: number;
  /** Metrics, also served at `{prefix}/metrics` while the setting is on. */
  readonly metrics: LrpMetrics;
  /** The inspector's recorder while the `inspect` setting is on (kept across reloads). */
  readonly inspector: InspectRecorder | undefined;
  /**
   * Loads a new configuration with `load` and swaps it in without dropping a
   * request; resolves `false` (old configuration kept, error logged) when
   * `load` throws. Reloads run one at a time, in call order.
   */
  reload(load: () => Config | Promise<Config>): Promise<boolean>;
  /** Starts one process of every `functions:` rule now instead of on its first request. */
  prewarm(): void;
}

/** One configuration being served, and the requests still running on it. */
interface Generation {
  config: Config;
  router: Router<Invoker>;
  handler: Handler;
  inFlight: number;
  retired: boolean;
  /** Invokers this generation owns (closed once it is retired and idle). */
  owned: Set<Invoker>;
  /** The Lambda API clients of its aws rules, closed with it. */
  clients: LambdaClients | undefined;
}

/** Rules that differ only in host name, position, routes, API and CORS can share their invoker (and its queue). */
function invokerKey(rule: Config["rules"][number]): string {
  return JSON.stringify({ ...rule, hostname: "", line: 0, routes: 0, api: 0, cors: 0 });
}

/**
 * Builds the invoker for one rule. `aws` rules share `clients` (one
 * `LambdaClient` per region); it is required when there are aws rules.
 * `functions` rules log their processes' output and reports to `log`.
 */
export function buildInvoker(
  rule: Rule,
  clients?: LambdaClients,
  queues?: SlotSource,
  log: Logger = silentLogger,
): Invoker {
  if (rule.kind === "function") return new FunctionInvoker(rule, log);
  if (rule.kind === "local") {
    const limits = {
      concurrency: rule.concurrency,
      maxWaiting: rule.queueLimit,
      maxWaitMs: rule.queueTimeoutMs,
    };
    return new LocalInvoker({
      endpoint: rule.endpoint,
      ...limits,
      invokeMode: rule.invokeMode,
      queue: queues?.get(rule.endpoint, limits),
    });
  }
  if (!clients) throw new TypeError("Cannot build an aws invoker without a LambdaClients pool");
  return new AwsInvoker({
    clients,
    functionName: rule.functionName,
    qualifier: rule.qualifier,
    describe: `aws ${describeAwsTarget(rule)}`,
    invokeMode: rule.invokeMode,
  });
}

/** The shared Lambda API clients of a configuration's aws rules; none (and no SDK) without any. */
function lambdaClients(config: Config): LambdaClients | undefined {
  return config.rules.some((r) => r.kind === "aws")
    ? new LambdaClients({
      region: config.region,
      endpointUrl: config.endpointUrl,
      profile: config.awsProfile,
      credentials: config.awsCredentials,
    })
    : undefined;
}

/**
 * Builds the router of a configuration. The AWS SDK is loaded only when
 * there are aws rules; their shared client pool is closed with the last
 * route.
 */
export function buildRouter(config: Config): Router<Invoker> {
  const clients = lambdaClients(config);
  const queues = new EndpointQueues();
  const router = createRouter(config.rules, (rule) => buildInvoker(rule, clients, queues));
  if (clients && router.routes.length > 0) {
    const last = router.routes[router.routes.length - 1]!.target;
    last.close = () => clients.close();
  }
  return router;
}

/**
 * The answer to a request lrp's server refuses before any handler runs (a
 * malformed, oversized or too slow header block): lrp's error shape with a
 * request id, one `request refused` log line, and counted by `observe`.
 */
export function refusals(
  log: Logger,
  observe: (done: RequestDone, response: Response) => Response = (_, r) => r,
): (err: LrpError, peer: string) => Response {
  const ids = requestIds();
  return (err, peer) => {
    const requestId = ids();
    log.warn("request refused", {
      requestId,
      peer,
      status: err.status,
      error: err.code,
      errorMessage: err.message,
    });
    const response = errorResponse(err, { requestId, exposeDetails: false });
    return observe(
      { route: "unrouted", status: err.status, durationMs: 0, error: err.code, bytesIn: 0 },
      response,
    );
  };
}

/** How one serving process of several differs from a lone lrp (see `workers.ts`). */
export interface StartOptions {
  /** Share the port with sibling processes (`SO_REUSEPORT`). */
  reusePort?: boolean;
  /** Where local endpoints get their queues; default: this process's own. */
  queues?: SlotSource;
  /** Builds the metric set; default {@linkcode LrpMetrics}. */
  createMetrics?: (
    version: string,
    queues: () => Iterable<QueueSource>,
    options: MetricsOptions,
  ) => LrpMetrics;
}

/**
 * Starts serving `config`; logs the address and the route table once
 * listening.
 *
 * Requests go through a swappable reference to the current generation, so a
 * reload changes routes between two requests; each request finishes on the
 * generation it started with. Invokers whose rule did not change move to the
 * new generation (a local endpoint keeps its queue, so an RIE never sees two
 * invocations at once across a reload); the others are closed when the last
 * request of the old generation is done. The listen address cannot change.
 */
export function startLrp(
  config: Config,
  log: Logger,
  version: string,
  options: StartOptions = {},
): RunningLrp {
  let current: Generation;
  let listenPort = 0;
  const retiring = new Set<Generation>();
  // Outlive every generation: an endpoint keeps one queue across rules and reloads.
  const queues = options.queues ?? new EndpointQueues();
  const metricSet = options.createMetrics ?? ((v, q, o) => new LrpMetrics(v, q, o));
  const metrics = metricSet(version, () => queueSources(current), {
    endpointLabels: config.metricsEndpointLabels,
    droppedLogLines: () => log.droppedOutput?.() ?? 0,
  });
  // One bound for the process: requests of a retiring generation still count.
  const budget = new InFlightBudget({ maxRequests: config.maxInFlight, maxBytes: config.maxInFlightBytes });
  // Outlives generations too, so the page keeps its history and its live feed across a reload.
  let inspector: InspectRecorder | undefined;
  const inspectorFor = (cfg: Config): InspectRecorder | undefined => {
    if (!cfg.inspect) {
      inspector?.close();
      return inspector = undefined;
    }
    if (inspector) inspector.configure(inspectOptions(cfg));
    else inspector = new InspectRecorder(inspectOptions(cfg));
    return inspector;
  };

  const generation = (cfg: Config, previous?: Generation): Generation => {
    const pool = new Map<string, Invoker[]>();
    for (const r of previous?.router.routes ?? []) {
      const key = invokerKey(r.rule);
      pool.set(key, [...pool.get(key) ?? [], r.target]);
    }
    const owned = new Set<Invoker>();
    const clients = lambdaClients(cfg);
    const router = createRouter(cfg.rules, (rule) => {
      // Local invokers carry the endpoint's queue across a reload, function invokers their warm
      // processes; aws invokers are cheap and belong to the generation's own clients.
      const reused = rule.kind !== "aws" ? pool.get(invokerKey(rule))?.shift() : undefined;
      const invoker = reused ?? buildInvoker(rule, clients, queues, log);
      if (reused) previous!.owned.delete(reused);
      // A kept function restarts its processes if its code changed (a SIGHUP after a deploy).
      if (reused instanceof FunctionInvoker) reused.reloaded();
      owned.add(invoker);
      return invoker;
    });
    const handler = createHandler({
      config: cfg,
      router,
      log,
      version,
      listenPort,
      metrics: cfg.metrics ? metrics : undefined,
      budget,
      inspector: inspectorFor(cfg),
    });
    budget.setLimits({ maxRequests: cfg.maxInFlight, maxBytes: cfg.maxInFlightBytes });
    return { config: cfg, router, handler, inFlight: 0, retired: false, owned, clients };
  };

  const closeIfIdle = async (g: Generation) => {
    if (!g.retired || g.inFlight > 0 || !retiring.delete(g)) return;
    for (const invoker of g.owned) await invoker.close?.();
    await g.clients?.close();
  };

  const serve = async (request: IncomingRequest, info: ConnInfo) => {
    const g = current;
    g.inFlight++;
    metrics.inFlight.add({}, 1);
    try {
      return await traceRequest(request.method, request.url, () => g.handler(request, info));
    } finally {
      g.inFlight--;
      metrics.inFlight.add({}, -1);
      if (g.retired && g.inFlight === 0) void closeIfIdle(g);
    }
  };

  // lrp's server reads these for every connection: a reload changes them in place.
  const limits = serverLimits(config);
  const server = serveResilient({
    hostname: config.host,
    port: config.port,
    log,
    reusePort: options.reusePort ?? false,
    limits,
    refuse: refusals(
      log,
      (done, response) => current?.config.metrics ? metrics.observe(done, response) : response,
    ),
    onError: (err) => {
      // The handler answers every failure itself, so reaching here is a bug; answer in the usual shape.
      const requestId = crypto.randomUUID();
      log.error("bug: unhandled error in handler", { requestId, error: String(err) });
      return errorResponse(err, { requestId, exposeDetails: false });
    },
    handler: serve,
  });
  const addr = server.addr;
  listenPort = addr.port;
  current = generation(config);
  // Said once, at start-up, without holding it up: otherwise the first sign is a 502 per request.
  if (current.clients) {
    void credentialsProblem(current.clients).then((problem) => {
      if (problem === undefined) log.debug("AWS credentials found", {});
      else {
        log.warn("no AWS credentials: aws rules will answer 502 until some can be found", {
          error: problem,
          hint:
            "set AWS_PROFILE or aws_profile, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role",
        });
      }
    });
  }
  log.info("lrp listening", {
    address: `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`,
    config: config.source,
    routes: describeRules(config),
    descriptorLimit: server.descriptorLimit ?? "unknown",
    connectionCap: server.connectionCap ?? "unknown",
  });

  let reloading: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (load: () => Config | Promise<Config>): Promise<boolean> => {
    let next: Config;
    try {
      next = await load();
    } catch (err) {
      metrics.reloads.inc({ result: "error" });
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof ConfigError) {
        log.error("reload rejected: invalid configuration; still serving the previous one", {
          error: message,
        });
      } else log.error("reload failed; still serving the previous configuration", { error: message });
      return false;
    }
    const old = current;
    if (next.rules.length === 0 && old.config.rules.length > 0 && !next.allowEmptyReload) {
      // An empty or half-written file (an editor's save, a failed deploy) would otherwise
      // turn every request into a 404.
      metrics.reloads.inc({ result: "error" });
      log.error("reload rejected: the new configuration has no routes; still serving the previous one", {
        config: next.source,
        routes: old.config.rules.length,
        hint: "set allow_empty_reload (--allow-empty-reload, LRP_ALLOW_EMPTY_RELOAD) to accept it",
      });
      return false;
    }
    if (next.host !== old.config.host || next.port !== old.config.port) {
      log.warn("reload cannot change the listen address; restart lrp to move it", {
        listening: `${old.config.host}:${old.config.port}`,
        configured: `${next.host}:${next.port}`,
      });
    }
    if (next.logLevel !== old.config.logLevel) {
      log.warn("reload cannot change log_level; restart lrp to apply it", { logLevel: old.config.logLevel });
    }
    current = generation(next, old);
    Object.assign(limits, serverLimits(next));
    old.retired = true;
    retiring.add(old);
    void closeIfIdle(old);
    metrics.reloads.inc({ result: "ok" });
    log.info("configuration reloaded", { config: next.source, routes: describeRules(next) });
    for (const warning of next.warnings ?? []) log.warn(warning, {});
    return true;
  };

  return {
    addr,
    finished: server.finished,
    metrics,
    get inspector() {
      return inspector;
    },
    get config() {
      return current.config;
    },
    get inFlight() {
      let n = current.inFlight;
      for (const g of retiring) if (g !== current) n += g.inFlight;
      return n;
    },
    prewarm() {
      for (const invoker of current.owned) if (invoker instanceof FunctionInvoker) void invoker.prewarm();
    },
    reload(load) {
      const run = reloading.then(() => reloadOnce(load));
      reloading = run;
      return run;
    },
    async shutdown() {
      // The page's event streams would otherwise hold the graceful shutdown open until its timeout.
      inspector?.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), current.config.shutdownTimeoutMs);
      });
      const outcome = await Promise.race([server.shutdown().then(() => "done" as const), deadline]);
      clearTimeout(timer);
      if (outcome === "timeout") log.warn("shutdown timeout: in-flight requests were cut", {});
      for (const g of [...retiring, current]) {
        for (const invoker of g.owned) await invoker.close?.();
        await g.clients?.close();
      }
      retiring.clear();
    },
  };
}

/**
 * Why no credentials can be had from the SDK's chain for the default
 * region, or `undefined` when they resolve. Contacts no AWS API: the chain
 * reads the environment, profile files and (on AWS) the instance or
 * container metadata endpoint.
 */
export async function credentialsProblem(clients: LambdaClients): Promise<string | undefined> {
  if (clients.options.credentials) return undefined;
  try {
    const client = await clients.client(clients.options.region);
    await (client.config as unknown as { credentials: () => Promise<unknown> }).credentials();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function inspectOptions(cfg: Config): InspectOptions {
  return {
    capacity: cfg.inspectBuffer,
    bodyLimit: cfg.inspectBodyLimit,
    redact: cfg.redact,
    showSecrets: cfg.inspectShowSecrets,
  };
}

/** The local endpoints of a generation, for the queue gauges. */
function* queueSources(g: Generation | undefined): Iterable<QueueSource> {
  for (const r of g?.router.routes ?? []) {
    if (r.rule.kind === "local" && r.target instanceof LocalInvoker) {
      yield { route: r.rule.hostname, endpoint: r.rule.endpoint, stats: r.target.queue.stats };
    }
  }
}
