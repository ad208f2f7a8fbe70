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
 * The request head and body live in `http_request.ts`, the response writing
 * in `http_response.ts`; this file is the connection loop, its timeouts and
 * its closes.
 *
 * @module
 */

import { Http1Reader, Http1ReadError, keepsAlive } from "../invoke/http1_reader.ts";
import { LrpError } from "../errors.ts";
import type { Config } from "../config/types.ts";
import type { IncomingRequest } from "../wire/request.ts";
import type { ConnInfo } from "./handler.ts";
import { BodySource, MAX_HEAD_BYTES, MAX_HEADER_LINES, parseRequest } from "./http_request.ts";
import { CONTINUE, writeAll, type Writer, writeResponse } from "./http_response.ts";

export { MAX_HEAD_BYTES, MAX_HEADER_LINES, parseRequest } from "./http_request.ts";

/** The limits of the server; read again for every request, so a reload changes them. */
export interface ServerLimits {
  /** Longest time from a request's first byte (or the connection's start) to the end of its header block. */
  headerTimeoutMs: number;
  /** Longest time a keep-alive connection waits for its next request. */
  idleTimeoutMs: number;
  /** Longest time a write may make no progress (a client not reading); 60 s when absent. */
  sendTimeoutMs?: number;
}

/** The server's limits as a configuration sets them. */
export function serverLimits(
  config: Pick<Config, "headerTimeoutMs" | "idleTimeoutMs" | "sendTimeoutMs">,
): ServerLimits {
  const { headerTimeoutMs, idleTimeoutMs, sendTimeoutMs } = config;
  return { headerTimeoutMs, idleTimeoutMs, sendTimeoutMs };
}

/** What the server needs. */
export interface HttpServerOptions {
  handler: (request: IncomingRequest, info: ConnInfo) => Promise<Response>;
  /** The answer when the handler throws (a bug: the handler answers every failure itself). */
  onError: (error: unknown) => Response;
  /** The answer to a request refused before the handler; the callback logs and counts it. */
  refuse: (error: LrpError, peer: string) => Response;
  limits: ServerLimits;
}

/** One connection's state, as the sweep sees it. */
interface Connection extends Writer {
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
  /** The 408 the sweep is writing: a head completed meanwhile is not handled. */
  timedOut: Promise<void> | undefined;
  /** Answered and closing: only reading and dropping what the client still sends. */
  lingering: boolean;
  /** The server is shutting down: a lingering close is short. */
  stopping: boolean;
  /** What the handler asked to run once the current answer is written (`ConnInfo.afterWrite`). */
  afterWrite: (() => void) | undefined;
}

/** The connections of one server, served with lrp's HTTP/1.1 rules. */
export class HttpConnections {
  #options: HttpServerOptions;
  #open = new Set<Connection>();
  #served = new Set<Promise<void>>();
  #sweep: ReturnType<typeof setInterval> | undefined;
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
      lingering: false,
      stopping: false,
      afterWrite: undefined,
    };
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* not TCP */ }
    this.#open.add(c);
    this.#startSweep();
    const info: ConnInfo = { remoteAddr: remote, afterWrite: (f) => c.afterWrite = f };
    const done = this.#loop(c, info).catch(() => {}).finally(() => {
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
      c.stopping = true;
      if ((c.waiting && c.reader.received === 0) || c.lingering) this.#destroy(c);
    }
    await Promise.all(this.#served);
  }

  #startSweep() {
    if (this.#sweep !== undefined) return;
    const { headerTimeoutMs, idleTimeoutMs, sendTimeoutMs = SEND_TIMEOUT_MS } = this.#options.limits;
    const every = Math.min(1000, Math.max(10, Math.min(headerTimeoutMs, idleTimeoutMs, sendTimeoutMs) / 4));
    const sweep = setInterval(() => this.#expire(), every);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
  }

  #stopSweep() {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /**
   * Closes connections idle past `idle_timeout` and writes without progress
   * past `send_timeout`; answers 408 to header blocks past `header_timeout`.
   */
  #expire() {
    const { headerTimeoutMs, idleTimeoutMs, sendTimeoutMs = SEND_TIMEOUT_MS } = this.#options.limits;
    const now = performance.now();
    for (const c of this.#open) {
      // A client that stops reading its answer: nothing left to do for it.
      if (c.writingSince !== 0 && now - c.writingSince >= sendTimeoutMs) this.#destroy(c);
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
        ? new BodySource(
          c.reader,
          () => writeAll(c, CONTINUE),
          parsed.framing,
          parsed.expectContinue,
          () => this.#watch(c, aborter),
        )
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
      let written;
      try {
        written = await writeResponse(c, response, parsed.method, parsed.http10, !again, aborter);
      } finally {
        // What the answer held (its bytes in the in-flight bound) is let go once it is written or has failed.
        const after = c.afterWrite;
        c.afterWrite = undefined;
        after?.();
      }
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

/** `send_timeout`'s default, nginx's. */
const SEND_TIMEOUT_MS = 60_000;

/** How long a closing connection keeps reading what the client still sends: in all, and between two reads. */
const LINGER_MS = 30_000;
const LINGER_READ_MS = 5_000;
/** How long a close begun while lrp shuts down lingers in all. */
const STOP_LINGER_MS = 2_000;

/**
 * Closes a connection whose client may still be sending (a refused request,
 * a body not read to its end) the way nginx's lingering close does: the
 * write side first, then what arrives is read and dropped — up to 30 s in
 * all and 5 s between reads, however many bytes — so the kernel does not
 * answer the unread bytes with a reset that would destroy the response before
 * the client reads it. Shutdown ends a lingering connection at once; one
 * that begins while lrp shuts down lingers 2 s at most.
 */
async function linger(c: Connection): Promise<void> {
  if (c.closed) return;
  try {
    await (c.conn as Deno.TcpConn).closeWrite();
  } catch {
    return;
  }
  // Begun while lrp shuts down: a short one. Begun before: shutdown cuts it (`lingering`).
  const stopping = c.stopping;
  c.lingering = !stopping;
  const end = performance.now() + (stopping ? STOP_LINGER_MS : LINGER_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cut = () => {
    c.closed = true;
    try {
      c.conn.close();
    } catch { /* closed */ }
  };
  try {
    // Through the reader: a read it keeps parked (to see the client leave) is the first one awaited.
    for (;;) {
      const left = end - performance.now();
      if (left <= 0 || c.closed) break;
      timer = setTimeout(cut, Math.min(LINGER_READ_MS, left));
      const piece = await c.reader.readSome(64 * 1024);
      clearTimeout(timer);
      if (piece === null) break;
    }
  } catch {
    // Reset or closed by the timer: done either way.
  } finally {
    clearTimeout(timer);
  }
}

function hasCloseToken(value: string | null): boolean {
  return value !== null && value.toLowerCase().split(",").some((t) => t.trim() === "close");
}
