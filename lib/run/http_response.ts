/**
 * The response side of lrp's HTTP/1.1 server (`http_server.ts`): buffered
 * bodies with `Content-Length` (head and a small body in one write from the
 * connection's own buffer), live streams chunked as their chunks come (the
 * head at once), `HEAD` and 204/304 without a body, a `Date` made once a
 * second, and a write timestamp the server's sweep watches.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { LrpError } from "../errors.ts";
import { KnownLengthResponse, ResultResponse } from "../wire/response.ts";
import { perSecond } from "../time.ts";

/** What writing needs of a connection. */
export interface Writer {
  conn: Deno.Conn;
  /** The write buffer of buffered answers (one per connection: it writes one thing at a time). */
  out: Uint8Array;
  /** When the write in progress started; 0 when not writing. */
  writingSince: number;
}

const utf8 = new TextEncoder();
/** The interim answer to `Expect: 100-continue`. */
export const CONTINUE: Uint8Array = utf8.encode("HTTP/1.1 100 Continue\r\n\r\n");
const LAST_CHUNK = utf8.encode("0\r\n\r\n");
const NO_BODY_STATUS = new Set([204, 304]);
const NOT_ASCII = /[^\p{ASCII}]/u;

/** The `Date` header value, made once a second. */
const dateOf = perSecond((ms) => new Date(ms).toUTCString());
const httpDate = (): string => dateOf(Date.now());

/**
 * How writing a response ended: `done` (complete and framed: the connection
 * can carry another request), `ended` (complete, but delimited by the close
 * of the connection) or `failed` (the client went away, or the body failed
 * midway: the connection is cut).
 */
export type Written = "done" | "ended" | "failed";

/**
 * Writes a response. Buffered bodies (lrp's results, error answers) go with
 * `Content-Length` in one write with the head when small; streams go chunked
 * (close-delimited to an HTTP/1.0 client) as their chunks come. `HEAD` and
 * 204/304 answers carry no body.
 */
export async function writeResponse(
  c: Writer,
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
  // A function's result carries its header lines ready for the wire (no hop-by-hop ones): no iteration.
  const lines = response instanceof ResultResponse ? response.resultHeaders : undefined;
  if (lines && !(status === 204 && lines.hasLength)) {
    head += lines.wire;
    hasDate = lines.hasDate;
    hasLength = lines.hasLength;
  } else {
    for (const [name, value] of response.headers) {
      if (name === "connection" || name === "transfer-encoding" || name === "keep-alive") continue;
      if (name === "content-length") {
        // RFC 9110 §8.6: never in a 204; a client that believed it would wait for a body that never comes.
        if (status === 204) continue;
        hasLength = true;
      } else if (name === "date") hasDate = true;
      head += `${name}: ${value}\r\n`;
    }
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
      const small = noBody || !bytes || bytes.length === 0
        ? framed(c, text)
        : bytes.length <= 16 * 1024
        ? framed(c, text, bytes)
        : undefined;
      if (small) {
        // Nearly always one write, awaited here: no async function (a promise and a turn) around it.
        c.writingSince = performance.now();
        let n: number;
        try {
          n = await c.conn.write(small);
        } finally {
          c.writingSince = 0;
        }
        if (n < small.length) await writeAll(c, small.subarray(n));
      } else {
        await writeAll(c, framed(c, text));
        await writeAll(c, bytes!);
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
async function writeStream(c: Writer, head: string, live: Pending, raw: boolean): Promise<Written> {
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
function framed(c: Writer, head: string, body?: Uint8Array): Uint8Array {
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

/** Writes all of `bytes`; the sweep closes a connection whose write makes no progress for `send_timeout`. */
export async function writeAll(c: Writer, bytes: Uint8Array): Promise<void> {
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
