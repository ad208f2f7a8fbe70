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

import { framingOf, Http1Reader, Http1ReadError, keepsAlive } from "./reader.ts";
import { type Payload, SplicedPayload } from "../wire/payload.ts";

const encoder = new TextEncoder();

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
  /**
   * Keep one spare connection, opened in the background while a request runs, for a pool that sends
   * each request on a fresh connection (`maxIdle: 0`): the next request then does not wait for a
   * handshake. The spare never carries anything before its request, and bytes or a close arriving on
   * it first get it discarded; it is closed after `idleTimeoutMs` unused.
   */
  spare?: boolean;
}

/** A spare connection, connecting or connected (`undefined` when the connect failed). */
interface Spare {
  ready: Promise<PooledConn | undefined>;
  since: number;
  abort: AbortController;
}

interface PooledConn {
  conn: Deno.Conn;
  idleSince: number;
  /** The connection's one read buffer; while idle it keeps a read parked (see {@linkcode Http1Reader.park}). */
  reader: Http1Reader;
  /** The connection's one write buffer: request head and a small body, encoded into it, go in one write. */
  out: Uint8Array;
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
  #keepSpare: boolean;
  #spare: Spare | undefined;
  #sweep: ReturnType<typeof setTimeout> | undefined;

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
    this.#keepSpare = options.spare ?? false;
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
   * the connection, during connect too. `headers` as a string are header
   * lines ready for the wire (each ending in CRLF), which the caller has
   * checked for stray CR and LF.
   */
  async request(
    method: string,
    path: string,
    headers: Record<string, string> | string,
    body: Payload,
    signal?: AbortSignal,
  ): Promise<Http1Response> {
    const reused = this.#takeIdle();
    if (reused) {
      try {
        return await this.#exchange(reused, this.#serialize(reused, method, path, headers, body), signal);
      } catch (err) {
        if (!(err instanceof Http1Error) || err.phase !== "send" || signal?.aborted) throw err;
      }
    }
    const fresh = (this.#keepSpare && await this.#takeSpare()) || await this.#connect(signal);
    if (this.#keepSpare && this.#spare === undefined) this.#startSpare();
    return await this.#exchange(fresh, this.#serialize(fresh, method, path, headers, body), signal);
  }

  /** Closes every connection; later requests fail. */
  close(): void {
    this.#closed = true;
    this.#spare?.abort.abort();
    this.#spare = undefined;
    clearTimeout(this.#sweep);
    for (const c of this.#open) this.#discard(c);
    this.#idle = [];
  }

  /**
   * Encodes the request into the connection's write buffer: head and body in
   * one write; a large body goes as it is after its head, not copied behind it.
   * Names and values are checked for CR/LF once, on their concatenation.
   */
  #serialize(
    pc: PooledConn,
    method: string,
    path: string,
    headers: Record<string, string> | string,
    body: Payload,
  ): Iterable<Uint8Array> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#hostHeader}\r\n`;
    if (typeof headers === "string") head += headers;
    else {
      let fields = "";
      for (const name in headers) {
        const value = headers[name]!;
        fields += name + value;
        head += `${name}: ${value}\r\n`;
      }
      if (/[\r\n]/.test(fields)) {
        const bad = Object.keys(headers).find((n) => /[\r\n]/.test(n + headers[n]));
        throw new TypeError(`Cannot send header ${bad}: CR or LF`);
      }
    }
    head += `content-length: ${body.length}\r\n\r\n`;
    if (body instanceof SplicedPayload) {
      // The head goes with the event's JSON up to its body; the base64 body follows as it is made.
      const need = head.length * 3 + body.head.length;
      if (pc.out.length < need) pc.out = new Uint8Array(Math.max(need, pc.out.length * 2));
      const { written } = encoder.encodeInto(head, pc.out);
      pc.out.set(body.head, written);
      const first = pc.out.subarray(0, written + body.head.length);
      return (function* () {
        yield first;
        const pieces = body.pieces();
        pieces.next(); // the head, already sent
        yield* pieces;
      })();
    }
    const inline = body.length < 65536;
    const need = head.length * 3 + (inline ? body.length : 0);
    if (pc.out.length < need) pc.out = new Uint8Array(Math.max(need, pc.out.length * 2));
    const { written } = encoder.encodeInto(head, pc.out);
    if (!inline) return [pc.out.subarray(0, written), body];
    pc.out.set(body, written);
    return [pc.out.subarray(0, written + body.length)];
  }

  /**
   * The spare, if it connected and nothing arrived on it, and a new spare started at once so that its
   * handshake overlaps this request.
   */
  async #takeSpare(): Promise<PooledConn | undefined> {
    const taken = this.#spare;
    if (taken === undefined) return undefined;
    this.#startSpare();
    const pc = await taken.ready;
    if (pc && !pc.reader.parkedSettled && !this.#closed) return pc;
    if (pc) this.#discard(pc.conn);
    return undefined;
  }

  #startSpare(): void {
    if (this.#closed) return;
    const abort = new AbortController();
    const spare: Spare = { ready: undefined!, since: performance.now(), abort };
    spare.ready = this.#connect(abort.signal).then((pc) => {
      // A read parked at once: a close or stray bytes from the server are seen before the spare is used.
      if (this.#closed) {
        this.#discard(pc.conn);
        return undefined;
      }
      pc.reader.park();
      return pc;
    }, () => undefined);
    this.#spare = spare;
    if (this.#sweep === undefined) this.#armSweep(this.#idleTimeoutMs);
  }

  /** Closes a spare left unused for `idleTimeoutMs`; one timer, re-armed while a spare exists. */
  #armSweep(ms: number): void {
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      const spare = this.#spare;
      if (!spare) return;
      const age = performance.now() - spare.since;
      if (age < this.#idleTimeoutMs) return this.#armSweep(this.#idleTimeoutMs - age);
      this.#spare = undefined;
      spare.abort.abort();
      void spare.ready.then((pc) => pc && this.#discard(pc.conn));
    }, ms);
    Deno.unrefTimer(this.#sweep);
  }

  #takeIdle(): PooledConn | undefined {
    const now = performance.now();
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (now - c.idleSince < this.#idleTimeoutMs && !c.reader.parkedSettled) return c;
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
    // 4 KiB hold an answer's head and a small result; a larger body is read into an array of its own.
    return { conn, idleSince: 0, reader: new Http1Reader(conn, 4096), out: new Uint8Array(4096) };
  }

  #discard(conn: Deno.Conn): void {
    this.#open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  async #exchange(
    pc: PooledConn,
    request: Iterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<Http1Response> {
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
        pc.reader.park();
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
    const reader = pc.reader;
    try {
      const head = await reader.readHead(this.#maxHeadBytes);
      if (head === null) throw new Http1ReadError("eof", "the connection closed before any response");
      const status = statusOf(head.startLine);
      if (status === undefined) {
        throw new Http1ReadError("malformed", "the response does not start with an HTTP/1.x status line");
      }
      if (status < 200) throw new Http1ReadError("malformed", `unexpected interim response ${status}`);
      const framing = framingOf(head.headers);
      let close = !keepsAlive(head.startLine.charCodeAt(7) === 0x30, head.headers);
      let body: Uint8Array;
      if (status === 204 || status === 304) body = new Uint8Array(0);
      else {
        const toEnd = !framing.chunked && framing.length === undefined;
        body = reader.bodyIfBuffered(framing, this.#maxResponseBytes, toEnd) ??
          await reader.readBody(framing, this.#maxResponseBytes, { toEnd });
        if (toEnd) close = true;
      }
      // Requests are never pipelined: bytes past the response belong to no request, and the
      // connection that carried them cannot be trusted with the next one.
      return {
        response: { status, headers: head.headers, body },
        reusable: !close && reader.available === 0,
      };
    } catch (err) {
      if (!(err instanceof Http1ReadError)) {
        throw new Http1Error(
          "receive",
          `Cannot read the upstream response: ${err instanceof Error ? err.message : err}`,
          reader.received,
          { cause: err },
        );
      }
      const message = err.kind === "too_large" && /body/.test(err.message)
        ? `a response body over ${this.#maxResponseBytes} bytes`
        : err.message === "the connection closed"
        ? "the connection closed before any response"
        : err.message;
      throw new Http1Error("receive", `Cannot read the upstream response: ${message}`, reader.received, {
        cause: err,
        tooLarge: err.kind === "too_large" && /body/.test(err.message),
      });
    }
  }
}

/** The status of an `HTTP/1.x NNN reason` line, or undefined when it is not one. */
function statusOf(line: string): number | undefined {
  if (!line.startsWith("HTTP/1.") || (line[7] !== "0" && line[7] !== "1") || line[8] !== " ") {
    return undefined;
  }
  if (line.length > 12 && line[12] !== " ") return undefined;
  const status = Number(line.slice(9, 12));
  return Number.isInteger(status) && status >= 100 && line.length >= 12 ? status : undefined;
}
