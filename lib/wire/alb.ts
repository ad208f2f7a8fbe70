/**
 * HTTP ⇄ Application Load Balancer Lambda-target events (docs/wire-format.md,
 * "Payload format 1.0 and ALB").
 * Pure. Derived from the 2.0 event so the shared rules (body encoding,
 * forwarded headers, trace id) are the same.
 *
 * @module
 */

import type { EventAlb, EventV2 } from "./event.ts";
import { eventHeaders, lastValues, mergedResultHeaders, queryValues, statusResult } from "./multivalue.ts";
import { makeResponse, resultBody } from "./response.ts";

/** Target group ARN lrp reports in `requestContext.elb` (there is no real target group). */
export const LRP_TARGET_GROUP_ARN =
  "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lrp/0000000000000000";

/**
 * Builds the ALB event from the 2.0 one. Query keys and values are **not**
 * decoded (the ALB passes them as sent); the last value of a repeated key
 * wins, unless `multiValue` (the target group's
 * `lambda.multi_value_headers.enabled`) is on: then
 * `multiValueHeaders`/`multiValueQueryStringParameters` replace
 * `headers`/`queryStringParameters`. Without a query the map is `{}`; an
 * empty body is `""`.
 */
export function eventV2ToAlb(event: EventV2, multiValue: boolean): EventAlb {
  const headers = eventHeaders(event);
  const query = queryValues(event.rawQueryString, (s) => s) ?? {};
  const alb: EventAlb = {
    requestContext: { elb: { targetGroupArn: LRP_TARGET_GROUP_ARN } },
    httpMethod: event.requestContext.http.method,
    path: event.rawPath,
    body: event.body ?? "",
    isBase64Encoded: event.isBase64Encoded,
  };
  if (multiValue) {
    alb.multiValueQueryStringParameters = query;
    alb.multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  } else {
    alb.queryStringParameters = lastValues(query);
    alb.headers = headers;
  }
  return alb;
}

/**
 * Turns an ALB result into a response: `statusCode` required
 * (`statusDescription` is the reason phrase, which HTTP/1.1 clients ignore
 * and lrp does not send); in multi-value mode the headers come from
 * `multiValueHeaders` only, otherwise from `headers` only, as the ALB reads
 * them; `body` base64-decoded when `isBase64Encoded`.
 */
export function resultAlbToResponse(payload: Uint8Array, multiValue: boolean, method = "GET"): Response {
  const { parsed, status } = statusResult(payload, "an ALB result");
  const headers = multiValue
    ? mergedResultHeaders(undefined, parsed.multiValueHeaders, method)
    : mergedResultHeaders(parsed.headers, undefined, method);
  return makeResponse(status, headers, resultBody(parsed.body, parsed.isBase64Encoded), method);
}
