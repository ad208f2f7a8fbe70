/**
 * HTTP ⇄ Lambda payload format 1.0 (API Gateway REST API proxy integration,
 * docs/wire-format.md, "Payload format 1.0 and ALB"). Pure. The event is
 * derived from the 2.0 event `request.ts` builds, so both formats agree on every shared rule (body
 * encoding, forwarded headers, trace id, request context values).
 *
 * @module
 */

import type { EventV1, EventV2 } from "./event.ts";
import type { GatewayFacts } from "./gateway.ts";
import { eventHeaders, lastValues, mergedResultHeaders, queryValues, statusResult } from "./multivalue.ts";
import { decodeQueryComponent } from "./request.ts";
import { makeResponse, resultBody } from "./response.ts";

/**
 * Builds the 1.0 event from the 2.0 one: `resource` `/{proxy+}` with
 * `pathParameters.proxy` (`null` for `/`), `headers`/`multiValueHeaders`,
 * `queryStringParameters` (last value) and `multiValueQueryStringParameters`
 * (all values), both decoded and `null` without a query; `body` `null` when
 * empty; `stageVariables` `null`; `requestContext` with `identity`.
 *
 * With a route (`gateway`), the route decides instead: `resource` and
 * `requestContext.resourcePath` are its template, `pathParameters` its
 * variables (`null` when none), `stageVariables` and `requestContext.stage`
 * the stage's; a REST API's `path` is the path below the stage as sent and
 * its `requestContext.path` the one with the stage, while an HTTP API sends
 * its `rawPath` (decoded, with the stage) in both.
 */
export function eventV2ToV1(event: EventV2, gateway?: GatewayFacts): EventV1 {
  const ctx = event.requestContext;
  const headers = eventHeaders(event);
  const multiHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) multiHeaders[k] = [v];
  const multiQuery = queryValues(event.rawQueryString, decodeQueryComponent);
  const path = gateway ? (gateway.api === "rest" ? gateway.path : gateway.stagePath) : event.rawPath;
  const resource = gateway ? gateway.resource : "/{proxy+}";
  return {
    // A REST API sends no version (docs/routes.md, "Stages").
    ...(gateway?.api !== "rest" && { version: "1.0" as const }),
    resource,
    path,
    httpMethod: ctx.http.method,
    headers,
    multiValueHeaders: multiHeaders,
    queryStringParameters: multiQuery ? lastValues(multiQuery) : null,
    multiValueQueryStringParameters: multiQuery,
    pathParameters: gateway ? gateway.pathParameters ?? null : path === "/" ? null : { proxy: path.slice(1) },
    stageVariables: gateway?.stageVariables ?? null,
    requestContext: {
      accountId: ctx.accountId,
      apiId: ctx.apiId,
      resourceId: gateway ? resourceIdOf(resource) : "proxy",
      resourcePath: resource,
      httpMethod: ctx.http.method,
      path: gateway ? gateway.stagePath : path,
      stage: ctx.stage,
      protocol: ctx.http.protocol,
      requestId: ctx.requestId,
      extendedRequestId: ctx.requestId,
      requestTime: ctx.time,
      requestTimeEpoch: ctx.timeEpoch,
      domainName: ctx.domainName,
      domainPrefix: ctx.domainPrefix,
      identity: {
        sourceIp: ctx.http.sourceIp,
        userAgent: ctx.http.userAgent,
        accountId: null,
        caller: null,
        user: null,
        userArn: null,
        accessKey: null,
        apiKey: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
      },
    },
    body: event.body ?? null,
    isBase64Encoded: event.isBase64Encoded,
  };
}

/** A stable resource id for a template, shaped like API Gateway's (six lower-case letters and digits). */
function resourceIdOf(resource: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < resource.length; i++) h = Math.imul(h ^ resource.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36).padStart(6, "0").slice(-6);
}

/**
 * Turns a 1.0 result into a response: an object with `statusCode` is
 * required (1.0 has no inferred format; anything else is `bad_result`, as a
 * REST API answers "Malformed Lambda proxy response"); `headers` and
 * `multiValueHeaders` merged; `body` base64-decoded when `isBase64Encoded`.
 */
export function resultV1ToResponse(payload: Uint8Array, method = "GET"): Response {
  const { parsed, status } = statusResult(payload, "a payload 1.0 result");
  const headers = mergedResultHeaders(parsed.headers, parsed.multiValueHeaders, method);
  return makeResponse(status, headers, resultBody(parsed.body, parsed.isBase64Encoded), method);
}
