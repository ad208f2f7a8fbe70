/**
 * HTTP request → Lambda payload format 2.0 event, exactly as API Gateway
 * HTTP APIs and Lambda Function URLs build it (docs/wire-format.md, "The
 * request event").
 *
 * Pure: no clock, no randomness, no I/O. The request id, the time and the
 * peer address come in as {@linkcode RequestMeta} so tests pin them.
 *
 * @module
 */

import { encodeBase64 } from "../bytes.ts";
import type { EventV2 } from "./event.ts";
import { normalizeHost, splitTarget } from "./target.ts";
import type { HeaderView } from "./header_lines.ts";
import { perSecond } from "../time.ts";

/**
 * What lrp reads of a request: a fetch `Request` has all of it, and so has
 * the lighter one lrp's own HTTP server makes (`http/server.ts`), whose
 * `url` is `http://` + Host + the request target exactly as sent (an
 * absolute-form target as is), never normalised by `new URL()`.
 */
export interface IncomingRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderView;
  readonly body: ReadableStream<Uint8Array> | null;
  readonly signal: AbortSignal;
}

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

/**
 * Media types whose bodies AWS passes as text; every other type, a missing
 * `Content-Type`, `application/x-www-form-urlencoded` and `multipart/*`
 * included, is base64-encoded (docs/wire-format.md, "Body encoding": the ALB list, which HTTP APIs
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
/** Common Log Format in UTC with a literal `+0000` (`07/Sep/2021:22:50:22 +0000`). */
export const formatClfTime: (epochMs: number) => string = perSecond((ms) => {
  const d = new Date(ms);
  return `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${
    pad2(d.getUTCMinutes())
  }:${pad2(d.getUTCSeconds())} +0000`;
});

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
export function requestToEvent(
  request: IncomingRequest,
  body: Uint8Array | null,
  meta: RequestMeta,
): EventV2 {
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
  // Keys in the order AWS writes them (docs/wire-format.md, "The request event"), so a logged event reads the same.
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
