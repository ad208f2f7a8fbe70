/**
 * Serving that survives running out of file descriptors.
 *
 * lrp accepts connections itself: at the connection cap it stops accepting
 * until one closes, and when `accept` fails anyway (EMFILE/ENFILE) it waits
 * until descriptors are free again, while the connections it has are served.
 *
 * A reserve of descriptors (held open on `/dev/null`) makes the failure come
 * early: accept runs out while the reserve is still held, and releasing it
 * leaves room for the requests in flight (their upstream connections, log
 * writes) and for the new listener. The connection cap is therefore the
 * descriptor limit minus the reserve minus what lrp itself holds at start.
 *
 * @module
 */

import { HttpConnections, type HttpServerOptions } from "./server.ts";

/** The lines the accept loop writes (lrp's `Logger` is one). */
export interface ListenLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What lrp can learn about, and do with, its file descriptors. A seam: tests substitute it. */
export interface Descriptors {
  /** The soft limit on open descriptors; `undefined` when unknown or unlimited. */
  limit(): number | undefined;
  /** Descriptors open now; `undefined` when unknown. */
  inUse(): number | undefined;
  /** Opens up to `n` placeholder descriptors; `release` closes them. */
  hold(n: number): { count: number; release(): void };
}

/** Parses the soft "Max open files" limit out of the text of `/proc/self/limits`. */
export function parseOpenFilesLimit(text: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  return m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
}

/** The descriptors of this process, as Linux's `/proc` shows them; unknown elsewhere. */
export const procDescriptors: Descriptors = {
  limit() {
    try {
      return parseOpenFilesLimit(Deno.readTextFileSync("/proc/self/limits"));
    } catch {
      return undefined;
    }
  },
  inUse() {
    try {
      let n = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
      // The directory listing itself held one while it was read.
      return n - 1;
    } catch {
      return undefined;
    }
  },
  hold(n) {
    const files: Deno.FsFile[] = [];
    try {
      while (files.length < n) files.push(Deno.openSync("/dev/null"));
    } catch {
      // Out of descriptors (or no /dev/null): hold what could be opened.
    }
    return {
      count: files.length,
      release() {
        for (const f of files.splice(0)) {
          try {
            f.close();
          } catch { /* already closed */ }
        }
      },
    };
  },
};

/** The reserve for a descriptor limit: an eighth, from 8 to 256. */
export function reserveFor(limit: number): number {
  return Math.min(256, Math.max(8, Math.floor(limit / 8)));
}

/** Options of {@linkcode serveResilient}. */
export interface ResilientServeOptions extends HttpServerOptions {
  hostname: string;
  port: number;
  log: ListenLog;
  /** Share the port with other processes (`SO_REUSEPORT`; `workers` above 1). */
  reusePort?: boolean;
  /** Defaults to {@linkcode procDescriptors}. */
  descriptors?: Descriptors;
  /** How often to check for free descriptors after accepting failed (ms); default 100. */
  retryMs?: number;
}

/** A server that stops accepting at its connection cap or when out of descriptors, and never dies of it. */
export interface ResilientServer {
  /** The address listened on. */
  addr: Deno.NetAddr;
  /** The soft descriptor limit, when known. */
  descriptorLimit: number | undefined;
  /** Connections lrp serves at once before it waits for one to close, when the limit is known. */
  connectionCap: number | undefined;
  /** Resolves once {@linkcode ResilientServer.shutdown} has finished. */
  finished: Promise<void>;
  /** Stops accepting and waits for the requests in flight. */
  shutdown(): Promise<void>;
}

/** Free descriptors wanted beyond the reserve before accepting again. */
const HEADROOM = 8;

/**
 * Serves lrp's HTTP/1.1 server (`server.ts`) on a listener whose accept
 * loop lrp controls: at the connection cap it waits for a connection to
 * close; when accepting fails anyway (EMFILE/ENFILE, or any other error) it
 * releases the reserve, logs, and accepts again once enough descriptors are
 * free. Open connections are served throughout.
 */
export function serveResilient(options: ResilientServeOptions): ResilientServer {
  const { log } = options;
  const fds = options.descriptors ?? procDescriptors;
  const retryMs = options.retryMs ?? 100;
  const limit = fds.limit();
  const reserve = limit === undefined ? 0 : reserveFor(limit);
  const baseline = fds.inUse() ?? 0;
  let held = fds.hold(reserve);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: options.hostname,
      port: options.port,
      transport: "tcp",
      ...(options.reusePort ? { reusePort: true } : {}),
    });
  } catch (err) {
    held.release();
    throw err;
  }
  const connections = new HttpConnections(options);
  const cap = limit === undefined ? undefined : Math.max(1, limit - held.count - baseline);
  let stopping = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  connections.onClose = () => wake?.();

  const acceptLoop = async () => {
    while (!stopping) {
      if (cap !== undefined && connections.size >= cap) {
        log.warn("cannot accept connections: at the connection cap; accepting again when one closes", {
          connections: connections.size,
          connectionCap: cap,
          descriptorLimit: limit,
        });
        while (!stopping && connections.size >= cap) await sleep(1000);
        if (!stopping) log.info("accepting connections again", { connections: connections.size });
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopping || err instanceof Deno.errors.BadResource) return;
        // Room for the requests in flight; accepting again waits until descriptors are free.
        held.release();
        log.error(
          "cannot accept connections; still serving the open ones, accepting again when descriptors free up",
          {
            error: err instanceof Error ? err.message : String(err),
            descriptorsInUse: fds.inUse(),
            descriptorLimit: limit,
          },
        );
        for (;;) {
          await sleep(retryMs);
          if (stopping) return;
          const used = fds.inUse();
          if (limit === undefined || used === undefined || used + reserve + HEADROOM <= limit) break;
        }
        held = fds.hold(reserve);
        log.info("accepting connections again", { descriptorsInUse: fds.inUse(), descriptorLimit: limit });
        continue;
      }
      connections.serve(conn);
    }
  };
  const accepting = acceptLoop();
  const done = Promise.withResolvers<void>();
  return {
    addr: listener.addr as Deno.NetAddr,
    descriptorLimit: limit,
    connectionCap: cap,
    finished: done.promise,
    async shutdown() {
      stopping = true;
      wake?.();
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      await connections.shutdown();
      held.release();
      done.resolve();
    },
  };
}
