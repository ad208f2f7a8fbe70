/**
 * One generation's handler, its settings resolved once: the upstream
 * timeout's timer, the in-flight bound, the result header caps, the trusted
 * proxies, the own routes built on the handler's invocation path, and the
 * internal routes (`{prefix}/ping`, `/healthz`, `/metrics`).
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { LrpError } from "../errors.ts";
import type { Invoker } from "../invoke/types.ts";
import { Deadlines } from "../invoke/deadline.ts";
import type { Logger } from "../obs/log.ts";
import type { LrpMetrics } from "../obs/metrics.ts";
import { type ForwardTrust, parseCidr } from "../route/forwarded.ts";
import { internalAccess } from "../route/internal.ts";
import type { Router } from "../route/router.ts";
import type { HeaderLimits } from "../wire/response.ts";
import { InFlightBudget } from "./admission.ts";
import type { ExchangeRecorder, InvocationPath, OwnRoutes } from "./exchange.ts";
import { requestIds } from "./ids.ts";
import { invokeWithTimeout } from "./invoke_call.ts";
import { toResponse } from "./result_response.ts";

/** What the handler needs. */
export interface HandlerDeps {
  config: Config;
  router: Router<Invoker>;
  log: Logger;
  /** lrp's version, reported by `/healthz`. */
  version: string;
  /** Port actually listened on (for `x-forwarded-port`). */
  listenPort: number;
  /** Clock and id source; tests pin them. */
  now?: () => number;
  newRequestId?: () => string;
  /** Prometheus metrics: served at `{prefix}/metrics` (when set) and told about every request. */
  metrics?: LrpMetrics | undefined;
  /** The process-wide in-flight bound, shared across reloads; one from `config` when absent. */
  budget?: InFlightBudget | undefined;
  /** Told of every routed request (the inspector's recorder); whole bodies and events are kept for it. */
  recorder?: ExchangeRecorder | undefined;
  /** Routes answered before routing, on the handler's invocation path (the inspector's page and replay). */
  ownRoutes?: ((path: InvocationPath) => OwnRoutes) | undefined;
}

/** One generation's handler, its settings resolved once: what every step reads. */
export interface Scope {
  deps: HandlerDeps;
  config: Config;
  now: () => number;
  newRequestId: () => string;
  /** Every invocation's upstream timeout on one timer (the same length for the whole generation). */
  deadlines: Deadlines;
  budget: InFlightBudget;
  headerLimits: HeaderLimits;
  trust: ForwardTrust;
  recorder: ExchangeRecorder | undefined;
  ownRoutes: OwnRoutes | undefined;
  /** `{prefix}/ping`, `/healthz` and `/metrics`, or `undefined` for any other request. */
  internal: (path: string, method: string, host: string, peer: string) => Response | undefined;
}

/** Resolves `deps` once for a generation's handler. */
export function createScope(deps: HandlerDeps): Scope {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const newRequestId = deps.newRequestId ?? requestIds();
  const deadlines = new Deadlines(config.upstreamTimeoutMs);
  const headerLimits: HeaderLimits = {
    maxCount: config.maxResultHeaders,
    maxBytes: config.maxResultHeaderBytes,
  };
  const ownRoutes = deps.ownRoutes?.({
    now,
    newRequestId,
    invoke: (target, call, signal) => invokeWithTimeout(target, call, signal, config, deadlines),
    toResponse: (result, method, format) => toResponse(result, method, format, headerLimits),
  });
  return {
    deps,
    config,
    now,
    newRequestId,
    deadlines,
    budget: deps.budget ??
      new InFlightBudget({ maxRequests: config.maxInFlight, maxBytes: config.maxInFlightBytes }),
    headerLimits,
    trust: { all: config.trustForwardedHost, proxies: config.trustedProxies.map(parseCidr) },
    recorder: deps.recorder,
    ownRoutes,
    internal: internalRoutes(deps, now),
  };
}

/** `{prefix}/ping`, `/healthz` and `/metrics`, for the hosts and peers `internal_hosts` allows. */
function internalRoutes(
  deps: HandlerDeps,
  now: () => number,
): (path: string, method: string, host: string, peer: string) => Response | undefined {
  const prefix = deps.config.internalRoutePrefix;
  const pingPath = `${prefix}/ping`;
  const healthPath = `${prefix}/healthz`;
  const metricsPath = deps.metrics ? `${prefix}/metrics` : undefined;
  const startedAt = now();
  const mayReachInternal = internalAccess(deps.config.internalHosts);
  return (path, method, host, peer) => {
    if (path !== pingPath && path !== healthPath && path !== metricsPath) return undefined;
    // Anyone else is routed as usual: the function behind the Host, or 404.
    if (!mayReachInternal(host, peer)) return undefined;
    if (method !== "GET" && method !== "HEAD") {
      throw new LrpError(
        "method_not_allowed",
        `Cannot ${method} ${path}: internal routes answer GET and HEAD`,
        {
          headers: { allow: "GET, HEAD" },
        },
      );
    }
    if (path === pingPath) return new Response("pong", { headers: { "content-type": "text/plain" } });
    if (path === metricsPath) return deps.metrics!.response();
    return Response.json({
      status: "ok",
      version: deps.version,
      uptimeSeconds: Math.round((now() - startedAt) / 1000),
      routes: deps.router.routes.length,
    });
  };
}
