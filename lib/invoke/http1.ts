/**
 * A small HTTP/1.1 client with keep-alive connection pooling (plain or TLS),
 * for lrp's hot path to RIE endpoints and the Lambda Invoke API. It does one thing: send a request with a
 * fully buffered body and read back a fully buffered response. Measured on
 * loopback it costs about half of `fetch`'s per-request overhead (see
 * bench/README.md), which is most of what a proxy adds.
 *
 * Framing handled: `Content-Length`, `Transfer-Encoding: chunked` (with
 * trailers), and close-delimited bodies. Anything malformed is an
 * {@linkcode Http1Error}; the connection is then discarded.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A failure talking to the upstream; `phase` says how far the exchange got. */
export class Http1Error extends Error {
  /** `connect`: no connection; `send`: writing failed; `receive`: reading or parsing the response failed. */
  readonly phase: "connect" | "send" | "receive";
  /** Response bytes received before the failure. */
  readonly received: number;
  /** The response was refused for being over `maxResponseBytes`. */
  readonly tooLarge: boolean;
  /** Creates the error. */
  constructor(
    phase: Http1Error["phase"],
    message: string,
    received = 0,
    options?: ErrorOptions & { tooLarge?: boolean },
  ) {
    super(message, options);
    this.name = "Http1Error";
    this.phase = phase;
    this.received = received;
    this.tooLarge = options?.tooLarge ?? false;
  }
}

/** A buffered response. */
export interface Http1Response {
  status: number;
  /** Header lines in order, names lower-cased. */
  headers: [string, string][];
  body: Uint8Array;
}

/** Limits of a {@linkcode Http1Pool}. */
export interface Http1PoolOptions {
  /** Idle connections kept. */
  maxIdle?: number;
  /** An idle connection older than this is closed instead of reused (ms). */
  idleTimeoutMs?: number;
  /** Largest response accepted (bytes). */
  maxResponseBytes?: number;
  /** Largest response head accepted (bytes). */
  maxHeadBytes?: number;
}

interface PooledConn {
  conn: Deno.Conn;
  idleSince: number;
  /** While idle: a read in flight, so that a close (or stray bytes) from the server is seen before reuse. */
  parked: ParkedRead | undefined;
}

interface ParkedRead {
  buf: Uint8Array;
  read: Promise<number | null>;
  settled: boolean;
}

/** A keep-alive pool of connections to one `http://host:port` origin. */
export class Http1Pool {
  #hostname: string;
  #port: number;
  #hostHeader: string;
  #idle: PooledConn[] = [];
  #maxIdle: number;
  #idleTimeoutMs: number;
  #maxResponseBytes: number;
  #maxHeadBytes: number;
  #closed = false;
  #tls: boolean;
  #open = new Set<Deno.Conn>();

  /** Creates a pool for the origin of `url` (`http:` or `https:`). */
  constructor(url: string, options: Http1PoolOptions = {}) {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new TypeError(`Cannot pool ${url}: only http: and https: are supported`);
    }
    this.#tls = u.protocol === "https:";
    this.#hostname = u.hostname.replace(/^\[|\]$/g, "");
    this.#port = Number(u.port || (this.#tls ? 443 : 80));
    this.#hostHeader = u.host;
    this.#maxIdle = options.maxIdle ?? 8;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 4_000;
    this.#maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.#maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
  }

  /** The `Host` header this pool sends (what a signature must cover). */
  get hostHeader(): string {
    return this.#hostHeader;
  }

  /** Connections currently open (idle or busy), for tests and metrics. */
  get openConnections(): number {
    return this.#open.size;
  }

  /**
   * Sends one request and reads the whole response. Nothing that may have
   * reached the server is retried (a POST may already have run): only a
   * request whose write failed on a reused connection is sent again, on a new
   * one. Idle connections keep a read parked, so one the server closed (or
   * wrote stray bytes to) is dropped before reuse. Aborting `signal` closes
   * the connection, during connect too.
   */
  async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Http1Response> {
    const bytes = this.#serialize(method, path, headers, body);
    const reused = this.#takeIdle();
    if (reused) {
      try {
        return await this.#exchange(reused, bytes, signal);
      } catch (err) {
        if (!(err instanceof Http1Error) || err.phase !== "send" || signal?.aborted) throw err;
      }
    }
    return await this.#exchange(await this.#connect(signal), bytes, signal);
  }

  /** Closes every connection; later requests fail. */
  close(): void {
    this.#closed = true;
    for (const c of this.#open) this.#discard(c);
    this.#idle = [];
  }

  #serialize(method: string, path: string, headers: Record<string, string>, body: Uint8Array): Uint8Array[] {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#hostHeader}\r\n`;
    for (const name in headers) {
      const value = headers[name]!;
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw new TypeError(`Cannot send header ${name}: CR or LF`);
      }
      head += `${name}: ${value}\r\n`;
    }
    head += `content-length: ${body.length}\r\n\r\n`;
    const h = encoder.encode(head);
    // One write for a small request; a large body goes as it is, not copied behind its head.
    if (body.length >= 65536) return [h, body];
    const out = new Uint8Array(h.length + body.length);
    out.set(h);
    out.set(body, h.length);
    return [out];
  }

  #takeIdle(): PooledConn | undefined {
    const now = performance.now();
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (now - c.idleSince < this.#idleTimeoutMs && !c.parked?.settled) return c;
      this.#discard(c.conn);
    }
    return undefined;
  }

  async #connect(signal?: AbortSignal): Promise<PooledConn> {
    if (this.#closed) throw new Http1Error("connect", "the connection pool is closed");
    if (signal?.aborted) throw signal.reason;
    let conn: Deno.Conn;
    try {
      const tcp = await Deno.connect({
        hostname: this.#hostname,
        port: this.#port,
        ...(signal && { signal }),
      });
      tcp.setNoDelay(true);
      conn = this.#tls ? await Deno.startTls(tcp, { hostname: this.#hostname }) : tcp;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new Http1Error("connect", err instanceof Error ? err.message : String(err), 0, { cause: err });
    }
    this.#open.add(conn);
    return { conn, idleSince: 0, parked: undefined };
  }

  /** Parks a read on an idle connection; its result (if any) is the start of the next response. */
  #park(pc: PooledConn): void {
    const parked: ParkedRead = { buf: new Uint8Array(16384), read: Promise.resolve(null), settled: false };
    parked.read = pc.conn.read(parked.buf);
    parked.read.then(() => parked.settled = true, () => parked.settled = true);
    pc.parked = parked;
  }

  #discard(conn: Deno.Conn): void {
    this.#open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  async #exchange(pc: PooledConn, request: Uint8Array[], signal?: AbortSignal): Promise<Http1Response> {
    const onAbort = () => this.#discard(pc.conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) throw signal.reason;
      try {
        for (const part of request) {
          for (let written = 0; written < part.length;) {
            written += await pc.conn.write(part.subarray(written));
          }
        }
      } catch (err) {
        throw new Http1Error("send", err instanceof Error ? err.message : String(err), 0, { cause: err });
      }
      const { response, reusable } = await this.#read(pc);
      if (reusable && !this.#closed && this.#idle.length < this.#maxIdle && !signal?.aborted) {
        pc.idleSince = performance.now();
        this.#park(pc);
        this.#idle.push(pc);
      } else {
        this.#discard(pc.conn);
      }
      return response;
    } catch (err) {
      this.#discard(pc.conn);
      if (signal?.aborted) throw signal.reason;
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #read(pc: PooledConn): Promise<{ response: Http1Response; reusable: boolean }> {
    const reader = new ByteReader(pc.conn, pc.parked, this.#maxResponseBytes);
    pc.parked = undefined;
    const headEnd = await reader.find(CRLFCRLF, this.#maxHeadBytes);
    const head = latin1.decode(reader.take(headEnd + 4));
    const lines = head.slice(0, -4).split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!statusLine) throw reader.error(`the response does not start with an HTTP/1.x status line`);
    const status = Number(statusLine[2]);
    const headers: [string, string][] = [];
    let length: number | undefined;
    let chunked = false;
    let close = statusLine[1] === "0";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) throw reader.error(`malformed header line`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.push([name, value]);
      if (name === "content-length") {
        if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) {
          throw reader.error(`invalid Content-Length ${JSON.stringify(value)}`);
        }
        length = Number(value);
      } else if (name === "transfer-encoding") {
        chunked = value.toLowerCase().split(",").map((s) => s.trim()).at(-1) === "chunked";
        if (!chunked) throw reader.error(`unsupported Transfer-Encoding ${JSON.stringify(value)}`);
      } else if (name === "connection") {
        const tokens = value.toLowerCase().split(",").map((s) => s.trim());
        if (tokens.includes("close")) close = true;
        else if (tokens.includes("keep-alive")) close = false;
      }
    }
    if (status >= 100 && status < 200) throw reader.error(`unexpected interim response ${status}`);
    let body: Uint8Array;
    if (status === 204 || status === 304) {
      body = new Uint8Array(0);
    } else if (chunked) {
      body = await readChunked(reader);
    } else if (length !== undefined) {
      if (length > this.#maxResponseBytes) {
        throw reader.error(`the response body of ${length} bytes is too large`, true);
      }
      await reader.fill(length);
      body = reader.take(length).slice();
    } else {
      body = (await reader.readToEnd()).slice();
      close = true;
    }
    if (body.length > this.#maxResponseBytes) {
      throw reader.error(`a response body over ${this.#maxResponseBytes} bytes`, true);
    }
    // Requests are never pipelined: bytes past the response belong to no request, and the
    // connection that carried them cannot be trusted with the next one.
    return { response: { status, headers, body }, reusable: !close && reader.available === 0 };
  }
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const CRLF = new Uint8Array([13, 10]);

/** Buffered reads from a connection, with a byte budget. */
class ByteReader {
  #conn: Deno.Conn;
  #buf: Uint8Array;
  #start = 0;
  #end: number;
  #received = 0;
  #max: number;

  #parked: ParkedRead | undefined;

  /** `parked`: a read started while the connection was idle; its bytes come first. */
  constructor(conn: Deno.Conn, parked: ParkedRead | undefined, max: number) {
    this.#conn = conn;
    this.#buf = new Uint8Array(16384);
    this.#end = 0;
    this.#max = max;
    this.#parked = parked;
  }

  error(message: string, tooLarge = false): Http1Error {
    return new Http1Error("receive", `Cannot read the upstream response: ${message}`, this.#received, {
      tooLarge,
    });
  }

  get available(): number {
    return this.#end - this.#start;
  }

  /** Reads more bytes; returns false at end of stream. */
  async #more(): Promise<boolean> {
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
    let n: number | null;
    try {
      const parked = this.#parked;
      if (parked) {
        this.#parked = undefined;
        n = await parked.read;
        if (n !== null) this.#buf.set(parked.buf.subarray(0, n), this.#end);
      } else {
        n = await this.#conn.read(this.#buf.subarray(this.#end));
      }
    } catch (err) {
      throw new Http1Error(
        "receive",
        `Cannot read the upstream response: ${err instanceof Error ? err.message : err}`,
        this.#received,
        { cause: err },
      );
    }
    if (n === null) return false;
    this.#end += n;
    this.#received += n;
    if (this.#received > this.#max + 65536) throw this.error(`more than ${this.#max} bytes`, true);
    return true;
  }

  /** Offset (from the current position) of `needle`, reading as needed, within `limit` bytes. */
  async find(needle: Uint8Array, limit: number): Promise<number> {
    let from = 0;
    for (;;) {
      const at = indexOf(this.#buf, needle, this.#start + from, this.#end);
      if (at !== -1) return at - this.#start;
      from = Math.max(0, this.available - needle.length + 1);
      if (this.available > limit) throw this.error(`a header or chunk line over ${limit} bytes`);
      if (!(await this.#more())) {
        throw this.error(
          this.#received === 0 ? "the connection closed before any response" : "unexpected end",
        );
      }
    }
  }

  async fill(n: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.#more())) {
        throw this.error(`the connection closed ${n - this.available} bytes before the end`);
      }
    }
  }

  /** Takes `n` buffered bytes (a view, valid until the next read). */
  take(n: number): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  async readToEnd(): Promise<Uint8Array> {
    while (await this.#more()) { /* keep reading */ }
    return this.take(this.available);
  }
}

async function readChunked(reader: ByteReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const lineEnd = await reader.find(CRLF, 4096);
    const line = latin1.decode(reader.take(lineEnd + 2)).slice(0, -2);
    const sizeText = line.split(";")[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
      throw reader.error(`invalid chunk size ${JSON.stringify(sizeText)}`);
    }
    const size = parseInt(sizeText, 16);
    if (size === 0) break;
    await reader.fill(size + 2);
    parts.push(reader.take(size).slice());
    const crlf = reader.take(2);
    if (crlf[0] !== 13 || crlf[1] !== 10) throw reader.error("a chunk is not followed by CRLF");
  }
  // Trailers: header lines up to an empty line.
  for (;;) {
    const end = await reader.find(CRLF, 65536);
    reader.take(end + 2);
    if (end === 0) break;
  }
  return concatBytes(parts);
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first, from); i !== -1 && i + needle.length <= to; i = hay.indexOf(first, i + 1)) {
    let ok = true;
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
}
