/**
 * The handler's API Gateway step, between the host's match and the
 * invocation: a CORS preflight answered without the function, the route
 * chosen by method and path (or the gateway's no-route answer), and what
 * the event and the response need of it (docs/routes.md).
 *
 * @module
 */

import type { RouteMatch } from "../route/router.ts";
import type { CorsOptions } from "../route/rule.ts";
import { isPreflight, preflightResponse } from "../wire/cors.ts";
import { type GatewayFacts, noRouteResponse } from "../wire/gateway.ts";
import type { HeaderView } from "../wire/header_lines.ts";

/** What the step decided. */
export type GatewayStep<T> =
  | {
    /** lrp answers itself: a preflight, or no route matched. */
    answer: Response;
    /** The access-log fields of that answer. */
    log: Record<string, unknown>;
  }
  | Routed<T>;

/** A request a route serves. */
export interface Routed<T> {
  answer?: undefined;
  /** The rule and target that serve the request, with the host pattern's captures. */
  route: RouteMatch<T>;
  /** The route, for the event; absent for a host without routes. */
  facts?: GatewayFacts | undefined;
  /** The CORS that applies to the response. */
  cors?: CorsOptions | undefined;
}

/** Decides how the request `method path` with `headers` to the matched host goes on. */
export function gatewayStep<T>(
  matched: RouteMatch<T>,
  method: string,
  path: string,
  headers: HeaderView,
): GatewayStep<T> {
  const apis = matched.apis;
  if (!apis) {
    const cors = matched.rule.cors;
    if (cors && isPreflight(method, headers)) {
      return { answer: preflightResponse(cors, headers.get("origin")!), log: { preflight: true } };
    }
    return { route: matched, cors };
  }
  if (isPreflight(method, headers)) {
    const cors = apis.corsFor(path);
    if (cors) return { answer: preflightResponse(cors, headers.get("origin")!), log: { preflight: true } };
  }
  const choice = apis.select(method, path);
  if (!choice.route) {
    return {
      answer: noRouteResponse(choice.answer, choice.why, choice.badPath),
      log: { error: "no_route", errorMessage: choice.why },
    };
  }
  const { key, api, cors, value } = choice.route;
  return {
    route: { ...value, params: matched.params },
    cors,
    facts: {
      api: api.kind,
      routeKey: key.key,
      resource: key.path,
      stage: api.stage,
      stageVariables: api.stageVariables,
      pathParameters: choice.pathParameters,
      stagePath: choice.stagePath,
      path: choice.path,
      apiId: api.id || undefined,
    },
  };
}
