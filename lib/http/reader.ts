/**
 * The one HTTP/1.1 message reader of lrp: buffered reads off a connection
 * into ONE reusable buffer, the head (status or request line plus header
 * lines) parsed from a single latin1 decode (its checks in `head.ts`), and
 * bodies framed by `Content-Length`, `Transfer-Encoding: chunked` (trailers
 * skipped) or the end of the stream (`body.ts`). Shared by the upstream client (`client.ts`), the server
 * (`server.ts`) and the test fakes, which differ only in what they do with a
 * head and how they answer a malformed message.
 *
 * Failures are {@linkcode Http1ReadError}s; `kind` says which: `eof` (the
 * stream ended mid-message), `malformed`, or `too_large` (over a caller's cap).
 *
 * @module
 */

import { type BodyBuffer, type BodyOptions, readBody } from "./body.ts";
import { type Http1Framing, type Http1Head, Http1ReadError, latin1, parseHead } from "./head.ts";

export { framingOf, headerValue, keepsAlive } from "./head.ts";
export type { Http1Framing, Http1Head, Http1ReadErrorKind } from "./head.ts";
export { Http1ReadError } from "./head.ts";
export type { BodyOptions } from "./body.ts";

/** What a reader reads from: a `Deno.Conn` or anything with its `read`. */
export interface Http1Source {
  read(p: Uint8Array): Promise<number | null>;
}

/** The buffer a reader starts with and shrinks back to between messages. */
const DEFAULT_SIZE = 16 * 1024;
const CR = 13;
const LF = 10;

/** Buffered reads of HTTP/1.1 messages from one connection, in one buffer reused for every message. */
export class Http1Reader implements BodyBuffer {
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

  /** The size the buffer starts with and shrinks back to. */
  get usualSize(): number {
    return this.#size;
  }

  /** One read straight into `out`, past the buffer (body framing: `body.ts`); counted as received. */
  async readPast(out: Uint8Array): Promise<number | null> {
    const n = await this.#source.read(out);
    if (n !== null) this.received += n;
    return n;
  }

  /** Starts the empty buffer over at its front (body framing: `body.ts`). */
  rewind(): void {
    this.#start = this.#end = 0;
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
  async more(): Promise<boolean> {
    return this.#got(await this.#read());
  }

  /**
   * The read that brings more bytes: the parked one, or a new one into the
   * buffer's free tail (made room for first). Hand its result to
   * {@linkcode Http1Reader.#got}. Callers on the hot path await it
   * themselves rather than through {@linkcode Http1Reader.more}: one promise
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
    const end = await this.findLineEnd(false, limit, what);
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
      if (!(await this.more())) return null;
    }
    return this.take(Math.min(max, this.available)).slice();
  }

  /** Fills `out` completely: buffered bytes first, then reads straight into it. */
  async readFull(out: Uint8Array): Promise<void> {
    let filled = Math.min(out.length, this.available);
    out.set(this.take(filled));
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
  async findLineEnd(double: boolean, limit: number, what: string, bareLf = false): Promise<number> {
    const need = double ? 4 : 2;
    let from = this.#start;
    for (;;) {
      const found = this.#scanLineEnd(double, from, what, bareLf);
      if (found !== -1) return found;
      const scanned = this.available;
      if (scanned > limit) throw new Http1ReadError("too_large", `${what} over ${limit} bytes`);
      if (!(await this.more())) {
        throw new Http1ReadError("eof", this.received === 0 ? "the connection closed" : `unexpected end`);
      }
      // `more` may have moved the buffered bytes to the front: rescan from the same relative offset.
      from = this.#start + Math.max(0, scanned - need + 1);
    }
  }

  /**
   * {@linkcode Http1Reader.findLineEnd} within the buffered bytes only,
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
    if (end === -1) end = await this.findLineEnd(true, limit, "a message head", strict);
    if (end > limit) throw new Http1ReadError("too_large", `a message head over ${limit} bytes`);
    const text = latin1.decode(this.#buf.subarray(this.#start, this.#start + end));
    this.#start += end + 4;
    return parseHead(text, strict, maxLines);
  }

  /** Consumes CR LF pairs (at most `limit` bytes of them); false when the stream ends after them. */
  async #skipEmptyLines(limit: number): Promise<boolean> {
    for (let skipped = 0;;) {
      if (this.available === 0 && !(await this.more())) return false;
      if (this.#buf[this.#start] !== CR) return true;
      // A lone CR at the end of the stream is left for the head's reading to refuse.
      if (this.available < 2 && !(await this.more())) return true;
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
    return this.take(length).slice();
  }

  /**
   * Reads a body framed by `framing` (or by the end of the stream when it
   * has neither a length nor chunks and `toEnd`). Over `max` bytes the body
   * is refused with `too_large`, or with `truncate` only its first `max`
   * bytes are kept while the rest is read and dropped. The result is a copy:
   * the reader's buffer is reused for the next message.
   */
  readBody(framing: Http1Framing, max: number, options: BodyOptions = {}): Promise<Uint8Array> {
    return readBody(this, framing, max, options);
  }

  /** Reads until `n` bytes are buffered; `eof` when the stream ends first. */
  async fill(n: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.more())) throw new Http1ReadError("eof", "unexpected end");
    }
  }

  /** `n` buffered bytes, consumed (a view, valid until the next read). */
  take(n: number): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}
