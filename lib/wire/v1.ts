/**
 * HTTP ⇄ Lambda payload format 1.0 (API Gateway REST API proxy integration,
 * docs/wire-format.md, "Payload format 1.0 and ALB"). Pure. The event is
 * derived from the 2.0 event `request.ts` builds, so both formats agree on every shared rule (body
 * encoding, forwarded headers, trace id, request context values).
 *
 * @module
 */

import type { EventV1, EventV2 } from "./event.ts";
import { eventHeaders, lastValues, mergedResultHeaders, queryValues, statusResult } from "./multivalue.ts";
import { decodeQueryComponent } from "./request.ts";
import { makeResponse, resultBody } from "./response.ts";

/**
 * Builds the 1.0 event from the 2.0 one: `resource` `/{proxy+}` with
 * `pathParameters.proxy` (`null` for `/`), `headers`/`multiValueHeaders`,
 * `queryStringParameters` (last value) and `multiValueQueryStringParameters`
 * (all values), both decoded and `null` without a query; `body` `null` when
 * empty; `stageVariables` `null`; `requestContext` with `identity`.
 */
export function eventV2ToV1(event: EventV2): EventV1 {
  const ctx = event.requestContext;
  const headers = eventHeaders(event);
  const multiHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) multiHeaders[k] = [v];
  const multiQuery = queryValues(event.rawQueryString, decodeQueryComponent);
  const path = event.rawPath;
  return {
    version: "1.0",
    resource: "/{proxy+}",
    path,
    httpMethod: ctx.http.method,
    headers,
    multiValueHeaders: multiHeaders,
    queryStringParameters: multiQuery ? lastValues(multiQuery) : null,
    multiValueQueryStringParameters: multiQuery,
    pathParameters: path === "/" ? null : { proxy: path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: ctx.accountId,
      apiId: ctx.apiId,
      resourceId: "proxy",
      resourcePath: "/{proxy+}",
      httpMethod: ctx.http.method,
      path,
      stage: "$default",
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
