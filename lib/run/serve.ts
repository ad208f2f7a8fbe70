/**
 * Wires a configuration into a running server: one invoker per rule, the
 * router, the handler, `Deno.serve`, metrics, reload and graceful shutdown.
 *
 * @module
 */

import { describeAwsTarget, describeRules } from "../config/describe.ts";
import { type Config, ConfigError } from "../config/types.ts";
import type { Rule } from "../route/rule.ts";
import { AwsInvoker, LambdaClients } from "../invoke/aws.ts";
import { EndpointQueues, LocalInvoker } from "../invoke/local.ts";
import type { Invoker } from "../invoke/types.ts";
import type { Logger } from "../obs/log.ts";
import { type InspectOptions, InspectRecorder } from "../obs/inspect.ts";
import { LrpMetrics, type QueueSource } from "../obs/metrics.ts";
import { createRouter, type Router } from "../route/router.ts";
import { createHandler, type Handler } from "./handler.ts";

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

/** Rules that differ only in host name and position can share their invoker (and its queue). */
function invokerKey(rule: Config["rules"][number]): string {
  return JSON.stringify({ ...rule, hostname: "", line: 0 });
}

/**
 * Builds the invoker for one rule. `aws` rules share `clients` (one
 * `LambdaClient` per region); it is required when there are aws rules.
 */
export function buildInvoker(rule: Rule, clients?: LambdaClients, queues?: EndpointQueues): Invoker {
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
export function startLrp(config: Config, log: Logger, version: string): RunningLrp {
  let current: Generation;
  let listenPort = 0;
  const retiring = new Set<Generation>();
  // Outlive every generation: an endpoint keeps one queue across rules and reloads.
  const queues = new EndpointQueues();
  const metrics = new LrpMetrics(version, () => queueSources(current));
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
      // Local invokers carry the endpoint's queue across a reload; aws invokers are cheap and
      // belong to the generation's own clients.
      const reused = rule.kind === "local" ? pool.get(invokerKey(rule))?.shift() : undefined;
      const invoker = reused ?? buildInvoker(rule, clients, queues);
      if (reused) previous!.owned.delete(reused);
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
      inspector: inspectorFor(cfg),
    });
    return { config: cfg, router, handler, inFlight: 0, retired: false, owned, clients };
  };

  const closeIfIdle = async (g: Generation) => {
    if (!g.retired || g.inFlight > 0 || !retiring.delete(g)) return;
    for (const invoker of g.owned) await invoker.close?.();
    await g.clients?.close();
  };

  const serve = async (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const g = current;
    g.inFlight++;
    metrics.inFlight.add({}, 1);
    try {
      return await g.handler(request, info);
    } finally {
      g.inFlight--;
      metrics.inFlight.add({}, -1);
      if (g.retired && g.inFlight === 0) void closeIfIdle(g);
    }
  };

  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: () => {},
    onError: (err) => {
      log.error("bug: unhandled error in handler", { error: String(err) });
      return Response.json({ error: "internal", message: "Internal error in lrp" }, { status: 500 });
    },
  }, serve);
  const addr = server.addr as Deno.NetAddr;
  listenPort = addr.port;
  current = generation(config);
  log.info("lrp listening", {
    address: `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`,
    config: config.source,
    routes: describeRules(config),
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
    old.retired = true;
    retiring.add(old);
    void closeIfIdle(old);
    metrics.reloads.inc({ result: "ok" });
    log.info("configuration reloaded", { config: next.source, routes: describeRules(next) });
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
