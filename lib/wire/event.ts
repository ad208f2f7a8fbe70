/**
 * Wire types of the Lambda events lrp sends and the results it reads back.
 *
 * Types only: the rules that produce and consume them live in `request.ts`,
 * `result.ts`, `v1.ts` and `alb.ts`. Field rules: docs/wire-format.md, "The
 * request event", "Results" and "Payload format 1.0 and ALB".
 *
 * @module
 */

/** Payload format 2.0 request event (API Gateway HTTP API / Lambda Function URL). */
export interface EventV2 {
  version: "2.0";
  routeKey: string;
  rawPath: string;
  /** Without the leading `?`; `""` when there is none. */
  rawQueryString: string;
  /** One `name=value` element per cookie pair; absent when the request has none. */
  cookies?: string[];
  /** Lower-cased names; repeated headers joined with `,`. */
  headers: Record<string, string>;
  /** Decoded values; repeated keys joined with `,`; absent when there is no query. */
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  stageVariables?: Record<string, string>;
  requestContext: RequestContextV2;
  /** Absent when the request has no body. */
  body?: string;
  isBase64Encoded: boolean;
}

/** `requestContext` of a payload 2.0 event. */
export interface RequestContextV2 {
  accountId: string;
  apiId: string;
  domainName: string;
  domainPrefix: string;
  http: {
    method: string;
    path: string;
    protocol: string;
    sourceIp: string;
    userAgent: string;
  };
  requestId: string;
  routeKey: string;
  stage: string;
  /** Common Log Format in UTC: `dd/MMM/yyyy:HH:mm:ss +0000`. */
  time: string;
  /** Epoch milliseconds. */
  timeEpoch: number;
}

/** Payload format 2.0 structured result (an object that has `statusCode`). */
export interface ResultV2 {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** Payload format 1.0 request event (API Gateway REST API proxy integration). */
export interface EventV1 {
  /** Absent in a REST API's events; HTTP APIs (and lrp's rules without routes) send `"1.0"`. */
  version?: "1.0";
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string> | null;
  multiValueHeaders: Record<string, string[]> | null;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: Record<string, string> | null;
  stageVariables: Record<string, string> | null;
  requestContext: Record<string, unknown>;
  body: string | null;
  isBase64Encoded: boolean;
}

/** Application Load Balancer target-group event. */
export interface EventAlb {
  requestContext: { elb: { targetGroupArn: string } };
  httpMethod: string;
  path: string;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

/** The prelude of a Function URL streaming response (`HttpResponseStream.from`). */
export interface StreamingPrelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}
