/**
 * Lambda payload format 2.0 result → HTTP response, as API Gateway HTTP
 * APIs and Function URLs read it (docs/wire-format.md, "Results").
 *
 * Pure.
 *
 * @module
 */

import type { ResultV2 } from "./event.ts";
import {
  buildHeaders,
  checkStatus,
  isPlainObject,
  makeResponse,
  parseResultJson,
  resultBody,
  ResultHeaders,
} from "./response.ts";

/**
 * Turns a payload format 2.0 result into a response (docs/wire-format.md, "Results"):
 * - a JSON object with `statusCode` is a structured result: `headers`,
 *   `cookies` (one `Set-Cookie` each), `body` (base64-decoded when
 *   `isBase64Encoded`);
 * - any other valid JSON (object without `statusCode`, array, string, number,
 *   `null`) is inferred: 200, `content-type: application/json`, and the body is
 *   the function's raw bytes — a returned string keeps its quotes, as the
 *   Function URL docs show;
 * - anything else (not JSON, bad `statusCode`, header or body) is unusable and
 *   throws an {@linkcode LrpError} `bad_result` (502).
 * No default `content-type` is added to a structured result that has none.
 */
export function resultToResponse(payload: Uint8Array, method = "GET"): Response {
  const parsed = parseResultJson(payload);
  if (!isPlainObject(parsed) || !("statusCode" in parsed)) {
    const headers = new ResultHeaders();
    headers.addLine("content-type", "application/json");
    return makeResponse(200, headers, payload, method);
  }
  return structuredToResponse(parsed, method);
}

/** The structured half of {@linkcode resultToResponse}, for an already parsed result. */
export function structuredToResponse(result: Record<string, unknown>, method = "GET"): Response {
  const r = result as Partial<Record<keyof ResultV2, unknown>>;
  const status = checkStatus(r.statusCode);
  const headers = buildHeaders(r.headers, r.cookies, method);
  return makeResponse(status, headers, resultBody(r.body, r.isBase64Encoded), method);
}
