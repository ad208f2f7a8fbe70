/**
 * Wires a configuration into a running server: one invoker per rule, the
 * router, the handler, `Deno.serve`, and graceful shutdown.
 *
 * @module
 */

import { type Config, describeAwsTarget, describeRules, type Rule } from "./config.ts";
import { AwsInvoker, LambdaClients } from "./invoke/aws.ts";
import { LocalInvoker } from "./invoke/local.ts";
import type { Invoker } from "./invoke/types.ts";
import type { Logger } from "./log.ts";
import { createRouter, type Router } from "./router.ts";
import { createHandler } from "./server.ts";

/** A running lrp. */
export interface RunningLrp {
  /** The address actually listened on. */
  addr: Deno.NetAddr;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes pools. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Builds the invoker for one rule. `aws` rules share `clients` (one
 * `LambdaClient` per region); it is required when there are aws rules.
 */
export function buildInvoker(rule: Rule, clients?: LambdaClients): Invoker {
  if (rule.kind === "local") {
    return new LocalInvoker({
      endpoint: rule.endpoint,
      concurrency: rule.concurrency,
      maxWaiting: rule.queueLimit,
      maxWaitMs: rule.queueTimeoutMs,
      invokeMode: rule.invokeMode,
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

/**
 * Builds the router of a configuration. The AWS SDK is loaded only when
 * there are aws rules; their shared client pool is closed with the last
 * route.
 */
export function buildRouter(config: Config): Router<Invoker> {
  const clients = config.rules.some((r) => r.kind === "aws")
    ? new LambdaClients({
      region: config.region,
      endpointUrl: config.endpointUrl,
      profile: config.awsProfile,
    })
    : undefined;
  const router = createRouter(config.rules, (rule) => buildInvoker(rule, clients));
  if (clients && router.routes.length > 0) {
    const last = router.routes[router.routes.length - 1]!.target;
    last.close = () => clients.close();
  }
  return router;
}

/** Starts serving `config`; logs the address and the route table once listening. */
export function startLrp(config: Config, log: Logger, version: string): RunningLrp {
  const router = buildRouter(config);
  const current: { handler?: ReturnType<typeof createHandler> } = {};
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: () => {},
    onError: (err) => {
      log.error("bug: unhandled error in handler", { error: String(err) });
      return Response.json({ error: "internal", message: "Internal error in lrp" }, { status: 500 });
    },
  }, (request, info) => current.handler!(request, info));
  const addr = server.addr as Deno.NetAddr;
  current.handler = createHandler({ config, router, log, version, listenPort: addr.port });
  log.info("lrp listening", {
    address: `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`,
    config: config.source,
    routes: describeRules(config),
  });
  const closeAll = async () => {
    for (const r of router.routes) await r.target.close?.();
  };
  return {
    addr,
    finished: server.finished,
    async shutdown() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutMs);
      });
      const outcome = await Promise.race([server.shutdown().then(() => "done" as const), deadline]);
      clearTimeout(timer);
      if (outcome === "timeout") log.warn("shutdown timeout: in-flight requests were cut", {});
      await closeAll();
    },
  };
}
