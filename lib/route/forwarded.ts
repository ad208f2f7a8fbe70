/**
 * Which host a request is routed by: its own `Host`, or — only when the TCP
 * peer is a trusted proxy — the host a proxy in front forwarded
 * (`Forwarded: host=…`, RFC 7239, then `X-Forwarded-Host`). Pure.
 *
 * An untrusted peer's forwarding headers are ignored for routing, so nobody
 * can reach a rule by writing a header; they still reach the function as
 * ordinary request headers.
 *
 * @module
 */

import { normalizeHost } from "../wire/target.ts";

/** A parsed CIDR block. */
export interface Cidr {
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  bytes: Uint8Array;
  prefix: number;
}

/** Who may set the routing host. */
export interface ForwardTrust {
  /** Trust every peer (`trust_forwarded_host: true`). */
  all: boolean;
  /** Peers whose forwarding headers are believed (`trusted_proxies`). */
  proxies: readonly Cidr[];
}

/** Parses an IPv4 or IPv6 address (no brackets, no zone) into bytes; `undefined` if it is neither. */
export function parseIp(text: string): Uint8Array | undefined {
  let ip = text.trim();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  if (ip.includes(":")) return parseIpv6(ip);
  return parseIpv4(ip);
}

function parseIpv4(ip: string): Uint8Array | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [i, p] of parts.entries()) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(ip: string): Uint8Array | undefined {
  const zone = ip.indexOf("%");
  if (zone !== -1) ip = ip.slice(0, zone);
  let tail: Uint8Array | undefined;
  const lastColon = ip.lastIndexOf(":");
  if (ip.slice(lastColon + 1).includes(".")) {
    // IPv4-mapped / embedded form: ::ffff:192.0.2.1
    tail = parseIpv4(ip.slice(lastColon + 1));
    if (!tail) return undefined;
    ip = `${ip.slice(0, lastColon + 1)}0:0`;
  }
  const halves = ip.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (const [i, g] of all.entries()) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128); throws `TypeError`. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const bytes = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!bytes) throw new TypeError(`Cannot parse CIDR: "${text}" is not an IP address or block`);
  const max = bytes.length * 8;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new TypeError(`Cannot parse CIDR: "${text}" has a prefix length outside 0-${max}`);
  }
  return { bytes, prefix };
}

/**
 * Whether `ip` lies in `cidr`. An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`,
 * how dual-stack sockets report IPv4 clients) matches IPv4 blocks.
 */
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  let addr = ip;
  if (cidr.bytes.length === 4 && ip.length === 16 && isV4Mapped(ip)) addr = ip.subarray(12);
  if (addr.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

function isV4Mapped(ip: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

/** Whether the TCP peer `peerIp` may set the routing host. */
export function isTrustedPeer(peerIp: string, trust: ForwardTrust): boolean {
  if (trust.all) return true;
  if (trust.proxies.length === 0) return false;
  const ip = parseIp(peerIp);
  return ip !== undefined && trust.proxies.some((c) => cidrContains(c, ip));
}

/**
 * The host of the first `Forwarded` element that names one (`host=a.example`
 * or `host="a.example:8080"`), i.e. the one the outermost proxy recorded.
 */
export function forwardedHeaderHost(value: string | null): string | undefined {
  if (!value) return undefined;
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== "host") continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
      if (v !== "") return v;
    }
  }
  return undefined;
}

/**
 * The normalised host to route by: with a trusted peer, `Forwarded: host=`
 * first, then the first `X-Forwarded-Host` value, then `Host`; otherwise
 * always `Host`.
 */
export function routingHost(headers: Headers, peerIp: string, trust: ForwardTrust): string {
  if (isTrustedPeer(peerIp, trust)) {
    const forwarded = forwardedHeaderHost(headers.get("forwarded"));
    if (forwarded) return normalizeHost(forwarded);
    const xfh = headers.get("x-forwarded-host")?.split(",")[0]?.trim();
    if (xfh) return normalizeHost(xfh);
  }
  return normalizeHost(headers.get("host"));
}
