/**
 * The one HTTP/1.1 message reader of lrp: buffered reads off a connection
 * into ONE reusable buffer, the head (status or request line plus header
 * lines) parsed from a single latin1 decode, and bodies framed by
 * `Content-Length`, `Transfer-Encoding: chunked` (trailers skipped) or the end
 * of the stream. Shared by the upstream client (`client.ts`), the server
 * (`server.ts`) and the test fakes, which differ only in what they do with a
 * head and how they answer a malformed message.
 *
 * Failures are {@linkcode Http1ReadError}s; `kind` says which: `eof` (the
 * stream ended mid-message), `malformed`, or `too_large` (over a caller's cap).
 *
 * @module
 */

/**
 * `TextDecoder("latin1")` is windows-1252 (the Encoding standard's alias):
 * bytes 0x80–0x9F would become other characters (0x80 → €). A head is read
 * byte for byte as `Headers` holds it, each byte one character U+0000–U+00FF.
 * Heads are nearly always ASCII, where UTF-8 (Deno's fastest decoder) reads
 * the same: that is tried first, and anything else (a byte of 0x80 or more,
 * which UTF-8 turns into other characters) is read byte by byte.
 */
const asciiFast = new TextDecoder("utf-8", { ignoreBOM: true });
const NOT_ASCII = /[^\0-\x7f]/;
const latin1 = {
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

/** What a reader reads from: a `Deno.Conn` or anything with its `read`. */
export interface Http1Source {
  read(p: Uint8Array): Promise<number | null>;
}

/** The buffer a reader starts with and shrinks back to between messages. */
const DEFAULT_SIZE = 16 * 1024;
const CR = 13;
/** An RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a field value may not hold: controls but HTAB, and DEL. */
// deno-lint-ignore no-control-regex -- matching control bytes is the point
const FIELD_CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const LF = 10;

/** Buffered reads of HTTP/1.1 messages from one connection, in one buffer reused for every message. */
export class Http1Reader {
  #source: Http1Source;
  #buf: Uint8Array;
  /** The size the buffer starts with and shrinks back to. */
  #size: number;
  #start = 0;
  #end = 0;
  /** A read started while the connection was idle; it fills the buffer's free tail. */
  #parked: Promise<number | null> | undefined;
  #parkedSettled = false;
  /** Bytes read since the last {@linkcode Http1Reader.reset}. */
  received = 0;
  /** When (`performance.now()`) the first of {@linkcode Http1Reader.received} arrived. */
  firstByteAt = 0;

  /** Creates a reader over `source`. */
  constructor(source: Http1Source, size = DEFAULT_SIZE) {
    this.#source = source;
    this.#size = size;
    this.#buf = new Uint8Array(size);
  }

  /** Buffered bytes not consumed yet. */
  get available(): number {
    return this.#end - this.#start;
  }

  /** A parked read has completed: the peer closed, failed or sent bytes nobody asked for. */
  get parkedSettled(): boolean {
    return this.#parkedSettled;
  }

  /**
   * Starts the next message: the byte count restarts, and a buffer grown for a
   * large head goes back to its usual size when nothing is buffered.
   */
  reset(): void {
    this.received = 0;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#buf.length > this.#size) this.#buf = new Uint8Array(this.#size);
    }
  }

  /**
   * Keeps a read in flight on an idle connection, so that a close (or stray
   * bytes) from the peer is seen before the connection is used again. Its bytes
   * land in the same buffer and are the start of the next message.
   */
  park(onSettled?: (n: number | null) => void): void {
    this.reset();
    this.#parkedSettled = false;
    const read = this.#source.read(this.#free());
    read.then((n) => {
      this.#parkedSettled = true;
      onSettled?.(n);
    }, () => {
      this.#parkedSettled = true;
      onSettled?.(null);
    });
    this.#parked = read;
  }

  /** The buffer's free tail (the whole buffer, without a new view, when it is empty). */
  #free(): Uint8Array {
    return this.#end === 0 ? this.#buf : this.#buf.subarray(this.#end);
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #more(): Promise<boolean> {
    return this.#got(await this.#read());
  }

  /**
   * The read that brings more bytes: the parked one, or a new one into the
   * buffer's free tail (made room for first). Hand its result to
   * {@linkcode Http1Reader.#got}. Callers on the hot path await it
   * themselves rather than through {@linkcode Http1Reader.#more}: one promise
   * and one turn fewer per message.
   */
  #read(): Promise<number | null> {
    if (this.#end === this.#buf.length) {
      const live = this.available;
      if (this.#start > 0 && live < this.#buf.length / 2) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = live;
    }
    const parked = this.#parked;
    this.#parked = undefined;
    return parked ?? this.#source.read(this.#free());
  }

  /** Takes the result of {@linkcode Http1Reader.#read} into the buffer; false at the end of the stream. */
  #got(n: number | null): boolean {
    if (n === null) return false;
    if (this.received === 0 && n > 0) this.firstByteAt = performance.now();
    this.#end += n;
    this.received += n;
    return true;
  }

  /** One line (without its CRLF) of at most `limit` bytes, consumed; latin1-decoded. */
  async readLine(limit: number, what: string): Promise<string> {
    const end = await this.#findLineEnd(false, limit, what);
    const text = latin1.decode(this.#buf.subarray(this.#start, this.#start + end));
    this.#start += end + 2;
    return text;
  }

  /**
   * Up to `max` bytes as soon as any are there: buffered ones first (copied),
   * else one read, straight into an array of its own when `max` is large.
   * `null` at the end of the stream.
   */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (this.available === 0) {
      if (max >= DEFAULT_SIZE && this.#parked === undefined) {
        const out = new Uint8Array(Math.min(max, 256 * 1024));
        const n = await this.#source.read(out);
        if (n === null) return null;
        this.received += n;
        return out.subarray(0, n);
      }
      if (!(await this.#more())) return null;
    }
    return this.#take(Math.min(max, this.available)).slice();
  }

  /** Fills `out` completely: buffered bytes first, then reads straight into it. */
  async readFull(out: Uint8Array): Promise<void> {
    let filled = Math.min(out.length, this.available);
    out.set(this.#take(filled));
    while (filled < out.length) {
      const n = await this.#source.read(out.subarray(filled));
      if (n === null) {
        throw new Http1ReadError("eof", `the connection closed ${out.length - filled} bytes before the end`);
      }
      this.received += n;
      filled += n;
    }
  }

  /**
   * Offset from the current position of the byte sequence CR LF (CR LF when
   * `double`), within `limit`. `bareLf` refuses an LF without its CR at once.
   */
  async #findLineEnd(double: boolean, limit: number, what: string, bareLf = false): Promise<number> {
    const need = double ? 4 : 2;
    let from = this.#start;
    for (;;) {
      const found = this.#scanLineEnd(double, from, what, bareLf);
      if (found !== -1) return found;
      const scanned = this.available;
      if (scanned > limit) throw new Http1ReadError("too_large", `${what} over ${limit} bytes`);
      if (!(await this.#more())) {
        throw new Http1ReadError("eof", this.received === 0 ? "the connection closed" : `unexpected end`);
      }
      // `#more` may have moved the buffered bytes to the front: rescan from the same relative offset.
      from = this.#start + Math.max(0, scanned - need + 1);
    }
  }

  /**
   * {@linkcode Http1Reader.#findLineEnd} within the buffered bytes only,
   * scanning from buffer index `from`: -1 when the line (or head) does not
   * end there yet.
   */
  #scanLineEnd(double: boolean, from: number, what: string, bareLf: boolean): number {
    const need = double ? 4 : 2;
    const buf = this.#buf;
    for (let i = buf.indexOf(LF, from); i !== -1 && i < this.#end; i = buf.indexOf(LF, i + 1)) {
      if (bareLf && (i === this.#start || buf[i - 1] !== CR)) {
        throw new Http1ReadError("malformed", `${what} has a line that ends in a bare LF`);
      }
      if (i - this.#start + 1 < need || buf[i - 1] !== CR) continue;
      if (!double || (buf[i - 2] === LF && buf[i - 3] === CR)) return i + 1 - need - this.#start;
    }
    return -1;
  }

  /**
   * Reads a message head of at most `limit` bytes. `null` when the stream
   * ends cleanly before its first byte (a peer closing an idle connection).
   * `strict` (lrp's own server) skips empty lines before the start line
   * (RFC 9112 §2.2), and refuses a bare LF as soon as it arrives, header
   * names that are not tokens, whitespace before the colon, obs-folding,
   * control bytes in values and more than `maxLines` header lines.
   */
  async readHead(limit: number, strict = false, maxLines = Infinity): Promise<Http1Head | null> {
    if (this.available === 0 && !this.#got(await this.#read())) return null;
    // Usually the whole head is already buffered: no further awaits (each one a promise and a turn).
    if (strict && this.#buf[this.#start] === CR && !(await this.#skipEmptyLines(limit))) return null;
    let end = this.#scanLineEnd(true, this.#start, "a message head", strict);
    if (end === -1) end = await this.#findLineEnd(true, limit, "a message head", strict);
    if (end > limit) throw new Http1ReadError("too_large", `a message head over ${limit} bytes`);
    const text = latin1.decode(this.#buf.subarray(this.#start, this.#start + end));
    this.#start += end + 4;
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

  /** Consumes CR LF pairs (at most `limit` bytes of them); false when the stream ends after them. */
  async #skipEmptyLines(limit: number): Promise<boolean> {
    for (let skipped = 0;;) {
      if (this.available === 0 && !(await this.#more())) return false;
      if (this.#buf[this.#start] !== CR) return true;
      // A lone CR at the end of the stream is left for the head's reading to refuse.
      if (this.available < 2 && !(await this.#more())) return true;
      if (this.#buf[this.#start + 1] !== LF) return true;
      this.#start += 2;
      skipped += 2;
      if (skipped > limit) throw new Http1ReadError("too_large", `empty lines over ${limit} bytes`);
    }
  }

  /**
   * The body {@linkcode Http1Reader.readBody} would give, when it can be had
   * from the buffered bytes alone (a `Content-Length` body of at most `max`
   * bytes, all buffered, or no body): no promise and no turn of the event
   * loop. `undefined` otherwise: then call `readBody`.
   */
  bodyIfBuffered(framing: Http1Framing, max: number, toEnd = false): Uint8Array | undefined {
    if (framing.chunked) return undefined;
    const length = framing.length;
    if (length === undefined) return toEnd ? undefined : new Uint8Array(0);
    if (length > max || length > this.available) return undefined;
    return this.#take(length).slice();
  }

  /**
   * Reads a body framed by `framing` (or by the end of the stream when it
   * has neither a length nor chunks and `toEnd`). Over `max` bytes the body
   * is refused with `too_large`, or with `truncate` only its first `max`
   * bytes are kept while the rest is read and dropped. The result is a copy:
   * the reader's buffer is reused for the next message.
   */
  async readBody(framing: Http1Framing, max: number, options: { toEnd?: boolean; truncate?: boolean } = {}) {
    if (framing.chunked) return await this.#readChunked(max, options.truncate === true);
    if (framing.length !== undefined) {
      if (framing.length > max && !options.truncate) {
        throw new Http1ReadError("too_large", `a body of ${framing.length} bytes is over ${max}`);
      }
      return await this.#readLength(framing.length, max);
    }
    if (!options.toEnd) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      if (this.available > 0) {
        const piece = this.#take(this.available);
        size += piece.length;
        if (size > max && !options.truncate) {
          throw new Http1ReadError("too_large", `a body over ${max} bytes`);
        }
        parts.push(piece.slice());
      }
      if (!(await this.#more())) break;
    }
    return keepFirst(parts, max);
  }

  /** `length` bytes, of which the first `keep` are returned; large bodies are read straight into the result. */
  async #readLength(length: number, keep: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.min(length, keep));
    let filled = 0;
    let left = length;
    while (left > 0) {
      if (this.available === 0) {
        // Past the buffered bytes, a body larger than the buffer's usual size goes straight into its own
        // array, not through the buffer.
        if (left >= this.#size && filled + left <= out.length) {
          const n = await this.#source.read(out.subarray(filled));
          if (n === null) {
            throw new Http1ReadError("eof", `the connection closed ${left} bytes before the end`);
          }
          this.received += n;
          filled += n;
          left -= n;
          continue;
        }
        this.#start = this.#end = 0;
        if (!(await this.#more())) {
          throw new Http1ReadError("eof", `the connection closed ${left} bytes before the end`);
        }
      }
      const piece = this.#take(Math.min(left, this.available));
      const kept = piece.subarray(0, Math.max(0, out.length - filled));
      out.set(kept, filled);
      filled += kept.length;
      left -= piece.length;
    }
    return out;
  }

  async #readChunked(max: number, truncate: boolean): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const lineEnd = await this.#findLineEnd(false, 4096, "a chunk size line");
      const line = latin1.decode(this.#take(lineEnd + 2)).slice(0, -2);
      const semi = line.indexOf(";");
      const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) {
        throw new Http1ReadError("malformed", `invalid chunk size ${JSON.stringify(sizeText)}`);
      }
      const chunk = parseInt(sizeText, 16);
      if (chunk === 0) break;
      size += chunk;
      if (size > max && !truncate) throw new Http1ReadError("too_large", `a body over ${max} bytes`);
      parts.push(await this.#readLength(chunk, Math.max(0, max - (size - chunk))));
      await this.#fill(2);
      const crlf = this.#take(2);
      if (crlf[0] !== CR || crlf[1] !== LF) {
        throw new Http1ReadError("malformed", "a chunk is not followed by CRLF");
      }
    }
    for (;;) { // trailer lines up to an empty line
      const end = await this.#findLineEnd(false, 65536, "a trailer line");
      this.#take(end + 2);
      if (end === 0) break;
    }
    return keepFirst(parts, max);
  }

  async #fill(n: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.#more())) throw new Http1ReadError("eof", "unexpected end");
    }
  }

  /** `n` buffered bytes, consumed (a view, valid until the next read). */
  #take(n: number): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

function keepFirst(parts: Uint8Array[], max: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length <= max) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const p of parts) {
    if (at >= out.length) break;
    const part = p.subarray(0, out.length - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
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
