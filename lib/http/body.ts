/**
 * HTTP/1.1 body framing on a reader's buffer: a `Content-Length` body (read
 * straight into its own array past the buffered bytes when large), a chunked
 * body (trailers skipped), or a body that ends with the stream; over a cap a
 * body is refused or truncated.
 *
 * @module
 */

import { type Http1Framing, Http1ReadError, latin1 } from "./head.ts";

/** How {@linkcode readBody} treats a body without framing, and one over its cap. */
export interface BodyOptions {
  /** A body with neither a length nor chunks runs to the end of the stream (a response), else it is empty. */
  toEnd?: boolean;
  /** Over the cap, keep the first bytes and drop the rest (read all the same), instead of refusing. */
  truncate?: boolean;
}

/** The reader's buffer as body framing uses it (`Http1Reader` is one). */
export interface BodyBuffer {
  /** Buffered bytes not consumed yet. */
  readonly available: number;
  /** The buffer's usual size: a body part at least this large is read straight into its own array. */
  readonly usualSize: number;
  /** `n` buffered bytes, consumed (a view, valid until the next read). */
  take(n: number): Uint8Array;
  /** Reads more bytes into the buffer; false at the end of the stream. */
  more(): Promise<boolean>;
  /** Reads until `n` bytes are buffered; `eof` before. */
  fill(n: number): Promise<void>;
  /** Offset of the next CRLF (CRLF CRLF when `double`) within `limit` bytes; `too_large` or `eof` otherwise. */
  findLineEnd(double: boolean, limit: number, what: string): Promise<number>;
  /** One read straight into `out`, past the (empty) buffer, counted as received; `null` at the end. */
  readPast(out: Uint8Array): Promise<number | null>;
  /** Starts the empty buffer over at its front. */
  rewind(): void;
}

const CR = 13;
const LF = 10;

/**
 * Reads a body framed by `framing` (or by the end of the stream when it
 * has neither a length nor chunks and `toEnd`). Over `max` bytes the body
 * is refused with `too_large`, or with `truncate` only its first `max`
 * bytes are kept while the rest is read and dropped. The result is a copy:
 * the reader's buffer is reused for the next message.
 */
export async function readBody(
  r: BodyBuffer,
  framing: Http1Framing,
  max: number,
  options: BodyOptions = {},
): Promise<Uint8Array> {
  if (framing.chunked) return await readChunked(r, max, options.truncate === true);
  if (framing.length !== undefined) {
    if (framing.length > max && !options.truncate) {
      throw new Http1ReadError("too_large", `a body of ${framing.length} bytes is over ${max}`);
    }
    return await readLength(r, framing.length, max);
  }
  if (!options.toEnd) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    if (r.available > 0) {
      const piece = r.take(r.available);
      size += piece.length;
      if (size > max && !options.truncate) {
        throw new Http1ReadError("too_large", `a body over ${max} bytes`);
      }
      parts.push(piece.slice());
    }
    if (!(await r.more())) break;
  }
  return keepFirst(parts, max);
}

/** `length` bytes, of which the first `keep` are returned; large bodies are read straight into the result. */
async function readLength(r: BodyBuffer, length: number, keep: number): Promise<Uint8Array> {
  const out = new Uint8Array(Math.min(length, keep));
  let filled = 0;
  let left = length;
  while (left > 0) {
    if (r.available === 0) {
      // Past the buffered bytes, a body larger than the buffer's usual size goes straight into its own
      // array, not through the buffer.
      if (left >= r.usualSize && filled + left <= out.length) {
        const n = await r.readPast(out.subarray(filled));
        if (n === null) {
          throw new Http1ReadError("eof", `the connection closed ${left} bytes before the end`);
        }
        filled += n;
        left -= n;
        continue;
      }
      r.rewind();
      if (!(await r.more())) {
        throw new Http1ReadError("eof", `the connection closed ${left} bytes before the end`);
      }
    }
    const piece = r.take(Math.min(left, r.available));
    const kept = piece.subarray(0, Math.max(0, out.length - filled));
    out.set(kept, filled);
    filled += kept.length;
    left -= piece.length;
  }
  return out;
}

/** A chunked body: chunk size lines (extensions ignored), chunks, CRLFs, then trailer lines skipped. */
async function readChunked(r: BodyBuffer, max: number, truncate: boolean): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const lineEnd = await r.findLineEnd(false, 4096, "a chunk size line");
    const line = latin1.decode(r.take(lineEnd + 2)).slice(0, -2);
    const semi = line.indexOf(";");
    const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) {
      throw new Http1ReadError("malformed", `invalid chunk size ${JSON.stringify(sizeText)}`);
    }
    const chunk = parseInt(sizeText, 16);
    if (chunk === 0) break;
    size += chunk;
    if (size > max && !truncate) throw new Http1ReadError("too_large", `a body over ${max} bytes`);
    parts.push(await readLength(r, chunk, Math.max(0, max - (size - chunk))));
    await r.fill(2);
    const crlf = r.take(2);
    if (crlf[0] !== CR || crlf[1] !== LF) {
      throw new Http1ReadError("malformed", "a chunk is not followed by CRLF");
    }
  }
  for (;;) { // trailer lines up to an empty line
    const end = await r.findLineEnd(false, 65536, "a trailer line");
    r.take(end + 2);
    if (end === 0) break;
  }
  return keepFirst(parts, max);
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
