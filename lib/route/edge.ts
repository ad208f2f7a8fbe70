/**
 * Admission at the edge: the checks a request passes before lrp routes it —
 * a method lrp implements, one valid `Host`, and no disagreement between the
 * `Host` header and the authority of an absolute-form request target. Pure.
 *
 * What lrp's HTTP server (`http/server.ts`) already refuses before the
 * handler: a second `Host` line, `Content-Length` together with
 * `Transfer-Encoding`, differing `Content-Length` lines, any transfer coding
 * but a single `chunked`, obs-folded or malformed header lines, an oversized
 * header block, and request lines that are not HTTP/1.0 or 1.1.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { normalizeHost } from "../wire/target.ts";
import type { IncomingRequest } from "../wire/request.ts";

/**
 * Methods lrp passes to a function: those a Function URL accepts
 * (docs/wire-format.md, "The request event"). Anything else — `TRACE`, `CONNECT`, WebDAV or made-up methods, and
 * lower-case spellings (methods are case-sensitive, RFC 9110 §9.1) — is
 * answered 501 without invoking, as RFC 9110 §9.1 advises for unrecognised
 * methods.
 */
export const ROUTED_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

// RFC 3986 reg-name (unreserved / pct-encoded / sub-delims) or IP-literal,
// then an optional port. No userinfo, path, whitespace or control bytes.
const HOST_SYNTAX =
  /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+(?::\d{0,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{0,5})?$/;

/** Whether a `Host` header value is syntactically a host with an optional port. */
export function isValidHost(value: string): boolean {
  return value.length <= 255 + 6 && HOST_SYNTAX.test(value.trim());
}

/**
 * The authority of the URL Deno builds for a request: the `Host` header for
 * an origin-form target, the target's own authority for an absolute-form one
 * (`GET http://other.test/ HTTP/1.1`).
 */
export function urlAuthority(url: string): string {
  const scheme = url.indexOf("://");
  if (scheme === -1) return "";
  const start = scheme + 3;
  let end = url.length;
  for (const c of ["/", "?", "#"]) {
    const i = url.indexOf(c, start);
    if (i !== -1 && i < end) end = i;
  }
  return url.slice(start, end);
}

/**
 * Checks a request that is about to be routed and returns the normalised host
 * to route by. Throws {@linkcode LrpError}:
 * - 501 `method_not_implemented` for a method outside {@linkcode ROUTED_METHODS};
 * - 400 `bad_request` for a missing, empty or malformed `Host` (RFC 9112 §3.2
 *   requires exactly one valid `Host`);
 * - 400 `bad_request` for an absolute-form target whose authority names
 *   another host than `Host`. RFC 9112 §3.2.2 lets the target win, but a
 *   cache or firewall in front of lrp may have keyed on `Host`: rather than
 *   pick one side of the ambiguity, lrp refuses it. When both agree the
 *   request is routed as usual.
 */
export function admitRequest(request: IncomingRequest): string {
  if (!ROUTED_METHODS.has(request.method)) {
    throw new LrpError(
      "method_not_implemented",
      `Cannot route method ${JSON.stringify(request.method)}: lrp passes ${[...ROUTED_METHODS].join(", ")}`,
    );
  }
  const header = request.headers.get("host");
  if (header === null || header.trim() === "") {
    throw new LrpError("bad_request", "Cannot route the request: it has no Host header");
  }
  if (!isValidHost(header)) {
    throw new LrpError("bad_request", "Cannot route the request: the Host header is not a valid host");
  }
  const host = normalizeHost(header);
  const authority = urlAuthority(request.url);
  if (!isValidHost(authority) || normalizeHost(authority) !== host) {
    throw new LrpError(
      "bad_request",
      "Cannot route the request: the request target names another host than the Host header",
    );
  }
  return host;
}
