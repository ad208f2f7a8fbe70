/**
 * Who may reach lrp's internal routes (`{prefix}/ping`, `/healthz`,
 * `/metrics`): the `internal_hosts` setting, Host names and peer CIDRs; the
 * Host names the inspector answers; and `OPTIONS *`, a request about lrp
 * itself. Pure.
 *
 * @module
 */

import { type Cidr, cidrContains, parseCidr, parseIp } from "./forwarded.ts";
import { normalizeHost } from "../wire/target.ts";

/**
 * Who may reach the internal routes (`internal_hosts`): a request whose own
 * `Host` (normalised, port dropped) is a listed name, or whose TCP peer lies
 * in a listed CIDR. Everyone when the list is empty. The `Host` is the
 * request's own, never a forwarded one.
 */
export function internalAccess(entries: readonly string[]): (host: string, peer: string) => boolean {
  if (entries.length === 0) return () => true;
  const names = new Set<string>();
  const blocks: Cidr[] = [];
  for (const entry of entries) {
    if (parseIp(entry.split("/")[0]!) !== undefined) blocks.push(parseCidr(entry));
    else names.add(normalizeHost(entry));
  }
  return (host, peer) => {
    if (names.has(host)) return true;
    const ip = blocks.length > 0 ? parseIp(peer) : undefined;
    return ip !== undefined && blocks.some((c) => cidrContains(c, ip));
  };
}

/**
 * Whether a request is `OPTIONS *` (RFC 9110 §9.3.7): about the server, not
 * a resource, so lrp answers it and never a function. An absolute-form target
 * with an empty path is the same request (RFC 9112 §3.2.4); lrp's server
 * makes `*` into a URL without a path.
 */
export function isServerWideOptions(method: string, url: string): boolean {
  if (method !== "OPTIONS") return false;
  const scheme = url.indexOf("://");
  return scheme !== -1 && !/[/?#]/.test(url.slice(scheme + 3));
}
