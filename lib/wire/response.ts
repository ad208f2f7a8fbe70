/**
 * The building blocks every result format (2.0, 1.0, ALB, streaming
 * prelude) shares to turn a function's answer into a `Response`: checked
 * status, checked headers and cookies, the body, and the `bad_result` error
 * for anything unusable (docs/wire-format.md, "Results").
 *
 * Pure.
 *
 * @module
 */

import { decodeBase64 } from "../bytes.ts";
import { LrpError } from "../errors.ts";

/** Statuses whose responses never carry a body (Fetch "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * Response headers a function may not set: hop-by-hop, the length lrp
 * computes itself, and `x-lrp-error`, which marks answers lrp made itself (a
 * function could otherwise pass its 404 off as lrp's `route_not_found`).
 */
const DROPPED_HEADERS = new Set([
  "x-lrp-error",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
  "content-length",
]);

const utf8 = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * The `Headers` of a function's result, which also keep, as they are
 * appended, what the server and the header-block cap need: the lines as they
 * go on the wire (names lower-cased, values trimmed as `Headers` trims them,
 * repeated names on lines of their own), their count and bytes, and whether
 * the function set `Date` or (for `HEAD`) `Content-Length`. Nothing iterates
 * (and so sorts and copies) them per request.
 */
export class ResultHeaders extends Headers {
  /** The header lines, each ending in CRLF. */
  wire = "";
  /** Header lines appended. */
  lines = 0;
  /** Their bytes on the wire: `name: value` plus CRLF per line. */
  bytes = 0;
  hasDate = false;
  hasLength = false;

  /** Appends a header line that has passed the result checks. */
  addLine(name: string, value: string): void {
    this.append(name, value);
    const lower = name.toLowerCase();
    const trimmed = trimOws(value);
    this.wire += `${lower}: ${trimmed}\r\n`;
    this.lines++;
    this.bytes += name.length + value.length + 4;
    if (lower === "date") this.hasDate = true;
    else if (lower === "content-length") this.hasLength = true;
  }
}

/** A value without leading and trailing spaces and tabs, as `Headers` stores it. */
function trimOws(value: string): string {
  let a = 0;
  let b = value.length;
  while (a < b && (value.charCodeAt(a) === 0x20 || value.charCodeAt(a) === 0x09)) a++;
  while (b > a && (value.charCodeAt(b - 1) === 0x20 || value.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === value.length ? value : value.slice(a, b);
}

/** The `bad_result` (502) error for an unusable function result. */
export function badResult(message: string, detail?: unknown): LrpError {
  return new LrpError("bad_result", `Cannot use the Lambda result: ${message}`, { detail });
}

/** Whether `v` is a JSON object (not an array, not null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Builds response headers from a result's `headers` map and `cookies` list:
 * each cookie becomes its own `Set-Cookie`; numbers and booleans are
 * stringified; hop-by-hop headers, `x-lrp-error` and `Content-Length` are
 * dropped (lrp frames the body itself) — except a `HEAD` answer's `Content-Length`, which states
 * the length of the body a `GET` would get, as the origin would. A name that
 * is not an RFC 9110 token, or a value or cookie outside the field-value
 * grammar ({@linkcode headerValueProblem}), makes the result unusable → 502,
 * so a function can never split the response nor hand the server a header
 * it cannot write.
 */
export function buildHeaders(headersField: unknown, cookiesField: unknown, method = "GET"): ResultHeaders {
  const keepLength = method === "HEAD";
  const headers = new ResultHeaders();
  if (headersField !== undefined && headersField !== null) {
    if (!isPlainObject(headersField)) throw badResult("`headers` must be an object of strings");
    for (const name in headersField) appendResultHeader(headers, name, headersField[name], keepLength);
  }
  if (cookiesField !== undefined && cookiesField !== null) {
    if (!Array.isArray(cookiesField)) throw badResult("`cookies` must be an array of strings");
    for (const c of cookiesField) {
      if (typeof c !== "string") throw badResult("`cookies` must be an array of strings");
      const problem = headerValueProblem(c);
      if (problem) throw badResult(`a cookie ${problem}`);
      try {
        headers.addLine("set-cookie", c);
      } catch {
        throw badResult("a cookie is not a valid Set-Cookie value");
      }
    }
  }
  return headers;
}

/**
 * Appends one header value from a result, with the rules of
 * {@linkcode buildHeaders}: `null`/absent skipped, numbers and booleans
 * stringified, hop-by-hop and `Content-Length` dropped, a name or value
 * outside the RFC 9110 grammar a `bad_result`.
 */
export function appendResultHeader(
  headers: ResultHeaders,
  name: string,
  raw: unknown,
  keepLength = false,
): void {
  if (raw === null || raw === undefined) return;
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
    throw badResult(`header "${name}" must be a string`);
  }
  const lower = name.toLowerCase();
  if (DROPPED_HEADERS.has(lower) && !(keepLength && lower === "content-length")) return;
  if (!TOKEN.test(name)) throw badResult(`header "${name}" has a name that is not an HTTP token`);
  const value = String(raw);
  const problem = headerValueProblem(value);
  if (problem) throw badResult(`header "${name}" ${problem}`);
  try {
    headers.addLine(name, value);
  } catch {
    throw badResult(`header "${name}" is not a valid HTTP header`);
  }
}

/** RFC 9110 `token`: the only names a header field may have. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Why `value` cannot be a header field value, or `undefined` when it can.
 * RFC 9110 `field-value` allows no control character but HTAB, and no DEL;
 * `Headers` does not refuse them all, the server writes values as they are,
 * and under `Deno.serve` one aborted the whole process: they must never reach
 * a `Response`. A character above U+00FF has no single-byte form on the wire.
 * `obs-text` (U+0080–U+00FF) is accepted and sent as that one Latin-1 byte, as
 * RFC 9110 still lets recipients accept it.
 */
export function headerValueProblem(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      return `contains the control character 0x${c.toString(16).padStart(2, "0")}`;
    }
    if (c > 0xff) return "contains a character above U+00FF, which has no byte form in HTTP/1.1";
  }
  return undefined;
}

/** The largest header block lrp passes on from a result. */
export interface HeaderLimits {
  /** Most header lines (each `Set-Cookie` counts). */
  maxCount: number;
  /** Most bytes, counted as on the wire: `name: value` plus CRLF per line. */
  maxBytes: number;
}

/**
 * Refuses a result whose header block is over `limits` with `bad_result`
 * (502), as a proxy refuses an oversized upstream header block (Envoy's
 * defaults are 100 headers and 60 KiB).
 */
export function checkHeaderBlock(headers: ResultHeaders, limits: HeaderLimits): void {
  const count = headers.lines;
  const bytes = headers.bytes;
  if (count > limits.maxCount) {
    throw badResult(`its ${count} headers are more than the ${limits.maxCount} allowed (max_result_headers)`);
  }
  if (bytes > limits.maxBytes) {
    throw badResult(
      `its header block of ${bytes} bytes is over the ${limits.maxBytes} allowed (max_result_header_bytes)`,
    );
  }
}

/** Validates a status code; Deno cannot send 1xx, so only 200–599 are usable. */
export function checkStatus(status: unknown): number {
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw badResult(
      `\`statusCode\` must be an integer from 200 to 599, got ${JSON.stringify(status) ?? "undefined"}`,
    );
  }
  return status;
}

/**
 * Makes the final response, dropping the body of a null-body status (204,
 * 205, 304), which `Response` would reject. `HEAD` bodies are dropped by the
 * server, which still reports their length as the origin would.
 */
export function makeResponse(
  status: number,
  headers: ResultHeaders,
  body: BodyInit | Uint8Array | null,
  method = "GET",
): Response {
  const noBody = NULL_BODY_STATUS.has(status) || (method === "HEAD" && headers.has("content-length"));
  if (noBody || method === "HEAD" || body === null) {
    return new KnownLengthResponse(noBody ? null : body as BodyInit, { status, headers }, 0);
  }
  if (body instanceof Uint8Array) {
    return new KnownLengthResponse(body as BodyInit, { status, headers }, body.byteLength);
  }
  return new ResultResponse(body, { status, headers });
}

/**
 * A response lrp built from a function's result, keeping the `Headers` it
 * was built from, so the header block can be checked without another copy
 * of `Response.headers`.
 */
export class ResultResponse extends Response {
  /** The headers lrp built from the result (the response holds a copy). */
  readonly resultHeaders: ResultHeaders;
  /** Creates the response. */
  constructor(body: BodyInit | null, init: { status: number; headers: ResultHeaders }) {
    super(body, init);
    this.resultHeaders = init.headers;
  }
}

/**
 * A response whose body lrp built from buffered bytes, carrying their
 * length, so metrics can count bytes out without wrapping the body in a
 * stream (which would turn a `Content-Length` response into a chunked one).
 */
export class KnownLengthResponse extends ResultResponse {
  /** The body, when it was given as bytes: lrp's server writes them without reading `body`. */
  readonly bodyBytes: Uint8Array | undefined;
  /** Creates the response; `bodyLength` is what the client will receive (0 for `HEAD`). */
  constructor(
    body: BodyInit | null,
    init: { status: number; headers: ResultHeaders },
    readonly bodyLength: number,
  ) {
    super(body, init);
    this.bodyBytes = body instanceof Uint8Array ? body : undefined;
  }
}

/** A result's `body` as bytes: a string, base64-decoded when `isBase64Encoded` is `true`; `null` when absent. */
export function resultBody(body: unknown, isBase64Encoded: unknown): Uint8Array | null {
  if (body === undefined || body === null) return null;
  if (typeof body !== "string") throw badResult("`body` must be a string");
  if (isBase64Encoded !== true) return utf8.encode(body);
  try {
    return decodeBase64(body);
  } catch {
    throw badResult("`body` is not valid base64 although `isBase64Encoded` is true");
  }
}

/** Parses a function's response bytes as JSON, or throws `bad_result`. */
export function parseResultJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(textDecoder.decode(payload));
  } catch {
    throw badResult("the function's response is not JSON", preview(payload));
  }
}

function preview(payload: Uint8Array): string {
  const text = textDecoder.decode(payload.subarray(0, 200));
  return payload.length > 200 ? `${text}…` : text;
}
