/**
 * The HTTP/1.1 message head: its bytes read as `Headers` holds them (latin1),
 * its start line and header lines with RFC 9112's checks for lrp's own
 * server, the framing it declares (`Content-Length`, chunked), whether the
 * connection stays open, and the error every reading failure is.
 *
 * @module
 */

/**
 * Bytes as latin1 text. `TextDecoder("latin1")` is windows-1252 (the Encoding standard's alias):
 * bytes 0x80–0x9F would become other characters (0x80 → €). A head is read
 * byte for byte as `Headers` holds it, each byte one character U+0000–U+00FF.
 * Heads are nearly always ASCII, where UTF-8 (Deno's fastest decoder) reads
 * the same: that is tried first, and anything else (a byte of 0x80 or more,
 * which UTF-8 turns into other characters) is read byte by byte.
 */
const asciiFast = new TextDecoder("utf-8", { ignoreBOM: true });
const NOT_ASCII = /[^\0-\x7f]/;
export const latin1 = {
  decode(bytes: Uint8Array): string {
    const text = asciiFast.decode(bytes);
    if (!NOT_ASCII.test(text)) return text;
    let out = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      out += String.fromCharCode(...bytes.subarray(i, i + 8192));
    }
    return out;
  },
};

/** Why a message could not be read. */
export type Http1ReadErrorKind = "eof" | "malformed" | "too_large";

/** A message that cannot be read; the connection it came on is unusable. */
export class Http1ReadError extends Error {
  /** What went wrong. */
  readonly kind: Http1ReadErrorKind;
  /** Creates the error. */
  constructor(kind: Http1ReadErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Http1ReadError";
    this.kind = kind;
  }
}

/** A parsed message head. */
export interface Http1Head {
  /** The status or request line. */
  startLine: string;
  /** Header lines in order, names lower-cased, values trimmed. */
  headers: [string, string][];
}

/** How a message body is delimited. */
export interface Http1Framing {
  chunked: boolean;
  /** `Content-Length`, when the body is not chunked and declares one. */
  length: number | undefined;
}

/** An RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a field value may not hold: controls but HTAB, and DEL. */
// deno-lint-ignore no-control-regex -- matching control bytes is the point
const FIELD_CTL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * A decoded head (without its final CRLF CRLF) as its start line and header
 * lines. `strict` (lrp's own server) refuses header names that are not
 * tokens, whitespace before the colon, obs-folding, control bytes in values
 * and more than `maxLines` header lines; otherwise names and values are only
 * trimmed.
 */
export function parseHead(text: string, strict: boolean, maxLines: number): Http1Head {
  const lineEnd = text.indexOf("\r\n");
  const startLine = lineEnd === -1 ? text : text.slice(0, lineEnd);
  const headers: [string, string][] = [];
  for (let at = lineEnd; at !== -1;) {
    const from = at + 2;
    const next = text.indexOf("\r\n", from);
    const to = next === -1 ? text.length : next;
    const colon = text.indexOf(":", from);
    if (colon <= from || colon >= to) {
      throw new Http1ReadError(
        "malformed",
        `malformed header line ${JSON.stringify(text.slice(from, to))}`,
      );
    }
    if (strict) {
      const name = text.slice(from, colon);
      const value = text.slice(colon + 1, to);
      // RFC 9112 §5: a token name with no whitespace before the colon (this also refuses an
      // obs-folded continuation line), and a value without control bytes but HTAB.
      if (!TOKEN.test(name) || FIELD_CTL.test(value)) {
        throw new Http1ReadError(
          "malformed",
          `malformed header line ${JSON.stringify(text.slice(from, to))}`,
        );
      }
      // Optional whitespace off both ends by index: one slice, usually none (no OWS after the value).
      let v0 = 0;
      let v1 = value.length;
      while (v0 < v1 && (value.charCodeAt(v0) === 0x20 || value.charCodeAt(v0) === 0x09)) v0++;
      while (v1 > v0 && (value.charCodeAt(v1 - 1) === 0x20 || value.charCodeAt(v1 - 1) === 0x09)) v1--;
      headers.push([name.toLowerCase(), v0 === 0 && v1 === value.length ? value : value.slice(v0, v1)]);
      if (headers.length > maxLines) {
        throw new Http1ReadError("too_large", `more than ${maxLines} header lines`);
      }
    } else headers.push([text.slice(from, colon).trim().toLowerCase(), text.slice(colon + 1, to).trim()]);
    at = next;
  }
  return { startLine, headers };
}

/**
 * The framing a head declares: chunked when the last transfer coding is
 * `chunked`, else its `Content-Length` (all copies equal, digits only). Any
 * other transfer coding or a bad length is `malformed`.
 */
export function framingOf(headers: readonly [string, string][]): Http1Framing {
  let length: number | undefined;
  let chunked = false;
  for (const [name, value] of headers) {
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
        throw new Http1ReadError("malformed", `invalid Content-Length ${JSON.stringify(value)}`);
      }
      length = Number(value);
    } else if (name === "transfer-encoding") {
      const codings = value.toLowerCase().split(",");
      chunked = codings[codings.length - 1]!.trim() === "chunked";
      if (!chunked) {
        throw new Http1ReadError("malformed", `unsupported Transfer-Encoding ${JSON.stringify(value)}`);
      }
    }
  }
  return { chunked, length: chunked ? undefined : length };
}

/** Whether the connection stays open after this message, by its HTTP version and `Connection` tokens. */
export function keepsAlive(http10: boolean, headers: readonly [string, string][]): boolean {
  let keep = !http10;
  for (const [name, value] of headers) {
    if (name !== "connection") continue;
    for (const token of value.toLowerCase().split(",")) {
      const t = token.trim();
      if (t === "close") return false;
      if (t === "keep-alive") keep = true;
    }
  }
  return keep;
}

/** The first value of header `name` (lower-case) in a parsed head. */
export function headerValue(headers: readonly [string, string][], name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}
