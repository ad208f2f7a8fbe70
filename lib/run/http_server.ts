/**
 * lrp's own HTTP/1.1 server: one connection at a time, read with lrp's one
 * HTTP/1.1 reader, answered in order (keep-alive and pipelining), with what
 * `Deno.serve` cannot do (docs/operations.md, "Connections and timeouts"):
 *
 * - a connection idle between requests is closed after `idle_timeout`, and a
 *   header block not complete within `header_timeout` of its first byte is
 *   answered 408 and closed — one sweep timer for all connections, so the
 *   hot path only stamps a time;
 * - every refusal before the handler (malformed request line or header, bad
 *   framing, an oversized header block, an unsupported version) is answered
 *   in lrp's JSON error shape with `Connection: close`, logged and counted by
 *   the `refuse` callback, and the socket is really closed;
 * - a request body is a stream the handler pulls (100-continue is sent on the
 *   first pull); a chunked body with a bad chunk size errors that stream, so
 *   the handler answers 400 wherever in the body the bad size is;
 * - a body the handler did not read to its end, or any `Connection: close`
 *   answer, closes the connection after the response: what is left of the
 *   request can never be read as the next one;
 * - a client that closes its connection while its request is being handled
 *   aborts `request.signal` (a queued invocation is dropped, a stream ends).
 *
 * @module
 */

import {
  framingOf,
  type Http1Framing,
  Http1Reader,
  Http1ReadError,
  keepsAlive,
} from "../invoke/http1_reader.ts";
import { LrpError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";
import type { IncomingRequest } from "../wire/request.ts";
import { KnownLengthResponse } from "../wire/response.ts";
import type { ConnInfo } from "./handler.ts";
import { ownBody } from "./body.ts";

/** The limits of the server; read again for every request, so a reload changes them. */
export interface ServerLimits {
  /** Longest time from a request's first byte (or the connection's start) to the end of its header block. */
  headerTimeoutMs: number;
  /** Longest time a keep-alive connection waits for its next request. */
  idleTimeoutMs: number;
}

/** Largest request header block (request line included), bytes; then 431. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Most header lines in a request; then 431. */
export const MAX_HEADER_LINES = 128;

/** What the server needs. */
export interface HttpServerOptions {
  handler: (request: IncomingRequest, info: ConnInfo) => Promise<Response>;
  /** The answer when the handler throws (a bug: the handler answers every failure itself). */
  onError: (error: unknown) => Response;
  /** The answer to a request refused before the handler; the callback logs and counts it. */
  refuse: (error: LrpError, peer: string) => Response;
  limits: ServerLimits;
}

const utf8 = new TextEncoder();
const CONTINUE = utf8.encode("HTTP/1.1 100 Continue\r\n\r\n");
const LAST_CHUNK = utf8.encode("0\r\n\r\n");
const NO_BODY_STATUS = new Set([204, 304]);
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
const NOT_ASCII = /[^\p{ASCII}]/u;

/** One connection's state, as the sweep sees it. */
interface Connection {
  conn: Deno.Conn;
  reader: Http1Reader;
  /** Waiting for the next request's header block. */
  waiting: boolean;
  /** No request has been read on it yet. */
  fresh: boolean;
  /** When (`performance.now()`) it started waiting. */
  since: number;
  /** Close once the current response is written (shutdown, or a refusal). */
  closing: boolean;
  closed: boolean;
  peer: string;
  /** When the write in progress started; 0 when not writing. */
  writingSince: number;
  /** The write buffer of buffered answers (one per connection: it writes one thing at a time). */
  out: Uint8Array;
  /** The 408 the sweep is writing: a head completed meanwhile is not handled. */
  timedOut: Promise<void> | undefined;
}

/** The connections of one server, served with lrp's HTTP/1.1 rules. */
export class HttpConnections {
  #options: HttpServerOptions;
  #open = new Set<Connection>();
  #served = new Set<Promise<void>>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = Promise.withResolvers<void>();
  /** Called whenever a connection ends (the accept loop waits on it at the connection cap). */
  onClose: (() => void) | undefined;

  /** Creates the server with its handler and limits. */
  constructor(options: HttpServerOptions) {
    this.#options = options;
  }

  /** Connections open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Serves one accepted connection until it ends; never rejects. */
  serve(conn: Deno.Conn): void {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const c: Connection = {
      conn,
      // 4 KiB holds a usual request head; a larger one grows the buffer for that request only.
      reader: new Http1Reader(conn, 4096),
      waiting: true,
      fresh: true,
      since: performance.now(),
      closing: false,
      closed: false,
      peer: remote.hostname ?? "",
      writingSince: 0,
      out: new Uint8Array(4096),
      timedOut: undefined,
    };
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* not TCP */ }
    this.#open.add(c);
    this.#startSweep();
    const done = this.#loop(c, { remoteAddr: remote }).catch(() => {}).finally(() => {
      this.#destroy(c);
      this.#open.delete(c);
      this.#served.delete(done);
      if (this.#open.size === 0) this.#stopSweep();
      this.onClose?.();
    });
    this.#served.add(done);
  }

  /**
   * Stops serving: idle connections are closed now, the others after the
   * response they are working on. Resolves once every connection has ended.
   */
  async shutdown(): Promise<void> {
    for (const c of this.#open) {
      c.closing = true;
      if (c.waiting && c.reader.received === 0) this.#destroy(c);
    }
    await Promise.all(this.#served);
    this.#closed.resolve();
  }

  #startSweep() {
    if (this.#sweep !== undefined) return;
    const { headerTimeoutMs, idleTimeoutMs } = this.#options.limits;
    const every = Math.min(1000, Math.max(10, Math.min(headerTimeoutMs, idleTimeoutMs) / 4));
    const sweep = setInterval(() => this.#expire(), every);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
  }

  #stopSweep() {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /** Closes connections idle past `idle_timeout`; answers 408 to header blocks past `header_timeout`. */
  #expire() {
    const { headerTimeoutMs, idleTimeoutMs } = this.#options.limits;
    const now = performance.now();
    for (const c of this.#open) {
      // A client that stops reading its answer: nothing left to do for it.
      if (c.writingSince !== 0 && now - c.writingSince >= idleTimeoutMs) this.#destroy(c);
      if (!c.waiting || c.closed) continue;
      if (c.reader.received === 0) {
        if (now - c.since >= (c.fresh ? headerTimeoutMs : idleTimeoutMs)) this.#destroy(c);
      } else if (now - c.reader.firstByteAt >= headerTimeoutMs) {
        c.waiting = false;
        const refusal = new LrpError(
          "header_timeout",
          `Cannot read the request: its header block did not arrive within ${headerTimeoutMs} ms (header_timeout)`,
        );
        const answer = this.#options.refuse(refusal, c.peer);
        c.timedOut = writeResponse(c, answer, "GET", false, true).then(() => this.#destroy(c));
      }
    }
  }

  #destroy(c: Connection) {
    if (c.closed) return;
    c.closed = true;
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }

  async #loop(c: Connection, info: ConnInfo): Promise<void> {
    const { reader } = c;
    while (!c.closed) {
      c.waiting = true;
      c.since = performance.now();
      reader.reset();
      let head;
      try {
        head = await reader.readHead(MAX_HEAD_BYTES, true, MAX_HEADER_LINES);
      } catch (err) {
        if (c.timedOut) return await c.timedOut;
        if (c.closed) return;
        if (!(err instanceof Http1ReadError) || err.kind === "eof") return;
        c.waiting = false;
        const refusal = err.kind === "too_large"
          ? new LrpError("headers_too_large", `Cannot read the request: ${err.message}`)
          : new LrpError("bad_request", `Cannot read the request: ${err.message}`);
        if (await writeResponse(c, this.#options.refuse(refusal, c.peer), "GET", false, true) !== "failed") {
          await linger(c);
        }
        return;
      }
      // The sweep answered 408 while the last bytes of the head arrived: that answer ends the connection.
      if (c.timedOut) return await c.timedOut;
      c.waiting = false;
      c.fresh = false;
      if (head === null || c.closed) return;
      let parsed;
      try {
        parsed = parseRequest(head.startLine, head.headers);
      } catch (err) {
        const refusal = err instanceof LrpError ? err : new LrpError("bad_request", String(err));
        if (await writeResponse(c, this.#options.refuse(refusal, c.peer), "GET", false, true) !== "failed") {
          await linger(c);
        }
        return;
      }
      const keepAlive = keepsAlive(parsed.http10, head.headers) && !c.closing;
      const aborter = new AbortController();
      const body = parsed.framing.chunked || (parsed.framing.length ?? 0) > 0
        ? new BodySource(c, parsed.framing, parsed.expectContinue, () => this.#watch(c, aborter))
        : undefined;
      if (!body) this.#watch(c, aborter);
      const request: IncomingRequest = {
        method: parsed.method,
        url: parsed.url,
        headers: parsed.headers,
        body: body?.stream ?? null,
        signal: aborter.signal,
      };
      let response: Response;
      try {
        response = await this.#options.handler(request, info);
      } catch (err) {
        response = this.#options.onError(err);
      }
      // What is left of the body must not be read as the next request: such a connection ends here.
      const again = keepAlive && !c.closing && (body === undefined || body.finished) &&
        !hasCloseToken(response.headers.get("connection"));
      const written = await writeResponse(c, response, parsed.method, parsed.http10, !again, aborter);
      if (written === "failed") return;
      if (written === "done" && again) continue;
      // The client may still be sending (the rest of a body, pipelined requests): a plain close with
      // unread bytes resets the connection, and the reset destroys what of the answer is not read yet.
      await linger(c);
      return;
    }
  }

  /**
   * Keeps a read in flight while the handler works, so a client that goes
   * away aborts its request. Only when nothing of a next request is buffered.
   */
  #watch(c: Connection, aborter: AbortController) {
    if (c.reader.available > 0) return;
    c.reader.park((n) => {
      if (n === null) {
        aborter.abort(new LrpError("client_closed", "Cannot answer: the client closed the connection"));
      }
    });
  }
}

/** How long, and for how many bytes, a closing connection keeps reading what the client still sends. */
const LINGER_MS = 2000;
const LINGER_BYTES = 4 * 1024 * 1024;

/**
 * Closes a connection whose client may still be sending (a refused request,
 * a body not read to its end) the way nginx's lingering close does: the
 * write side first, then what arrives is read and dropped for a while, so the
 * kernel does not answer the unread bytes with a reset that would destroy the
 * response before the client reads it.
 */
async function linger(c: Connection): Promise<void> {
  if (c.closed) return;
  try {
    await (c.conn as Deno.TcpConn).closeWrite();
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    c.closed = true;
    try {
      c.conn.close();
    } catch { /* closed */ }
  }, LINGER_MS);
  try {
    const buf = new Uint8Array(16 * 1024);
    for (let total = 0; total < LINGER_BYTES;) {
      const n = await c.conn.read(buf);
      if (n === null) break;
      total += n;
    }
  } catch {
    // Reset or closed by the timer: done either way.
  } finally {
    clearTimeout(timer);
  }
}

/** A request head, checked. */
interface ParsedRequest {
  method: string;
  url: string;
  headers: Headers;
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
  const headers = new Headers();
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
    headers.append(name, value);
  }
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

/** The request body as a stream the handler pulls from the connection. */
class BodySource {
  readonly stream: ReadableStream<Uint8Array>;
  /** The whole body was read (the connection can carry another request). */
  finished = false;
  #c: Connection;
  #framing: Http1Framing;
  #left: number;
  /** Chunk bytes still to read of the current chunk; -1 before the first chunk-size line. */
  #chunkLeft = -1;
  #continue: boolean;
  #onEnd: () => void;
  /** What chunk size lines (with their extensions) and trailers may still take, bytes. */
  #framingBytes = MAX_HEAD_BYTES;

  constructor(c: Connection, framing: Http1Framing, expectContinue: boolean, onEnd: () => void) {
    this.#c = c;
    this.#framing = framing;
    this.#left = framing.length ?? 0;
    this.#continue = expectContinue;
    this.#onEnd = onEnd;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
    }, { highWaterMark: 0 });
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>) {
    try {
      if (this.#continue) {
        this.#continue = false;
        await writeAll(this.#c, CONTINUE);
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

  /** A declared body in one array read straight into: no piece is allocated, copied and dropped. */
  async #whole(): Promise<Uint8Array> {
    const out = ownBody(new Uint8Array(this.#left));
    await this.#c.reader.readFull(out);
    this.#left = 0;
    return out;
  }

  async #some(left: number): Promise<Uint8Array | null> {
    if (left === 0) return null;
    const piece = await this.#c.reader.readSome(left);
    if (piece === null) {
      throw new Http1ReadError("eof", `the client closed the connection ${left} bytes early`);
    }
    if (!this.#framing.chunked) this.#left -= piece.length;
    return piece;
  }

  async #chunk(): Promise<Uint8Array | null> {
    const reader = this.#c.reader;
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
    const line = await this.#c.reader.readLine(limit, what);
    if (line.length > limit) {
      throw new Http1ReadError("too_large", `${what} over ${limit} bytes (chunk size lines and trailers)`);
    }
    this.#framingBytes -= line.length + 2;
    return line;
  }
}

function hasCloseToken(value: string | null): boolean {
  return value !== null && value.toLowerCase().split(",").some((t) => t.trim() === "close");
}

let dateSecond = -1;
let dateText = "";

/** The `Date` header value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/**
 * How writing a response ended: `done` (complete and framed: the connection
 * can carry another request), `ended` (complete, but delimited by the close
 * of the connection) or `failed` (the client went away, or the body failed
 * midway: the connection is cut).
 */
type Written = "done" | "ended" | "failed";

/**
 * Writes a response. Buffered bodies (lrp's results, error answers) go with
 * `Content-Length` in one write with the head when small; streams go chunked
 * (close-delimited to an HTTP/1.0 client) as their chunks come. `HEAD` and
 * 204/304 answers carry no body.
 */
async function writeResponse(
  c: Connection,
  response: Response,
  method: string,
  http10: boolean,
  close: boolean,
  aborter?: AbortController,
): Promise<Written> {
  const status = response.status;
  let head = `HTTP/1.1 ${status} ${response.statusText || REASONS[status] || ""}\r\n`;
  let hasDate = false;
  let hasLength = false;
  for (const [name, value] of response.headers) {
    if (name === "connection" || name === "transfer-encoding" || name === "keep-alive") continue;
    if (name === "content-length") {
      // RFC 9110 §8.6: never in a 204; a client that believed it would wait for a body that never comes.
      if (status === 204) continue;
      hasLength = true;
    } else if (name === "date") hasDate = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasDate) head += `date: ${httpDate()}\r\n`;
  const connection = close ? "connection: close\r\n" : http10 ? "connection: keep-alive\r\n" : "";
  const noBody = method === "HEAD" || NO_BODY_STATUS.has(status);
  let live: Pending | undefined;
  try {
    let bytes: Uint8Array | null | undefined;
    if (response instanceof KnownLengthResponse && response.bodyBytes !== undefined) {
      bytes = response.bodyBytes;
    } else if (response.body === null) bytes = null;
    else {
      const whole = await wholeIfBuffered(response.body);
      if (whole instanceof Uint8Array || whole === null) bytes = whole;
      else live = whole;
    }
    if (!live) {
      // Buffered: a length, and the body unless HEAD or a body-less status.
      if (!hasLength && !NO_BODY_STATUS.has(status)) head += `content-length: ${bytes?.length ?? 0}\r\n`;
      const text = head + connection + "\r\n";
      if (noBody || !bytes || bytes.length === 0) await writeAll(c, framed(c, text));
      else if (bytes.length <= 16 * 1024) await writeAll(c, framed(c, text, bytes));
      else {
        await writeAll(c, framed(c, text));
        await writeAll(c, bytes);
      }
      return "done";
    }
    if (noBody) {
      await live.reader.cancel().catch(() => {});
      await writeAll(c, encodeHead(head + connection + "\r\n"));
      return "done";
    }
    const raw = http10 || hasLength;
    // A raw stream ends with the connection, whatever the request asked for: the head says so.
    return await writeStream(c, head + (raw ? "connection: close\r\n" : connection), live, raw);
  } catch {
    aborter?.abort(new LrpError("client_closed", "Cannot answer: the client closed the connection"));
    await live?.reader.cancel().catch(() => {});
    return "failed";
  }
}

/** A live stream's reader, with what {@linkcode wholeIfBuffered} already took from it. */
interface Pending {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The first chunk, when it was there at once. */
  first: Uint8Array | undefined;
  /** The read already started after `first`. */
  next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
}

/**
 * The whole body when the stream is already complete (a buffered body gives
 * its bytes and ends at once; `null` when empty), or the reader of a stream
 * still producing, with what was read of it. A buffered body is complete by
 * the next turn; a live stream that has nothing yet (a function streaming its
 * first chunk later) is live at once, so its head goes out without waiting.
 */
async function wholeIfBuffered(stream: ReadableStream<Uint8Array>): Promise<Uint8Array | null | Pending> {
  const reader = stream.getReader();
  const firstRead = reader.read();
  const first = await Promise.race([firstRead, turn()]);
  if (first === TURN) return { reader, first: undefined, next: firstRead };
  if (first.done) return null;
  const read = reader.read();
  const next = await Promise.race([read, turn()]);
  if (next !== TURN && next.done) return first.value;
  return { reader, first: first.value, next: read };
}

const TURN: unique symbol = Symbol("turn");
const turn = (): Promise<typeof TURN> => Promise.resolve().then(() => Promise.resolve()).then(() => TURN);

/**
 * Writes a live stream's chunks as they come: chunked, or as they are when
 * `raw` (HTTP/1.0, or a length the response states), then closing.
 */
async function writeStream(c: Connection, head: string, live: Pending, raw: boolean): Promise<Written> {
  const { reader } = live;
  if (!raw) head += "transfer-encoding: chunked\r\n";
  const frame = (chunk: Uint8Array) =>
    raw ? chunk : concatBytes([utf8.encode(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]);
  const headBytes = encodeHead(head + "\r\n");
  await writeAll(
    c,
    live.first && live.first.length > 0 ? concatBytes([headBytes, frame(live.first)]) : headBytes,
  );
  let next = live.next;
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await (next ?? reader.read());
    } catch {
      // The stream failed midway: end the connection without the last chunk, so the client sees it cut.
      return "failed";
    }
    next = undefined;
    if (r.done) break;
    if (r.value.length > 0) await writeAll(c, frame(r.value));
  }
  if (raw) return "ended";
  await writeAll(c, LAST_CHUNK);
  return "done";
}

const CRLF = utf8.encode("\r\n");

/**
 * A head, and a small body after it, in the connection's own write buffer
 * (reused: a connection writes one thing at a time). Header values are byte
 * strings (latin1), so a head with anything past ASCII is written byte by byte.
 */
function framed(c: Connection, head: string, body?: Uint8Array): Uint8Array {
  const need = head.length * 3 + (body?.length ?? 0);
  if (c.out.length < need) c.out = new Uint8Array(Math.max(need, c.out.length * 2));
  const out = c.out;
  let n: number;
  if (!NOT_ASCII.test(head)) n = utf8.encodeInto(head, out).written;
  else {
    for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
    n = head.length;
  }
  if (body) {
    out.set(body, n);
    n += body.length;
  }
  return out.subarray(0, n);
}

/** A head as bytes: header values are byte strings (latin1), so anything past ASCII is written byte by byte. */
function encodeHead(text: string): Uint8Array {
  if (!NOT_ASCII.test(text)) return utf8.encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Writes all of `bytes`; the sweep closes a connection whose write makes no progress for `idle_timeout`. */
async function writeAll(c: Connection, bytes: Uint8Array): Promise<void> {
  try {
    for (let at = 0; at < bytes.length;) {
      c.writingSince = performance.now();
      at += await c.conn.write(bytes.subarray(at));
    }
  } finally {
    c.writingSince = 0;
  }
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
};
