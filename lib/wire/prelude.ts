/**
 * The Function URL streaming prelude: the JSON head (`statusCode`,
 * `headers`, `cookies`) that `awslambda.HttpResponseStream.from` writes
 * before 8 NUL bytes and the body (docs/wire-format.md, "Response
 * streaming").
 *
 * Pure.
 *
 * @module
 */

import type { StreamingPrelude } from "./event.ts";
import { badResult, buildHeaders, checkStatus, isPlainObject, makeResponse } from "./response.ts";

const textDecoder = new TextDecoder();

/** Stream content type of a function that used `awslambda.HttpResponseStream.from` (docs/wire-format.md, "Response streaming"). */
export const HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response";

/** Whether a content type (parameters ignored) is the HTTP-integration one. */
export function isHttpIntegration(contentType: string | null | undefined): boolean {
  return contentType?.split(";")[0]?.trim().toLowerCase() === HTTP_INTEGRATION_CONTENT_TYPE;
}

/** The 8 NUL bytes that end a streaming prelude (docs/wire-format.md, "Response streaming"). */
export const DELIMITER_LENGTH = 8;

/**
 * Finds a Function URL streaming prelude at the start of a buffered body:
 * JSON object + 8×NUL + body bytes, as the classic RIE returns a
 * `HttpResponseStream.from` handler's output (docs/wire-format.md, "The RIE"). Returns
 * `undefined` when the bytes are not framed that way (then they are an
 * ordinary result).
 */
export function splitPrelude(bytes: Uint8Array): { prelude: StreamingPrelude; body: Uint8Array } | undefined {
  if (bytes[0] !== 0x7b) return undefined; // "{"
  const at = findDelimiter(bytes, 0);
  if (at === -1) return undefined;
  let prelude: unknown;
  try {
    prelude = JSON.parse(textDecoder.decode(bytes.subarray(0, at)));
  } catch {
    return undefined;
  }
  if (!isPlainObject(prelude)) return undefined;
  return { prelude: prelude as StreamingPrelude, body: bytes.subarray(at + DELIMITER_LENGTH) };
}

/** Index of the first run of 8 NUL bytes at or after `from`, or -1. */
export function findDelimiter(bytes: Uint8Array, from: number): number {
  let run = 0;
  for (let i = from; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      if (++run === DELIMITER_LENGTH) return i - DELIMITER_LENGTH + 1;
    } else run = 0;
  }
  return -1;
}

/**
 * Turns a streaming prelude and its body into a response: `statusCode`
 * (default 200), `headers`, one `Set-Cookie` per cookie, as a Function URL
 * does. Bad values are a `bad_result` (502).
 */
export function preludeToResponse(
  prelude: StreamingPrelude,
  body: BodyInit | Uint8Array | null,
  method = "GET",
): Response {
  const p = prelude as Record<string, unknown>;
  const status = p.statusCode === undefined ? 200 : checkStatus(p.statusCode);
  const headers = buildHeaders(p.headers, p.cookies, method);
  return makeResponse(status, headers, body, method);
}

/**
 * Parses the bytes before the delimiter as a prelude: a JSON object, or a
 * `bad_result` (502).
 */
export function parsePrelude(bytes: Uint8Array): StreamingPrelude {
  let prelude: unknown;
  try {
    prelude = JSON.parse(textDecoder.decode(bytes));
  } catch {
    throw badResult("the streaming prelude is not JSON");
  }
  if (!isPlainObject(prelude)) throw badResult("the streaming prelude is not a JSON object");
  return prelude as StreamingPrelude;
}
