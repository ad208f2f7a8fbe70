/**
 * CORS as an HTTP API does it (docs/routes.md, "CORS"): the preflight
 * answered by the gateway, and the configured headers put on every answer
 * to a request with `Origin`, in place of any the function sent. Pure.
 *
 * @module
 */

import type { HeaderView } from "./header_lines.ts";
import { KnownLengthResponse, ResultHeaders, ResultResponse } from "./response.ts";

/** CORS as an HTTP API configures it (`cors:`). */
export interface CorsOptions {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  /** Seconds; absent sends no `Access-Control-Max-Age`. */
  maxAge?: number;
  allowCredentials: boolean;
}

/** Whether a request is a CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. */
export function isPreflight(method: string, headers: HeaderView): boolean {
  return method === "OPTIONS" && headers.get("origin") !== null &&
    headers.get("access-control-request-method") !== null;
}

/** The `Access-Control-Allow-Origin` value for `origin`, or `undefined` when the configuration does not allow it. */
export function allowedOrigin(cors: CorsOptions, origin: string): string | undefined {
  let any = false;
  for (const o of cors.allowOrigins) {
    if (o === origin) return origin;
    if (o === "*") any = true;
    else if (o.endsWith("://*") && origin.startsWith(o.slice(0, -1))) return origin;
  }
  return any ? "*" : undefined;
}

/**
 * The answer to a preflight: 204 without a body; the CORS headers only when
 * the origin is allowed (a disallowed origin gets the 204 bare, and the
 * browser refuses the request).
 */
export function preflightResponse(cors: CorsOptions, origin: string): Response {
  const headers = new Headers();
  const allow = allowedOrigin(cors, origin);
  if (allow !== undefined) {
    headers.set("access-control-allow-origin", allow);
    if (cors.allowCredentials) headers.set("access-control-allow-credentials", "true");
    if (cors.allowMethods.length) headers.set("access-control-allow-methods", cors.allowMethods.join(","));
    if (cors.allowHeaders.length) headers.set("access-control-allow-headers", cors.allowHeaders.join(","));
    if (cors.maxAge !== undefined) headers.set("access-control-max-age", String(cors.maxAge));
    if (allow !== "*") headers.set("vary", "Origin");
  }
  return new Response(null, { status: 204, headers });
}

/**
 * `response` with the function's `Access-Control-*` headers removed and,
 * when `origin` is present and allowed, the configured ones added
 * (`Allow-Origin`, `Allow-Credentials`, `Expose-Headers`). The body and its
 * known length are kept.
 */
export function withCors(response: Response, cors: CorsOptions, origin: string | null): Response {
  const allow = origin === null ? undefined : allowedOrigin(cors, origin);
  const own = response instanceof ResultResponse ? response.resultHeaders : response.headers;
  let theirs = false;
  for (const name of own.keys()) if (name.startsWith("access-control-")) theirs = true;
  if (!theirs && allow === undefined) return response;
  const headers = new ResultHeaders();
  for (const [name, value] of own) if (!name.startsWith("access-control-")) headers.addLine(name, value);
  if (allow !== undefined) {
    headers.addLine("access-control-allow-origin", allow);
    if (cors.allowCredentials) headers.addLine("access-control-allow-credentials", "true");
    if (cors.exposeHeaders.length) {
      headers.addLine("access-control-expose-headers", cors.exposeHeaders.join(","));
    }
  }
  const init = { status: response.status, headers };
  if (response instanceof KnownLengthResponse) {
    return new KnownLengthResponse(
      (response.bodyBytes ?? response.body) as BodyInit | null,
      init,
      response.bodyLength,
    );
  }
  return new ResultResponse(response.body, init);
}
