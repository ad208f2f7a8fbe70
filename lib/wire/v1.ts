/**
 * HTTP ⇄ Lambda payload format 1.0 (API Gateway REST API proxy integration,
 * reference §3.1–3.2). Pure. The event is derived from the 2.0 event
 * `transform.ts` builds, so both formats agree on every shared rule (body
 * encoding, forwarded headers, trace id, request context values).
 *
 * @module
 */

import type { EventV1, EventV2 } from "./event.ts";
import {
  appendResultHeader,
  badResult,
  checkStatus,
  decodeQueryComponent,
  isPlainObject,
  makeResponse,
  parseResultJson,
  resultBody,
} from "./transform.ts";

/** A raw query split into keys with all their values, decoded or raw; `null` for no query. */
export function queryValues(
  query: string,
  decode: (s: string) => string,
): Record<string, string[]> | null {
  if (query === "") return null;
  const out: Record<string, string[]> = {};
  let any = false;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? "" : decode(part.slice(eq + 1));
    (out[key] ??= []).push(value);
    any = true;
  }
  return any ? out : null;
}

/** The last value of every key, as single-value maps hold it. */
export function lastValues(multi: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(multi)) out[k] = v[v.length - 1]!;
  return out;
}

/**
 * The request headers of a 2.0 event as 1.0 carries them: the `cookie`
 * header put back (2.0 moves it to `cookies`). Names are lower-case, as the
 * HTTP API documents for both formats (a REST API would keep the client's
 * casing, which Deno does not expose). Repeated header lines arrive joined
 * with `, ` by Deno, so each name has one value in `multiValueHeaders`.
 */
export function eventHeaders(event: EventV2): Record<string, string> {
  const headers = { ...event.headers };
  if (event.cookies) headers.cookie = event.cookies.join("; ");
  return headers;
}

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
 * Appends `multiValueHeaders` (arrays of values) and the single `headers`
 * a result carries; for a name in both, only the `multiValueHeaders` values
 * are used (reference §3.2).
 */
export function mergedResultHeaders(single: unknown, multi: unknown, method = "GET"): Headers {
  const keepLength = method === "HEAD";
  const headers = new Headers();
  const multiNames = new Set<string>();
  if (multi !== undefined && multi !== null) {
    if (!isPlainObject(multi)) throw badResult("`multiValueHeaders` must be an object of string arrays");
    for (const [name, values] of Object.entries(multi)) {
      if (values === null || values === undefined) continue;
      if (!Array.isArray(values)) throw badResult(`multiValueHeaders "${name}" must be an array`);
      multiNames.add(name.toLowerCase());
      for (const v of values) appendResultHeader(headers, name, v, keepLength);
    }
  }
  if (single !== undefined && single !== null) {
    if (!isPlainObject(single)) throw badResult("`headers` must be an object of strings");
    for (const [name, v] of Object.entries(single)) {
      if (!multiNames.has(name.toLowerCase())) appendResultHeader(headers, name, v, keepLength);
    }
  }
  return headers;
}

/**
 * Turns a 1.0 result into a response: an object with `statusCode` is
 * required (1.0 has no inferred format; anything else is `bad_result`, as a
 * REST API answers "Malformed Lambda proxy response"); `headers` and
 * `multiValueHeaders` merged; `body` base64-decoded when `isBase64Encoded`.
 */
export function resultV1ToResponse(payload: Uint8Array, method = "GET"): Response {
  const parsed = parseResultJson(payload);
  if (!isPlainObject(parsed) || !("statusCode" in parsed)) {
    throw badResult("a payload 1.0 result must be an object with statusCode");
  }
  const status = checkStatus(parsed.statusCode);
  const headers = mergedResultHeaders(parsed.headers, parsed.multiValueHeaders, method);
  return makeResponse(status, headers, resultBody(parsed.body, parsed.isBase64Encoded), method);
}
