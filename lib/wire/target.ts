/**
 * The request target and Host as lrp reads them: split and normalised
 * without `new URL()`, so the function sees exactly what the client sent.
 *
 * @module
 */

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
    // The authority ends at the path, or at the query or fragment of a URI with an empty path.
    start = url.slice(scheme + 3).search(/[/?#]/);
    if (start === -1) return { path: "/", query: "" };
    start += scheme + 3;
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
