/**
 * The private channel between lrp and its own bundled runtime clients: a
 * Unix socket in a fresh 0700 folder, named to the process by
 * `LRP_RUNTIME_CHANNEL`, carrying length-prefixed frames instead of HTTP.
 * It replaces the Runtime API's `next` and the small `response` posts, so an
 * invocation costs one write each way and the runtime wakes once per event
 * (no 202 to wait for). Errors, streams and large answers still go over the
 * HTTP Runtime API, which stays for AWS's own clients. The client's own
 * output (`process.stdout` / `process.stderr`, so `console`) comes this way
 * too, in order before the answer it precedes, as AWS's Node.js client
 * writes it to the telemetry descriptor instead of the pipes.
 *
 * Private: only lrp's user can enter the folder; the first connection must
 * send the process's Runtime API key (held by its environment alone); once
 * one has, the socket file and folder are removed, so nothing else can connect.
 *
 * Frames, each `u32` length (big-endian, of what follows) then a kind byte:
 * - runtime → lrp: `1` HELLO (the key), `2` NEXT, `3` RESPONSE (`u8` id
 *   length, id, the JSON result), `4` OUTPUT (`u8` stream, 1 stdout or 2
 *   stderr, then the bytes written), `5` PIPES (output may come through the
 *   pipes from now on: a child process started, or a client whose output
 *   always does, as the Deno client's);
 * - lrp → runtime: `1` EVENT (`u16` head length, head `id\ndeadline\narn\ntrace`, payload).
 *
 * docs/functions.md describes it.
 *
 * @module
 */

import { sameKey } from "./key.ts";

/** The environment variable naming the channel's socket to a bundled client. */
export const CHANNEL_ENV = "LRP_RUNTIME_CHANNEL";

const HELLO = 1;
const NEXT = 2;
const RESPONSE = 3;
const OUTPUT = 4;
const PIPES = 5;
const EVENT = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the channel tells its Runtime API about. */
export interface ChannelHooks {
  /** The process's Runtime API key: the HELLO that must open the channel. */
  key: string;
  /** Largest frame taken (a bigger one closes the channel: the client sends large answers over HTTP). */
  maxFrame: number;
  /** The runtime asks for its next event. */
  next(): void;
  /** The runtime's buffered JSON answer to invocation `id`. */
  response(id: string, bytes: Uint8Array): void;
  /** Bytes the runtime wrote to its standard output or error (valid only during the call). */
  output(stream: "stdout" | "stderr", bytes: Uint8Array): void;
  /** From now on some of the runtime's output may come through its pipes instead. */
  pipes(): void;
}

/** One runtime process's channel: a listener until the runtime connects, then its one connection. */
export class RuntimeChannel {
  /** The socket's path, the value of `LRP_RUNTIME_CHANNEL`. */
  readonly path: string;
  #dir: string;
  #hooks: ChannelHooks;
  #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr> | undefined;
  #pending = new Set<Deno.UnixConn>();
  #conn: Deno.UnixConn | undefined;
  #closed = false;
  #drained!: () => void;
  /** Resolves once the runtime's connection has been read to its end (at once if it never connected). */
  readonly drained: Promise<void> = new Promise((resolve) => this.#drained = resolve);

  /**
   * A channel, or `undefined` where none can be made (no Unix sockets on Windows, a temporary folder whose
   * path is too long for a socket): lrp's client then finds no `LRP_RUNTIME_CHANNEL` and keeps to HTTP.
   */
  static open(hooks: ChannelHooks): RuntimeChannel | undefined {
    if (Deno.build.os === "windows") return undefined;
    try {
      return new RuntimeChannel(hooks);
    } catch {
      return undefined;
    }
  }

  /** Listens on a socket in a fresh private folder (throws where it cannot). */
  constructor(hooks: ChannelHooks) {
    this.#hooks = hooks;
    this.#dir = Deno.makeTempDirSync({ prefix: "lrp-channel-" });
    Deno.chmodSync(this.#dir, 0o700);
    this.path = `${this.#dir}/s`;
    try {
      this.#listener = Deno.listen({ transport: "unix", path: this.path });
    } catch (err) {
      Deno.removeSync(this.#dir, { recursive: true });
      throw err;
    }
    void this.#accept(this.#listener);
  }

  /** Sends the event of invocation `id` (the runtime asked for it with NEXT). */
  send(id: string, deadlineMs: number, arn: string, traceId: string | undefined, payload: Uint8Array): void {
    const conn = this.#conn;
    if (!conn) return;
    const head = encoder.encode(`${id}\n${deadlineMs}\n${arn}\n${traceId ?? ""}`);
    const size = 1 + 2 + head.length + payload.length;
    const small = size < 65536;
    const frame = new Uint8Array(4 + 3 + head.length + (small ? payload.length : 0));
    const view = new DataView(frame.buffer);
    view.setUint32(0, size);
    frame[4] = EVENT;
    view.setUint16(5, head.length);
    frame.set(head, 7);
    if (small) frame.set(payload, 7 + head.length);
    void writeAll(conn, frame, small ? undefined : payload);
  }

  /** Whether the runtime has opened the channel (sent its HELLO). */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /** Stops listening and closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopListening();
    for (const c of this.#pending) c.close();
    this.#pending.clear();
    if (this.#conn === undefined) this.#drained();
    try {
      this.#conn?.close();
    } catch {
      // already closed by the runtime
    }
  }

  #stopListening(): void {
    try {
      this.#listener?.close();
    } catch {
      // closed
    }
    this.#listener = undefined;
    try {
      Deno.removeSync(this.#dir, { recursive: true });
    } catch {
      // gone
    }
  }

  async #accept(listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>): Promise<void> {
    for (;;) {
      let conn: Deno.UnixConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      // Each connection is read on its own: one that never sends its HELLO holds up nobody.
      this.#pending.add(conn);
      void this.#read(conn);
    }
  }

  async #read(conn: Deno.UnixConn): Promise<void> {
    const frames = new Frames(this.#hooks.maxFrame);
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        if (!frames.push(buf.subarray(0, n), (kind, body) => this.#frame(conn, kind, body))) break;
      }
    } catch {
      // the runtime is gone, or the channel was closed
    }
    this.#pending.delete(conn);
    if (this.#conn === conn) this.#drained();
    try {
      conn.close();
    } catch {
      // closed
    }
  }

  /** Handles one frame; false ends the connection. */
  #frame(conn: Deno.UnixConn, kind: number, body: Uint8Array): boolean {
    if (this.#conn !== conn) {
      if (kind !== HELLO || this.#conn !== undefined || this.#closed) return false;
      if (!sameKey(decoder.decode(body), this.#hooks.key)) return false;
      this.#conn = conn;
      this.#pending.delete(conn);
      this.#stopListening();
      for (const c of this.#pending) c.close();
      this.#pending.clear();
      return true;
    }
    if (kind === OUTPUT && body.length >= 1 && (body[0] === 1 || body[0] === 2)) {
      this.#hooks.output(body[0] === 1 ? "stdout" : "stderr", body.subarray(1));
    } else if (kind === NEXT) this.#hooks.next();
    else if (kind === PIPES) this.#hooks.pipes();
    else if (kind === RESPONSE && body.length >= 1 && body.length >= 1 + body[0]!) {
      const id = decoder.decode(body.subarray(1, 1 + body[0]!));
      this.#hooks.response(id, body.slice(1 + body[0]!));
    } else return false;
    return true;
  }
}

/** Writes every byte of `a` then `b`; a broken connection is the runtime's exit, seen elsewhere. */
async function writeAll(conn: Deno.UnixConn, a: Uint8Array, b: Uint8Array | undefined): Promise<void> {
  try {
    for (const bytes of b === undefined ? [a] : [a, b]) {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    }
  } catch {
    // gone
  }
}

/** Splits a byte stream into `u32`-length-prefixed frames of at most `max` bytes. */
class Frames {
  #max: number;
  #buf = new Uint8Array(0);
  #len = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Appends `chunk` and calls `each` for every whole frame; false when a frame is too large or refused. */
  push(chunk: Uint8Array, each: (kind: number, body: Uint8Array) => boolean): boolean {
    if (this.#len + chunk.length > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#len + chunk.length, this.#buf.length * 2, 65536));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
    let at = 0;
    while (this.#len - at >= 4) {
      const b = this.#buf;
      const size = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
      if (size < 1 || size > this.#max) return false;
      if (this.#len - at < 4 + size) break;
      if (!each(b[at + 4]!, b.subarray(at + 5, at + 4 + size))) return false;
      at += 4 + size;
    }
    if (at > 0) {
      this.#buf.copyWithin(0, at, this.#len);
      this.#len -= at;
    }
    // A large frame's buffer is let go of once it is read: an idle channel keeps 64 KiB.
    if (this.#len === 0 && this.#buf.length > 65536) this.#buf = new Uint8Array(65536);
    return true;
  }
}
