/**
 * The invokers of a configuration: one per rule (`local` with its
 * endpoint's queue, `aws` on the shared Lambda clients, `functions` with its
 * runtime processes), which rules may share one across a reload, and the
 * router built from them.
 *
 * @module
 */

import { describeAwsTarget } from "../config/describe.ts";
import type { Config } from "../config/types.ts";
import type { Rule } from "../route/rule.ts";
import { AwsInvoker, LambdaClients } from "../invoke/aws.ts";
import { EndpointQueues, LocalInvoker } from "../invoke/local.ts";
import type { SlotSource } from "../invoke/queue.ts";
import type { Invoker } from "../invoke/types.ts";
import { type Logger, silentLogger } from "../obs/log.ts";
import { FunctionInvoker } from "../runtime/invoker.ts";
import { createRouter, type Router } from "../route/router.ts";

/** Rules that differ only in host name, position, routes, API and CORS can share their invoker (and its queue). */
export function invokerKey(rule: Config["rules"][number]): string {
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
export function lambdaClients(config: Config): LambdaClients | undefined {
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
