/**
 * The request side of lrp's HTTP/1.1 server (`http_server.ts`): a request
 * head checked as RFC 9112 asks, and a request body as a stream the handler
 * pulls off the connection, framed strictly (docs/operations.md,
 * "Connections and timeouts").
 *
 * @module
 */

import { framingOf, type Http1Framing, type Http1Reader, Http1ReadError } from "../invoke/http1_reader.ts";
import { LrpError } from "../errors.ts";
import { type BodyLimits, bodyTooLarge, ownBody, takesBodyLimits } from "./body.ts";
import { HeaderLines } from "../wire/header_lines.ts";

/** Largest request header block (request line included), bytes; then 431. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Most header lines in a request; then 431. */
export const MAX_HEADER_LINES = 128;

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;

/** A request head, checked. */
export interface ParsedRequest {
  method: string;
  url: string;
  headers: HeaderLines;
  http10: boolean;
  framing: Http1Framing;
  expectContinue: boolean;
}

/**
 * Checks a request head as RFC 9112 asks, refusing what intermediaries could
 * read differently: one `Host` (required in HTTP/1.1), `Content-Length` and
 * `Transfer-Encoding` not both, equal lengths, `chunked` as the only coding
 * and never in HTTP/1.0, and a request target of visible ASCII.
 */
export function parseRequest(startLine: string, lines: [string, string][]): ParsedRequest {
  const m = REQUEST_LINE.exec(startLine);
  if (!m) {
    throw new LrpError(
      "bad_request",
      `Cannot read the request: malformed request line ${JSON.stringify(startLine)}`,
    );
  }
  const [, method, target, major, minor] = m as unknown as [string, string, string, string, string];
  if (major !== "1" || (minor !== "0" && minor !== "1")) {
    throw new LrpError(
      major === "1" ? "bad_request" : "version_not_supported",
      `Cannot read the request: HTTP/${major}.${minor} is not HTTP/1.0 or HTTP/1.1`,
    );
  }
  if (!targetFormOk(method, target)) {
    throw new LrpError(
      "bad_request",
      `Cannot read the request: the request target ${
        JSON.stringify(target)
      } is not of a form RFC 9112 §3.2 allows`,
    );
  }
  const http10 = minor === "0";
  let host: string | undefined;
  let te = false;
  let cl = false;
  let expectContinue = false;
  for (const [name, value] of lines) {
    if (name === "host") {
      if (host !== undefined) {
        throw new LrpError("bad_request", "Cannot read the request: more than one Host line");
      }
      host = value;
    } else if (name === "transfer-encoding") {
      if (te) {
        throw new LrpError("bad_request", "Cannot read the request: more than one Transfer-Encoding line");
      }
      te = true;
    } else if (name === "content-length") cl = true;
    else if (name === "expect" && value.toLowerCase() === "100-continue") expectContinue = true;
  }
  const headers = new HeaderLines(lines);
  if (te && cl) {
    throw new LrpError(
      "bad_request",
      "Cannot read the request: it has both Content-Length and Transfer-Encoding",
    );
  }
  if (te && http10) {
    throw new LrpError("bad_request", "Cannot read the request: Transfer-Encoding in HTTP/1.0");
  }
  let framing: Http1Framing;
  try {
    framing = framingOf(lines);
  } catch (err) {
    throw new LrpError("bad_request", `Cannot read the request: ${(err as Error).message}`);
  }
  if (te && headers.get("transfer-encoding")!.toLowerCase() !== "chunked") {
    throw new LrpError("bad_request", "Cannot read the request: chunked must be its only transfer coding");
  }
  const absolute = !target.startsWith("/") && target.includes("://");
  const url = absolute ? target : `http://${host ?? ""}${target === "*" ? "" : target}`;
  return { method, url, headers, http10, framing, expectContinue: expectContinue && !http10 };
}

/** Declared bodies from 16 KiB to 64 MiB are read whole, into one array, on the first pull. */
const WHOLE_FROM = 16 * 1024;
const WHOLE_UP_TO = 64 * 1024 * 1024;
/**
 * The array of a whole body starts this large (or as large as what is
 * buffered) and doubles as bytes arrive: it never holds more than twice what
 * arrived, and the copies add up to less than the body.
 */
const GROW_FROM = 4 * 1024;

/**
 * A chunk size line (RFC 9112 §7.1): hex digits, whitespace only before
 * extensions, and extensions without control bytes but HTAB. Anything more
 * lenient (other whitespace, a bare CR or LF) is read differently by some
 * other HTTP implementation: a smuggling shape. Leading zeros are allowed.
 */
// deno-lint-ignore no-control-regex -- matching control bytes is the point
const CHUNK_SIZE_LINE = /^0*([0-9a-fA-F]{1,12})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
/** A trailer field line: a token name, a colon, a value without control bytes but HTAB. */
// deno-lint-ignore no-control-regex -- matching control bytes is the point
const TRAILER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*$/;

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\//;

/**
 * Whether a request target has one of the forms of RFC 9112 §3.2: a path
 * (origin-form), an absolute URI, `*` for `OPTIONS` and an authority for
 * `CONNECT`. Anything else (`?q`, `@host/`, `:81/x`) would be glued onto the
 * Host into a URL naming another host, port or path than the client sent.
 */
function targetFormOk(method: string, target: string): boolean {
  if (target.startsWith("/") || ABSOLUTE_FORM.test(target)) return true;
  if (target === "*") return method === "OPTIONS";
  return method === "CONNECT" && !/[/?#@]/.test(target);
}

/**
 * The request body as a stream the handler pulls from the connection. Its
 * reader may give it {@linkcode BodyLimits} (`body.ts`): then a chunk
 * announced past the body limit is refused at once, and the memory the body
 * takes is counted as it is taken — never ahead of the bytes that arrived.
 */
export class BodySource {
  readonly stream: ReadableStream<Uint8Array>;
  /** The whole body was read (the connection can carry another request). */
  finished = false;
  #reader: Http1Reader;
  #sendContinue: () => Promise<void>;
  #framing: Http1Framing;
  #left: number;
  /** Chunk bytes still to read of the current chunk; -1 before the first chunk-size line. */
  #chunkLeft = -1;
  #continue: boolean;
  #onEnd: () => void;
  /** What chunk size lines (with their extensions) and trailers may still take, bytes. */
  #framingBytes = MAX_HEAD_BYTES;
  #limits: BodyLimits | undefined;
  /** Body bytes read so far. */
  #received = 0;

  /** Reads the body off `reader`; `sendContinue` answers `Expect: 100-continue` when the first pull comes. */
  constructor(
    reader: Http1Reader,
    sendContinue: () => Promise<void>,
    framing: Http1Framing,
    expectContinue: boolean,
    onEnd: () => void,
  ) {
    this.#reader = reader;
    this.#sendContinue = sendContinue;
    this.#framing = framing;
    this.#left = framing.length ?? 0;
    this.#continue = expectContinue;
    this.#onEnd = onEnd;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
    }, { highWaterMark: 0 });
    takesBodyLimits(this.stream, (limits) => this.#limits = limits);
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>) {
    try {
      if (this.#continue) {
        this.#continue = false;
        await this.#sendContinue();
      }
      const piece = this.#framing.chunked
        ? await this.#chunk()
        : this.#left >= WHOLE_FROM && this.#left <= WHOLE_UP_TO
        ? await this.#whole()
        : await this.#some(this.#left);
      if (piece === null) {
        this.finished = true;
        controller.close();
        this.#onEnd();
      } else controller.enqueue(piece);
    } catch (err) {
      controller.error(
        err instanceof Http1ReadError && err.kind !== "eof"
          ? new LrpError("bad_request", `Cannot read the request body: ${err.message}`, { cause: err })
          : err,
      );
    }
  }

  /**
   * A declared body in one array read straight into: no piece is allocated,
   * copied and dropped. The array grows (doubling) as the bytes arrive, each
   * growth counted first, so a client that declares much and sends little
   * holds little.
   */
  async #whole(): Promise<Uint8Array> {
    const length = this.#left;
    let size = Math.min(length, Math.max(GROW_FROM, this.#reader.available));
    this.#limits?.hold(size);
    let out = new Uint8Array(size);
    for (let filled = 0;;) {
      await this.#reader.readFull(out.subarray(filled));
      filled = size;
      if (filled === length) break;
      const next = Math.min(length, size * 2);
      this.#limits?.hold(next - size);
      out = new Uint8Array((out.buffer as ArrayBuffer).transfer(next));
      size = next;
    }
    this.#left = 0;
    this.#received = length;
    return ownBody(out);
  }

  async #some(left: number): Promise<Uint8Array | null> {
    if (left === 0) return null;
    const piece = await this.#reader.readSome(left);
    if (piece === null) {
      throw new Http1ReadError("eof", `the client closed the connection ${left} bytes early`);
    }
    if (!this.#framing.chunked) this.#left -= piece.length;
    this.#received += piece.length;
    this.#limits?.hold(piece.length);
    // A read into a large array that brought a few bytes: keep the bytes, not the array (a trickled body
    // would otherwise hold an array per byte).
    return piece.length < piece.buffer.byteLength / 2 ? piece.slice() : piece;
  }

  async #chunk(): Promise<Uint8Array | null> {
    const reader = this.#reader;
    if (this.#chunkLeft === 0) {
      if ((await reader.readLine(2, "the end of a chunk")) !== "") {
        throw new Http1ReadError("malformed", "a chunk is not followed by CRLF");
      }
    }
    if (this.#chunkLeft <= 0) {
      const line = await this.#framingLine("a chunk size line");
      const m = CHUNK_SIZE_LINE.exec(line);
      if (!m) {
        const semi = line.indexOf(";");
        throw new Http1ReadError(
          "malformed",
          `invalid chunk size ${JSON.stringify(semi === -1 ? line : line.slice(0, semi))}`,
        );
      }
      this.#chunkLeft = parseInt(m[1]!, 16);
      // A chunk that can never fit is refused when announced, not after the limit's worth has arrived.
      if (this.#limits && this.#received + this.#chunkLeft > this.#limits.maxBytes) {
        throw bodyTooLarge(this.#limits.maxBytes);
      }
      if (this.#chunkLeft === 0) {
        // Trailer lines up to an empty line, checked as header lines are; their content is not passed on.
        for (let line; (line = await this.#framingLine("a trailer line")) !== "";) {
          if (!TRAILER_LINE.test(line)) {
            throw new Http1ReadError("malformed", `malformed trailer line ${JSON.stringify(line)}`);
          }
        }
        return null;
      }
    }
    const piece = await this.#some(this.#chunkLeft);
    this.#chunkLeft -= piece!.length;
    return piece;
  }

  /** A chunk size or trailer line; all of them together are capped like a header block. */
  async #framingLine(what: string): Promise<string> {
    const limit = Math.min(4096, this.#framingBytes);
    // The reader checks its limit only while it waits for more bytes: a line already buffered is checked here.
    const line = await this.#reader.readLine(limit, what);
    if (line.length > limit) {
      throw new Http1ReadError("too_large", `${what} over ${limit} bytes (chunk size lines and trailers)`);
    }
    this.#framingBytes -= line.length + 2;
    return line;
  }
}
