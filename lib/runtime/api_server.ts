/**
 * The HTTP side of one process's Runtime API listener: lrp's own HTTP/1.1
 * server (`http/server.ts`) on a loopback port this module accepts on, so
 * the Runtime API speaks HTTP/1.1 through lrp's one codec like everything
 * else (ARCHITECTURE.md, "One HTTP/1.1 codec").
 *
 * No header, idle or send limit applies: the peer is the runtime process lrp
 * started, its `invocation/next` may wait for an event for as long as the
 * process lives, and its keep-alive connection sits idle between invocations
 * as long as traffic pauses. The server's timeouts only ever run while a
 * connection waits for a request head or writes an answer (never while the
 * handler is pending), and here all of them are off.
 *
 * @module
 */

import { type Handler, HttpConnections } from "../http/server.ts";
import type { LrpError } from "../errors.ts";
import { KnownLengthResponse, ResultHeaders } from "../wire/response.ts";

/** No limit: a runtime's connection is never cut for being slow or idle. */
const NO_LIMIT = Number.POSITIVE_INFINITY;

const encoder = new TextEncoder();

/**
 * An answer of bytes with its header lines ready for the wire: lrp's server
 * writes it without iterating `Headers` or reading a body stream.
 */
export function wireAnswer(status: number, headers: [string, string][], body: Uint8Array): Response {
  const lines = new ResultHeaders();
  for (const [name, value] of headers) lines.addLine(name, value);
  return new KnownLengthResponse(body as Uint8Array<ArrayBuffer>, { status, headers: lines }, body.length);
}

/** Lambda's error answer of the Runtime API: `{"errorMessage","errorType"}` with `status`. */
export function lambdaError(status: number, errorType: string, errorMessage: string): Response {
  const body = encoder.encode(JSON.stringify({ errorMessage, errorType }));
  return wireAnswer(status, [["content-type", "application/json"]], body);
}

/** A loopback HTTP/1.1 listener serving one handler. */
export class LoopbackServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  #listener: Deno.TcpListener;
  #connections: HttpConnections;
  #accepting: Promise<void>;

  /** Listens on a free 127.0.0.1 port; a malformed request is answered 400 in Lambda's error shape. */
  constructor(handler: Handler) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#connections = new HttpConnections({
      handler,
      onError: (err) => lambdaError(500, "Runtime.Unknown", `lrp failed to answer: ${err}`),
      refuse: (err: LrpError) => lambdaError(400, "InvalidRequest", err.message),
      limits: { headerTimeoutMs: NO_LIMIT, idleTimeoutMs: NO_LIMIT, sendTimeoutMs: NO_LIMIT },
    });
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#connections.serve(conn);
    } catch {
      // The listener was closed: no more connections.
    }
  }

  /**
   * Stops accepting; idle connections close now, the others once the answer
   * they are working on is written. Resolves when every connection has ended.
   */
  async shutdown(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    await this.#accepting;
    await this.#connections.shutdown();
  }
}
