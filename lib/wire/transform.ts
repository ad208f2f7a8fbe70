/**
 * HTTP ⇄ Lambda payload format 2.0, exactly as API Gateway HTTP APIs and
 * Lambda Function URLs do it (`shared/reference/lambda-wire-formats.md` §1–2,
 * §5.4).
 *
 * Pure: no clock, no randomness, no I/O. The request id, the time and the
 * peer address come in as {@linkcode RequestMeta} so tests pin them.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { EventV2, ResultV2, StreamingPrelude } from "./event.ts";
import { LrpError } from "../errors.ts";

/** What the transform needs to know about a request besides the request itself. */
export interface RequestMeta {
  /** Unique id of this request (`requestContext.requestId`). */
  requestId: string;
  /** Arrival time, epoch milliseconds. */
  timeEpoch: number;
  /** IP of the immediate TCP peer, without port. */
  sourceIp: string;
  /** Port lrp listens on, for `x-forwarded-port`. */
  listenPort: number;
  /** `x-amzn-trace-id` to use when the client sent none. */
  traceId: string;
  /**
   * The peer is a trusted proxy: its `x-forwarded-proto`/`-port` describe the
   * client's connection and are kept. From anyone else they are replaced, as a
   * Function URL replaces them, so a function cannot be told `https` by a client.
   */
  trustedPeer?: boolean;
}

/** The parts of a request target, split without any normalisation. */
export interface RawTarget {
  /** Path exactly as sent: percent-encoding kept, no dot-segment removal. */
  path: string;
  /** Query without `?`; `""` when none. */
  query: string;
}

/**
 * Splits a request URL as Deno hands it over (`scheme://authority` + the raw
 * request target) into path and query, without `new URL()`, which would
 * resolve `..`, re-encode characters and so change what the function sees.
 * A fragment (never sent by browsers) is dropped.
 */
export function splitTarget(url: string): RawTarget {
  let start = 0;
  const scheme = url.indexOf("://");
  if (scheme !== -1) {
    start = url.indexOf("/", scheme + 3);
    if (start === -1) return { path: "/", query: "" };
  }
  let end = url.length;
  const hash = url.indexOf("#", start);
  if (hash !== -1) end = hash;
  const q = url.indexOf("?", start);
  if (q !== -1 && q < end) return { path: url.slice(start, q) || "/", query: url.slice(q + 1, end) };
  return { path: url.slice(start, end) || "/", query: "" };
}

/**
 * Normalises a `Host` header value for routing and `domainName`: lower-cased,
 * port removed, one trailing dot removed; IPv6 literals keep their brackets
 * (`[::1]:8080` → `[::1]`). Returns `""` for an empty or absent host.
 */
export function normalizeHost(host: string | null): string {
  if (!host) return "";
  let h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const close = h.indexOf("]");
    return close === -1 ? h : h.slice(0, close + 1);
  }
  const colon = h.lastIndexOf(":");
  if (colon !== -1) h = h.slice(0, colon);
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

/**
 * Media types whose bodies AWS passes as text; every other type, a missing
 * `Content-Type`, `application/x-www-form-urlencoded` and `multipart/*`
 * included, is base64-encoded (reference §1.3: the ALB list, which HTTP APIs
 * were measured to follow). Media-type parameters are ignored, so
 * `application/json; charset=utf-8` is text. `+json`/`+xml` suffix types are
 * not on AWS's list and are base64-encoded (an open point, decided for the
 * documented list).
 */
export function isTextContentType(contentType: string | null): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(";");
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return media.startsWith("text/") || media === "application/json" ||
    media === "application/javascript" || media === "application/xml";
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Encodes a request body for the event. Text types go as a string; bytes that
 * are not valid UTF-8 go as base64 even for a text type, so no byte is ever
 * replaced (lossless beats a mangled string the function cannot repair).
 */
export function encodeBody(
  body: Uint8Array,
  contentType: string | null,
): { body: string; isBase64Encoded: boolean } {
  if (isTextContentType(contentType)) {
    try {
      return { body: fatalUtf8.decode(body), isBase64Encoded: false };
    } catch {
      // not UTF-8: fall through to base64
    }
  }
  return { body: encodeBase64(body), isBase64Encoded: true };
}

/** Standard base64 (with padding) of bytes. */
export function encodeBase64(bytes: Uint8Array): string {
  // Node's native codec: about 10x faster than btoa over a binary string for 1 MB bodies.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Strict base64 decoding; throws `TypeError` on anything but standard base64. */
export function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/[\r\n]/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new TypeError("Cannot decode base64: invalid characters or length");
  }
  // Validated above, because Buffer itself would silently skip bad characters.
  const buf = Buffer.from(clean, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decodes one query key or value: `+` is a space, malformed escapes are kept as sent. */
export function decodeQueryComponent(s: string): string {
  if (s.indexOf("%") === -1 && s.indexOf("+") === -1) return s;
  const spaced = s.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed escapes are kept as sent rather than failing the request.
    return spaced;
  }
}

/**
 * Decodes a raw query into `queryStringParameters`: values percent-decoded
 * (`+` as space, as in form encoding), repeated keys joined with `,`
 * (`x=1&x=2` → `{"x":"1,2"}`), a key without `=` gets `""`. Returns
 * `undefined` for an empty query, because AWS omits the field then.
 */
export function parseQueryParameters(query: string): Record<string, string> | undefined {
  if (query === "") return undefined;
  const params: Record<string, string> = {};
  let any = false;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decodeQueryComponent(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? "" : decodeQueryComponent(part.slice(eq + 1));
    const prev = params[key];
    params[key] = prev === undefined ? value : `${prev},${value}`;
    any = true;
  }
  return any ? params : undefined;
}

/**
 * Splits `Cookie` header text into cookie pairs (`a=1; b=2` → `["a=1","b=2"]`).
 * Several `Cookie` headers arrive joined with `; ` and split the same way.
 */
export function splitCookies(cookie: string | null): string[] | undefined {
  if (!cookie) return undefined;
  const out: string[] = [];
  for (const piece of cookie.split(";")) {
    const c = piece.trim();
    if (c !== "") out.push(c);
  }
  return out.length === 0 ? undefined : out;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
let clfSecond = -1;
let clfText = "";

/** Common Log Format in UTC with a literal `+0000` (`07/Sep/2021:22:50:22 +0000`). */
export function formatClfTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second === clfSecond) return clfText;
  const d = new Date(second * 1000);
  const text = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    pad2(d.getUTCHours())
  }:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
  clfSecond = second;
  clfText = text;
  return text;
}

/**
 * Hop-by-hop request headers (RFC 9110 §7.6.1): they describe lrp's own
 * connection, and AWS's front ends never pass them to a function.
 */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Builds the payload format 2.0 event for a request, as a Function URL does:
 * - `headers`: names lower-cased, repeats joined (Deno's `Headers` joins
 *   repeated lines with `, `); hop-by-hop headers dropped; `cookie` moves to
 *   `cookies` and is not copied;
 *   headers named by `Connection` are dropped too;
 *   `x-forwarded-for` (peer appended), `x-forwarded-proto`, `x-forwarded-port`
 *   (set by lrp unless a trusted proxy sent them)
 *   and `x-amzn-trace-id` are added as AWS adds them;
 * - `rawPath` and `rawQueryString` exactly as sent; `queryStringParameters`
 *   decoded; both omitted/empty as AWS does;
 * - `body` omitted when empty, base64 by {@linkcode isTextContentType};
 * - `requestContext` complete, with `domainName`/`domainPrefix` from the Host.
 */
export function requestToEvent(request: Request, body: Uint8Array | null, meta: RequestMeta): EventV2 {
  const { path, query } = splitTarget(request.url);
  const headers: Record<string, string> = {};
  let cookie: string | null = null;
  // Headers named by `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
  const listed = request.headers.get("connection")?.toLowerCase().split(",").map((t) => t.trim());
  for (const [name, value] of request.headers) {
    if (name === "cookie") cookie = value;
    else if (!HOP_BY_HOP.has(name) && !listed?.includes(name)) headers[name] = value;
  }
  const xff = headers["x-forwarded-for"];
  headers["x-forwarded-for"] = xff ? `${xff}, ${meta.sourceIp}` : meta.sourceIp;
  if (meta.trustedPeer) {
    headers["x-forwarded-proto"] ??= "http";
    headers["x-forwarded-port"] ??= String(meta.listenPort);
  } else {
    headers["x-forwarded-proto"] = "http";
    headers["x-forwarded-port"] = String(meta.listenPort);
  }
  headers["x-amzn-trace-id"] ??= meta.traceId;

  const domainName = normalizeHost(headers["host"] ?? null);
  const dot = domainName.startsWith("[") ? -1 : domainName.indexOf(".");
  const domainPrefix = dot === -1 ? domainName : domainName.slice(0, dot);
  // Keys in the order AWS writes them (§1.1), so a logged event reads the same.
  const cookies = splitCookies(cookie);
  const params = parseQueryParameters(query);
  const encoded = body && body.length > 0 ? encodeBody(body, headers["content-type"] ?? null) : undefined;
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    ...(cookies && { cookies }),
    headers,
    ...(params && { queryStringParameters: params }),
    requestContext: {
      accountId: "anonymous",
      apiId: domainPrefix,
      domainName,
      domainPrefix,
      http: {
        method: request.method,
        path,
        protocol: "HTTP/1.1",
        sourceIp: meta.sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: meta.requestId,
      routeKey: "$default",
      stage: "$default",
      time: formatClfTime(meta.timeEpoch),
      timeEpoch: meta.timeEpoch,
    },
    ...(encoded && { body: encoded.body }),
    isBase64Encoded: encoded?.isBase64Encoded ?? false,
  } satisfies EventV2;
  return event;
}

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
 * the length of the body a `GET` would get, as the origin would. A name or value `Headers` rejects (CR/LF, non-token
 * names) makes the result unusable → 502, so a function can never split the
 * response.
 */
export function buildHeaders(headersField: unknown, cookiesField: unknown, method = "GET"): Headers {
  const keepLength = method === "HEAD";
  const headers = new Headers();
  if (headersField !== undefined && headersField !== null) {
    if (!isPlainObject(headersField)) throw badResult("`headers` must be an object of strings");
    for (const name in headersField) appendResultHeader(headers, name, headersField[name], keepLength);
  }
  if (cookiesField !== undefined && cookiesField !== null) {
    if (!Array.isArray(cookiesField)) throw badResult("`cookies` must be an array of strings");
    for (const c of cookiesField) {
      if (typeof c !== "string") throw badResult("`cookies` must be an array of strings");
      if (/[\r\n\0]/.test(c)) throw badResult("a cookie contains CR, LF or NUL");
      try {
        headers.append("set-cookie", c);
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
 * stringified, hop-by-hop and `Content-Length` dropped, anything `Headers`
 * rejects (or CR/LF/NUL) a `bad_result`.
 */
export function appendResultHeader(headers: Headers, name: string, raw: unknown, keepLength = false): void {
  if (raw === null || raw === undefined) return;
  if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
    throw badResult(`header "${name}" must be a string`);
  }
  const lower = name.toLowerCase();
  if (DROPPED_HEADERS.has(lower) && !(keepLength && lower === "content-length")) return;
  const value = String(raw);
  if (/[\r\n\0]/.test(value)) throw badResult(`header "${name}" contains CR, LF or NUL`);
  try {
    headers.append(name, value);
  } catch {
    throw badResult(`header "${name}" is not a valid HTTP header`);
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
/**
 * Body lengths of the responses lrp built from buffered bytes, so metrics can
 * count bytes out without wrapping the body in a stream (which would turn a
 * `Content-Length` response into a chunked one).
 */
const bodyLengths = new WeakMap<Response, number>();

/** The body length of a response lrp built from buffered bytes, if known. */
export function knownBodyLength(response: Response): number | undefined {
  return bodyLengths.get(response);
}

export function makeResponse(
  status: number,
  headers: Headers,
  body: BodyInit | Uint8Array | null,
  method = "GET",
): Response {
  const noBody = NULL_BODY_STATUS.has(status) || (method === "HEAD" && headers.has("content-length"));
  const response = new Response(noBody ? null : body as BodyInit, { status, headers });
  if (noBody || method === "HEAD") bodyLengths.set(response, 0);
  else if (body === null) bodyLengths.set(response, 0);
  else if (body instanceof Uint8Array) bodyLengths.set(response, body.byteLength);
  return response;
}

/**
 * Turns a payload format 2.0 result into a response (reference §2):
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
  let parsed: unknown;
  try {
    parsed = JSON.parse(textDecoder.decode(payload));
  } catch {
    throw badResult("the function's response is not JSON", preview(payload));
  }
  if (!isPlainObject(parsed) || !("statusCode" in parsed)) {
    const headers = new Headers({ "content-type": "application/json" });
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

/** The 8 NUL bytes that end a streaming prelude (reference §5.4). */
const DELIMITER_LENGTH = 8;

/**
 * Finds a Function URL streaming prelude at the start of a buffered body:
 * JSON object + 8×NUL + body bytes, as the classic RIE returns a
 * `HttpResponseStream.from` handler's output (reference §6.6). Returns
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
