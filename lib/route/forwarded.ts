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
import type { HeaderView } from "../wire/header_lines.ts";

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

/** One element of a `Forwarded` header: its parameters, names lower-cased, values unquoted. */
export type ForwardedElement = Record<string, string>;

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses an RFC 7239 `Forwarded` value (repeated header lines arrive joined
 * with `, `) into its elements, in order: `element *( "," element )`, each
 * `pair *( ";" pair )`, each `token "=" ( token / quoted-string )`. A
 * quoted string may hold `,`, `;`, `=` and `\`-escaped characters; they
 * never split it. Returns `undefined` for a value that does not follow the
 * grammar, so that nothing is read from a header whose boundaries are in
 * doubt.
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  let element: ForwardedElement = {};
  let i = 0;
  const skipSpace = () => {
    while (value[i] === " " || value[i] === "\t") i++;
  };
  for (;;) {
    skipSpace();
    if (value[i] === "," || value[i] === ";" || i >= value.length) {
      // An empty pair or element is tolerated, as RFC 7230 list syntax allows.
    } else {
      const nameStart = i;
      while (i < value.length && TOKEN_CHAR.test(value[i]!)) i++;
      const name = value.slice(nameStart, i).toLowerCase();
      if (name === "" || value[i] !== "=") return undefined;
      i++;
      let v = "";
      if (value[i] === '"') {
        i++;
        for (;;) {
          const c = value[i];
          if (c === undefined) return undefined;
          i++;
          if (c === '"') break;
          if (c === "\\") {
            if (i >= value.length) return undefined;
            v += value[i++];
          } else v += c;
        }
      } else {
        const start = i;
        while (i < value.length && TOKEN_CHAR.test(value[i]!)) i++;
        v = value.slice(start, i);
      }
      element[name] = v;
      skipSpace();
    }
    if (i >= value.length) break;
    const sep = value[i++];
    if (sep === ",") {
      if (Object.keys(element).length > 0) elements.push(element);
      element = {};
    } else if (sep !== ";") return undefined;
  }
  if (Object.keys(element).length > 0) elements.push(element);
  return elements;
}

/**
 * The IP address of a node as `Forwarded: for=` or `X-Forwarded-For` writes
 * it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`.
 * `undefined` for `unknown`, obfuscated names (`_hidden`) and anything else.
 */
export function nodeIp(node: string | undefined): Uint8Array | undefined {
  if (node === undefined) return undefined;
  let text = node.trim();
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1) return undefined;
    text = text.slice(1, end);
  } else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(":"));
  return parseIp(text);
}

/**
 * Whether the hop that wrote `node` (a `for=` or `X-Forwarded-For` entry) is
 * a trusted proxy. A node lrp cannot place is trusted only under
 * `trust_forwarded_host` (every hop trusted).
 */
function trustedNode(node: string | undefined, trust: ForwardTrust): boolean {
  if (trust.all) return true;
  const ip = nodeIp(node);
  return ip !== undefined && trust.proxies.some((c) => cidrContains(c, ip));
}

/**
 * The host forwarded by the outermost trusted proxy in an RFC 7239
 * `Forwarded` value, the peer being trusted. The rightmost element was
 * appended by the peer; its `for=` names the peer's own client: when that
 * client is a trusted proxy too, the element to its left is that proxy's,
 * and so on. The walk stops at the first element whose `for=` is not a
 * trusted proxy — everything further left was written by the client or an
 * untrusted hop and is never read. The host is the leftmost `host=` among
 * the elements walked over (the one closest to what the client asked for).
 * `undefined` when no walked element names a host or the value is malformed.
 */
export function forwardedHeaderHost(value: string | null, trust: ForwardTrust): string | undefined {
  if (!value) return undefined;
  const elements = parseForwarded(value);
  if (!elements || elements.length === 0) return undefined;
  let first = elements.length - 1;
  while (first > 0 && trustedNode(elements[first]!.for, trust)) first--;
  for (let i = first; i < elements.length; i++) {
    const host = elements[i]!.host;
    if (host) return host;
  }
  return undefined;
}

/**
 * The host forwarded by the outermost trusted proxy in `X-Forwarded-Host`,
 * the peer being trusted: its rightmost value is the peer's; each
 * `X-Forwarded-For` entry, from the right, names the client of one hop, and
 * while that client is a trusted proxy the walk moves one `X-Forwarded-Host`
 * value to the left. Without `X-Forwarded-For`, only the rightmost value is
 * believed (unless every hop is trusted).
 */
export function xForwardedHost(
  hostValue: string | null,
  forValue: string | null,
  trust: ForwardTrust,
): string | undefined {
  const hosts = (hostValue ?? "").split(",").map((h) => h.trim()).filter((h) => h !== "");
  if (hosts.length === 0) return undefined;
  const fors = (forValue ?? "").split(",").map((f) => f.trim()).filter((f) => f !== "");
  let index = hosts.length - 1;
  for (let hop = fors.length - 1; index > 0; hop--) {
    if (!trustedNode(hop >= 0 ? fors[hop] : undefined, trust)) break;
    index--;
  }
  return hosts[index];
}

/**
 * The normalised host to route by. With a trusted peer, the host its proxy
 * chain forwarded, read from the right ({@linkcode xForwardedHost}, then
 * {@linkcode forwardedHeaderHost}): `X-Forwarded-Host` wins when both are
 * present, because it is the header common proxies (nginx setups, Traefik,
 * Caddy, Envoy) set or overwrite, while most pass a client's `Forwarded`
 * through untouched. Otherwise — and when neither names a host — `Host`.
 */
export function routingHost(headers: HeaderView, peerIp: string, trust: ForwardTrust): string {
  if (isTrustedPeer(peerIp, trust)) {
    const xfh = xForwardedHost(headers.get("x-forwarded-host"), headers.get("x-forwarded-for"), trust);
    if (xfh) return normalizeHost(xfh);
    const forwarded = forwardedHeaderHost(headers.get("forwarded"), trust);
    if (forwarded) return normalizeHost(forwarded);
  }
  return normalizeHost(headers.get("host"));
}
