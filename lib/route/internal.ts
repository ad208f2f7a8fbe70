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
 * Whether a Host (normalised: lower case, port dropped) names this machine:
 * `localhost`, a name under `.localhost` (RFC 6761: resolved to loopback by
 * browsers themselves, never by DNS), an IPv4 address in 127.0.0.0/8, or
 * `[::1]` (also as an IPv4-mapped 127.x address).
 */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const ip = parseIp(host);
  if (ip === undefined) return false;
  if (ip.length === 4) return ip[0] === 127;
  const zeros = (from: number, to: number) => ip.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 15) && ip[15] === 1) return true;
  return zeros(0, 10) && ip[10] === 0xff && ip[11] === 0xff && ip[12] === 127;
}

/**
 * Who may use the inspector: only a request whose own `Host` names this
 * machine ({@linkcode isLoopbackHost}) or is a name `internal_hosts` lists —
 * so a page whose name was re-pointed to 127.0.0.1 (DNS rebinding) is not
 * answered — and, when `internal_hosts` is set, only one it lets reach the
 * internal routes. Its peer CIDRs narrow who may, never which Host names.
 */
export function inspectorAccess(entries: readonly string[]): (host: string, peer: string) => boolean {
  const internal = internalAccess(entries);
  const names = new Set(entries.filter((e) => parseIp(e.split("/")[0]!) === undefined).map(normalizeHost));
  return (host, peer) => (isLoopbackHost(host) || names.has(host)) && internal(host, peer);
}

/**
 * Whether a replay comes from the inspector's own page: a browser that marks
 * it cross-site (`Sec-Fetch-Site` other than `same-origin` or `none`) is
 * believed; an `Origin`, when there is one, must name the same host and port
 * as `Host`, and a host the inspector answers (`mayInspect`).
 */
export function fromInspectorPage(
  headers: { get(name: string): string | null },
  mayInspect: (host: string) => boolean,
): boolean {
  const site = headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return false;
  const origin = headers.get("origin");
  if (origin === null) return true;
  let from: string;
  try {
    from = new URL(origin).host.toLowerCase();
  } catch {
    return false;
  }
  return from === headers.get("host")?.toLowerCase() && mayInspect(normalizeHost(from));
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
