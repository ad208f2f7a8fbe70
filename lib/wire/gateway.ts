/**
 * What an API Gateway route changes in the events (docs/routes.md, "The
 * events"), and the gateway's own answer when no route matches. Pure.
 *
 * The 2.0 event `request.ts` builds is a Function URL's; {@linkcode applyGateway}
 * turns it into an HTTP API's. The 1.0 event of a routed rule reads the
 * same {@linkcode GatewayFacts} (`v1.ts`).
 *
 * @module
 */

import type { EventV2 } from "./event.ts";

/** The route a request took, as the events show it. */
export interface GatewayFacts {
  /** `http` (HTTP API) or `rest` (REST API). */
  api: "http" | "rest";
  /** `GET /pets/{id}`, `ANY /{proxy+}` or `$default`. */
  routeKey: string;
  /** The route's path template (`/pets/{id}`), or `$default`. */
  resource: string;
  stage: string;
  stageVariables?: Record<string, string> | undefined;
  pathParameters?: Record<string, string> | undefined;
  /** The path with the stage: HTTP API `rawPath` (decoded), REST `requestContext.path` (as sent). */
  stagePath: string;
  /** The path below the stage, as sent: REST `path`. */
  path: string;
  /** `api_id`, when configured: `requestContext.apiId`. */
  apiId?: string | undefined;
}

/**
 * Makes a Function URL's 2.0 event an HTTP API's: `routeKey` (both),
 * `rawPath` and `requestContext.http.path` (decoded, with a named stage),
 * `requestContext.stage`, `pathParameters` and `stageVariables` (only when
 * there are some), `requestContext.apiId` when configured.
 */
export function applyGateway(event: EventV2, g: GatewayFacts): void {
  const ctx = event.requestContext;
  event.routeKey = g.routeKey;
  ctx.routeKey = g.routeKey;
  ctx.stage = g.stage;
  if (g.apiId) ctx.apiId = g.apiId;
  if (g.api === "http") {
    event.rawPath = g.stagePath;
    ctx.http.path = g.stagePath;
  }
  if (g.pathParameters) event.pathParameters = g.pathParameters;
  if (g.stageVariables) event.stageVariables = g.stageVariables;
}

/** The bodies of the gateway's no-route answers, byte for byte. */
export const NO_ROUTE_BODY = {
  http: '{"message":"Not Found"}',
  rest: '{"message":"Missing Authentication Token"}',
} as const;

/**
 * The gateway's answer to a request no route matches: an HTTP API's 404
 * `{"message":"Not Found"}`, a REST API's 403 `{"message":"Missing
 * Authentication Token"}` (with its `x-amzn-ErrorType`), or an HTTP API's 400
 * for a path it cannot decode. `why` goes into `x-lrp-error`.
 */
export function noRouteResponse(answer: "http" | "rest", why: string, badPath = false): Response {
  const headers: Record<string, string> = { "content-type": "application/json", "x-lrp-error": ascii(why) };
  if (badPath) return new Response('{"message":"Bad Request"}', { status: 400, headers });
  if (answer === "rest") headers["x-amzn-errortype"] = "MissingAuthenticationTokenException";
  return new Response(NO_ROUTE_BODY[answer], { status: answer === "http" ? 404 : 403, headers });
}

/** A header value can only hold visible ASCII and spaces: anything else (a decoded path) becomes `?`. */
function ascii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}
