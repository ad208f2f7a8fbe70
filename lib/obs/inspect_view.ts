/**
 * What the inspector shows of the bytes it kept, pure: body previews (text,
 * or size + hex for binary), redaction of secret headers and cookies —
 * in header lists and inside event and result JSON — and the cause of each
 * error in words.
 *
 * @module
 */

import type { ErrorCode } from "../errors.ts";

/** What a redacted value is replaced with. */
export const REDACTED = "‹redacted›";

/** Header names always hidden unless the operator opts in to see secrets. */
export const SECRET_HEADERS: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-amz-security-token",
];

/** Bytes of hex preview shown for a binary body. */
export const HEX_PREVIEW_BYTES = 512;

/** The kept start of a body, event or result: a copy of at most the limit. */
export interface Captured {
  /** At most the limit; its own buffer, never a view into the whole. */
  bytes: Uint8Array;
  /** Size of the whole. */
  size: number;
  /** The whole was larger than what was kept. */
  truncated: boolean;
}

/** Copies at most `limit` bytes of `bytes` (a copy, so the whole can be freed). */
export function capture(bytes: Uint8Array, limit: number): Captured {
  const truncated = bytes.length > limit;
  return { bytes: bytes.slice(0, limit), size: bytes.length, truncated };
}

/** A body as the page shows it. */
export interface BodyView {
  size: number;
  /** Bytes kept (less than `size` when truncated). */
  kept: number;
  truncated: boolean;
  /** `empty`, UTF-8 `text`, or `binary` (then only `hex` of the first bytes). */
  kind: "empty" | "text" | "binary";
  text?: string;
  /** `offset  hex bytes  |ascii|` lines of the first {@linkcode HEX_PREVIEW_BYTES} bytes. */
  hex?: string;
}

/**
 * Decodes kept bytes as UTF-8 text, or `undefined` when they are binary
 * (invalid UTF-8 or control characters other than tab, CR, LF and form feed).
 * A truncated body may end inside a character: that tail is not held against it.
 */
export function decodeText(c: Captured): string | undefined {
  let text: string;
  try {
    // A streaming decode holds back a character cut at the limit instead of failing on it.
    text = new TextDecoder("utf-8", { fatal: true }).decode(c.bytes, { stream: c.truncated });
  } catch {
    return undefined;
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what marks a body as binary
  return /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

/** A classic hex dump: offset, 16 bytes in hex, and their printable ASCII. */
export function hexDump(bytes: Uint8Array, max = HEX_PREVIEW_BYTES): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, max);
  for (let at = 0; at < end; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, end));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".").join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join("\n");
}

/** The page's view of kept bytes. */
export function viewBody(c: Captured | undefined): BodyView {
  if (!c || c.size === 0) return { size: 0, kept: 0, truncated: false, kind: "empty" };
  const facts = { size: c.size, kept: c.bytes.length, truncated: c.truncated };
  const text = decodeText(c);
  if (text !== undefined) return { ...facts, kind: "text", text };
  return { ...facts, kind: "binary", hex: hexDump(c.bytes) };
}

/** Decides which header names are secret. */
export type SecretTest = (lowerName: string) => boolean;

/** The secret test for the built-in names plus `extra` (lower case). */
export function secretNames(extra: readonly string[]): SecretTest {
  const names = new Set([...SECRET_HEADERS, ...extra.map((n) => n.toLowerCase())]);
  return (name) => names.has(name);
}

/**
 * The value of a secret header with the secret part hidden: cookie names
 * stay visible (`a=‹redacted›; b=‹redacted›`), an `Authorization` keeps its
 * scheme (`Bearer ‹redacted›`), anything else is replaced whole.
 */
export function redactValue(lowerName: string, value: string): string {
  if (lowerName === "cookie") return value.split(";").map((c) => redactCookie(c.trim())).join("; ");
  if (lowerName === "set-cookie") return redactCookie(value);
  if (lowerName === "authorization" || lowerName === "proxy-authorization") {
    const scheme = /^([A-Za-z0-9-]+) +\S/.exec(value)?.[1];
    return scheme ? `${scheme} ${REDACTED}` : REDACTED;
  }
  return REDACTED;
}

/** `name=value…` → `name=‹redacted›` (a cookie without `=` is hidden whole). */
function redactCookie(cookie: string): string {
  const eq = cookie.indexOf("=");
  return eq > 0 ? `${cookie.slice(0, eq).trim()}=${REDACTED}` : REDACTED;
}

/** Header pairs with secret values hidden. */
export function redactPairs(pairs: readonly [string, string][], secret: SecretTest): [string, string][] {
  return pairs.map(([n, v]) => {
    const lower = n.toLowerCase();
    return [n, secret(lower) ? redactValue(lower, v) : v];
  });
}

/**
 * A copy of an event or result JSON value with secrets hidden wherever
 * headers travel: `headers` (name → value), `multiValueHeaders` (name →
 * values) and `cookies` (a 2.0 event's `Cookie` pieces, a 2.0 result's
 * `Set-Cookie` values), at any depth. Returns whether anything was hidden.
 */
export function redactJson(value: unknown, secret: SecretTest): { value: unknown; redacted: boolean } {
  let redacted = false;
  const hide = (name: string, v: string) => {
    const lower = name.toLowerCase();
    if (!secret(lower)) return v;
    redacted = true;
    return redactValue(lower, v);
  };
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (Array.isArray(v)) {
      if (key === "cookies" && secret("cookie")) {
        return v.map((c) => {
          if (typeof c !== "string") return walk(c, undefined);
          redacted = true;
          return redactCookie(c);
        });
      }
      return v.map((item) => walk(item, undefined));
    }
    if (typeof v !== "object" || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (key === "headers" && typeof item === "string") out[k] = hide(k, item);
      else if (key === "multiValueHeaders" && Array.isArray(item)) {
        out[k] = item.map((x) => typeof x === "string" ? hide(k, x) : x);
      } else out[k] = walk(item, k);
    }
    return out;
  };
  const result = walk(value, undefined);
  return { value: result, redacted };
}

/** An event or raw result as the page shows it. */
export interface JsonView extends BodyView {
  /** Pretty JSON (secrets hidden unless opted in), when the kept bytes are whole JSON. */
  json?: string;
  /** Secrets were hidden. */
  redacted: boolean;
}

/**
 * Kept JSON bytes (an event, a buffered result) for the page: pretty-printed
 * with secrets hidden when whole and valid JSON; otherwise the plain body
 * view. Bytes cut at the limit were already redacted before the cut when
 * they were recorded (see {@linkcode redactedCapture}), so text shown here
 * never leaks what a cut would have made unparseable.
 */
export function viewJson(c: Captured | undefined, secret: SecretTest | undefined): JsonView {
  const body = viewBody(c);
  if (body.kind !== "text" || body.truncated) return { ...body, redacted: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.text!);
  } catch {
    return { ...body, redacted: false };
  }
  const shown = secret ? redactJson(parsed, secret) : { value: parsed, redacted: false };
  // The plain text would show what redaction hid: only the JSON view goes out.
  const { text: _text, ...facts } = body;
  return { ...facts, json: JSON.stringify(shown.value, null, 2), redacted: shown.redacted };
}

const encoder = new TextEncoder();

/**
 * Captures JSON bytes longer than the limit safely: the whole is parsed,
 * its secrets hidden, then cut, so the kept text cannot show a secret that
 * the cut would otherwise leave unparseable and unredactable. Bytes within
 * the limit, or that are not JSON, are captured as they are.
 */
export function redactedCapture(
  bytes: Uint8Array,
  limit: number,
  secret: SecretTest | undefined,
  names: readonly string[] = SECRET_HEADERS,
): Captured {
  if (bytes.length <= limit || !secret) return capture(bytes, limit);
  // A JSON key comes before its value: a kept part naming no secret header (nor `cookies`) holds no
  // secret value, and the whole (a 1 MB body's event is 1.4 MB) need not be parsed.
  const head = new TextDecoder().decode(bytes.subarray(0, limit)).toLowerCase();
  if (!names.some((n) => head.includes(n))) return capture(bytes, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return capture(bytes, limit);
  }
  const hidden = redactJson(parsed, secret);
  if (!hidden.redacted) return capture(bytes, limit);
  const kept = capture(encoder.encode(JSON.stringify(hidden.value)), limit);
  return { ...kept, size: bytes.length, truncated: true };
}

/**
 * Puts back, in an edited event, the secrets the page showed as
 * `‹redacted›`: a header value (or multi-value item) still containing the
 * marker takes the original's value of the same header, a cookie still
 * containing it takes the original cookie of the same name. So a user can
 * edit a redacted event and replay it with the real credentials, which the
 * page never saw.
 */
export function restoreSecrets(edited: unknown, original: unknown): unknown {
  const walk = (e: unknown, o: unknown, key: string | undefined): unknown => {
    if (Array.isArray(e)) {
      if (key === "cookies" && Array.isArray(o)) {
        const byName = new Map<string, string>();
        for (const c of o) if (typeof c === "string") byName.set(c.split("=")[0]!.trim(), c);
        return e.map((c) =>
          typeof c === "string" && c.includes(REDACTED) ? byName.get(c.split("=")[0]!.trim()) ?? c : c
        );
      }
      return e.map((item, i) => walk(item, Array.isArray(o) ? o[i] : undefined, undefined));
    }
    if (typeof e !== "object" || e === null) return e;
    const orig = typeof o === "object" && o !== null ? o as Record<string, unknown> : {};
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(e)) {
      const was = findKey(orig, k);
      if (key === "headers" && typeof item === "string" && item.includes(REDACTED)) {
        out[k] = typeof was === "string" ? was : item;
      } else if (key === "multiValueHeaders" && Array.isArray(item)) {
        out[k] = item.map((x, i) =>
          typeof x === "string" && x.includes(REDACTED) && Array.isArray(was) && typeof was[i] === "string"
            ? was[i]
            : x
        );
      } else out[k] = walk(item, was, k);
    }
    return out;
  };
  return walk(edited, original, undefined);
}

function findKey(record: Record<string, unknown>, key: string): unknown {
  if (key in record) return record[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(record)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Each error code's cause in words, for the page. */
export const ERROR_CAUSES: Partial<Record<ErrorCode, string>> = {
  bad_request: "The request could not be read (a malformed body or a client that stopped sending).",
  function_not_allowed: "The request chose a function that the rule's allow list does not name.",
  route_not_found: "No rule's hostname matches the request's Host, so no function was called.",
  method_not_allowed: "The path takes other methods.",
  body_timeout: "The client did not finish sending the body within body_timeout.",
  header_timeout: "The client did not finish sending its headers within header_timeout.",
  headers_too_large: "The request's header block is over lrp's cap (64 KiB, 128 lines).",
  version_not_supported: "The request line names an HTTP version other than 1.0 and 1.1.",
  body_too_large: "The body is larger than max_body_size, so it was refused before any invocation.",
  payload_too_large: "Lambda refused the event: it is over the 6 MB invocation payload limit.",
  throttled: "Lambda throttled the invocation (concurrency or rate limit reached).",
  internal: "lrp failed unexpectedly: this is a bug; its log has the details.",
  method_not_implemented: "lrp does not pass this request method to functions.",
  upstream_unreachable: "lrp could not connect to the target: is the function's container running?",
  upstream_error: "The target answered with an error of its own instead of a result.",
  function_error: "The function threw or returned an error; its error JSON is in the raw result.",
  bad_result: "The function's result is not a valid response in the rule's payload format.",
  function_not_found: "The target does not know the function (name, alias or version).",
  upstream_auth: "The Lambda API refused lrp's credentials.",
  queue_full: "Too many requests were waiting for this endpoint (queue_limit).",
  queue_timeout: "The request waited longer than queue_timeout for a free invocation slot.",
  upstream_timeout: "lrp stopped waiting after upstream_timeout; the function may still have been running.",
  function_timeout:
    "The function ran past its own timeout and was stopped; raise the timeout or make it faster.",
  client_closed: "The client went away before the answer was ready.",
};
