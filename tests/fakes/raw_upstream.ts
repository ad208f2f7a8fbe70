/**
 * A misbehaving upstream for fault tests: a raw TCP server that reads one
 * HTTP/1.1 request per connection (head and `Content-Length` body) and then
 * answers with whatever bytes a script writes — truncated, garbage, huge,
 * late or never. It counts connections and requests, so tests can prove that
 * lrp never overlaps invocations and leaves no connection behind.
 *
 * @module
 */

const te = new TextEncoder();
const td = new TextDecoder();

/** What one accepted request may do with its connection. */
export interface Exchange {
  /** The request head (request line and headers) as text. */
  head: string;
  /** Writes bytes; rejects once the peer is gone. */
  write(bytes: Uint8Array | string): Promise<void>;
  /** Resolves after `ms`, or at once when the upstream is closed. */
  sleep(ms: number): Promise<void>;
  /** Closes the connection at once, whatever was promised (Deno cannot send a TCP RST). */
  close(): void;
}

/** A script answering one request. Returning without closing keeps the connection for the next request. */
export type Script = (exchange: Exchange, index: number) => Promise<void> | void;

/** A running raw upstream. */
export interface RawUpstream extends AsyncDisposable {
  url: string;
  port: number;
  /** Connections currently open. */
  readonly open: number;
  /** Requests read so far. */
  readonly requests: number;
  /** Most requests seen in progress at once. */
  readonly maxConcurrent: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** A well-formed HTTP/1.1 response with a `Content-Length` body. */
export function httpResponse(status: number, body: Uint8Array | string, extra = ""): Uint8Array {
  const bytes = typeof body === "string" ? te.encode(body) : body;
  const head = te.encode(`HTTP/1.1 ${status} X\r\nContent-Length: ${bytes.length}\r\n${extra}\r\n`);
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** Starts a raw upstream on 127.0.0.1 with an ephemeral port. */
export function startRawUpstream(script: Script): RawUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const closed = Promise.withResolvers<void>();
  let requests = 0;
  let active = 0;
  let maxConcurrent = 0;
  let stopped = false;

  const serve = async (conn: Deno.Conn) => {
    let buffer = new Uint8Array(0);
    const read = async (): Promise<boolean> => {
      const chunk = new Uint8Array(64 * 1024);
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return false;
      const next = new Uint8Array(buffer.length + n);
      next.set(buffer);
      next.set(chunk.subarray(0, n), buffer.length);
      buffer = next;
      return true;
    };
    try {
      for (;;) {
        let end: number;
        while ((end = td.decode(buffer).indexOf("\r\n\r\n")) === -1) if (!(await read())) return;
        const head = td.decode(buffer.subarray(0, end));
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        while (buffer.length < end + 4 + length) if (!(await read())) return;
        buffer = buffer.slice(end + 4 + length);
        const index = requests++;
        active++;
        maxConcurrent = Math.max(maxConcurrent, active);
        let gone = false;
        const exchange: Exchange = {
          head,
          write: async (bytes) => {
            const data = typeof bytes === "string" ? te.encode(bytes) : bytes;
            for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
          },
          sleep: (ms) => {
            let timer: ReturnType<typeof setTimeout> | undefined;
            return Promise.race([
              new Promise<void>((r) => timer = setTimeout(r, ms)),
              closed.promise,
            ]).finally(() => clearTimeout(timer));
          },
          close: () => {
            gone = true;
            try {
              conn.close();
            } catch { /* closed */ }
          },
        };
        try {
          await script(exchange, index);
        } catch { /* the peer went away */ }
        active--;
        if (gone || stopped) return;
      }
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };

  const accept = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const task = serve(conn);
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })().catch(() => {});

  const close = async () => {
    if (stopped) return;
    stopped = true;
    closed.resolve();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await accept;
    await Promise.allSettled([...tasks]);
  };
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get open() {
      return conns.size;
    },
    get requests() {
      return requests;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
