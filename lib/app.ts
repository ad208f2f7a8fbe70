/**
 * Wires a configuration into a running server: one invoker per rule, the
 * router, the handler, `Deno.serve`, and graceful shutdown.
 *
 * @module
 */

import { type Config, describeRules } from "./config.ts";
import { LrpError } from "./errors.ts";
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

/** Builds the invoker for one rule. */
export function buildInvoker(rule: Config["rules"][number]): Invoker {
  if (rule.kind === "local") {
    return new LocalInvoker({
      endpoint: rule.endpoint,
      concurrency: rule.concurrency,
      maxWaiting: rule.queueLimit,
      maxWaitMs: rule.queueTimeoutMs,
    });
  }
  return {
    describe: `aws ${rule.functionName}`,
    invoke: () =>
      Promise.reject(
        new LrpError(
          "not_implemented",
          `Cannot invoke ${rule.functionName}: aws rules are not supported yet`,
        ),
      ),
  };
}

/** Builds the router of a configuration. */
export function buildRouter(config: Config): Router<Invoker> {
  return createRouter(config.rules, buildInvoker);
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
