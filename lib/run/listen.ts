/**
 * Serving that survives running out of file descriptors.
 *
 * When `accept` fails with EMFILE/ENFILE, `Deno.serve` ends its accept loop
 * and rejects `finished`: the listener is gone, and an unhandled rejection
 * would end the process. The connections already accepted keep being served.
 * {@linkcode serveResilient} catches that failure, waits until descriptors
 * are free again and serves a new listener on the same port.
 *
 * A reserve of descriptors (held open on `/dev/null`) makes the failure come
 * early: accept runs out while the reserve is still held, and releasing it
 * leaves room for the requests in flight (their upstream connections, log
 * writes) and for the new listener. The connection cap is therefore the
 * descriptor limit minus the reserve minus what lrp itself holds at start.
 *
 * @module
 */

import type { Logger } from "../obs/log.ts";

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
export interface ResilientServeOptions {
  hostname: string;
  port: number;
  handler: Deno.ServeHandler<Deno.NetAddr>;
  onError: (error: unknown) => Response | Promise<Response>;
  log: Logger;
  /** Share the port with other processes (`SO_REUSEPORT`; `workers` above 1). */
  reusePort?: boolean;
  /** Defaults to {@linkcode procDescriptors}. */
  descriptors?: Descriptors;
  /** How often to check for free descriptors after accepting failed (ms); default 100. */
  retryMs?: number;
}

/** A server whose listener is replaced when accepting fails. */
export interface ResilientServer {
  /** The address listened on (the port stays the same across listeners). */
  addr: Deno.NetAddr;
  /** The soft descriptor limit, when known. */
  descriptorLimit: number | undefined;
  /** Connections lrp accepts before accepting fails and waits, when the limit is known. */
  connectionCap: number | undefined;
  /** Resolves once {@linkcode ResilientServer.shutdown} has finished. */
  finished: Promise<void>;
  /** Stops accepting and waits for the requests of every listener so far. */
  shutdown(): Promise<void>;
}

/** Free descriptors wanted beyond the reserve before listening again. */
const HEADROOM = 8;

/**
 * Serves like `Deno.serve`, but a failing accept (EMFILE/ENFILE or any other
 * error) is logged and survived: open connections keep being served, and a
 * new listener on the same port starts once enough descriptors are free.
 */
export function serveResilient(options: ResilientServeOptions): ResilientServer {
  const { log } = options;
  const fds = options.descriptors ?? procDescriptors;
  const retryMs = options.retryMs ?? 100;
  const limit = fds.limit();
  const reserve = limit === undefined ? 0 : reserveFor(limit);
  const baseline = fds.inUse() ?? 0;
  const servers = new Set<Deno.HttpServer<Deno.NetAddr>>();
  const done = Promise.withResolvers<void>();
  let held = fds.hold(reserve);
  let stopping = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let port = options.port;

  const listen = (): Deno.HttpServer<Deno.NetAddr> => {
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      reusePort: options.reusePort ?? false,
      onListen: () => {},
      onError: options.onError,
    }, options.handler);
    servers.add(server);
    port = server.addr.port;
    server.finished.then(
      () => servers.delete(server),
      // The failed listener's open connections are still served: it stays in `servers` for shutdown.
      (err) => acceptFailed(err),
    );
    return server;
  };

  const acceptFailed = (err: unknown) => {
    if (stopping) return;
    // Room for the requests in flight and, later, for the new listener.
    held.release();
    log.error(
      "cannot accept connections; still serving the open ones, accepting again when descriptors free up",
      {
        error: err instanceof Error ? err.message : String(err),
        descriptorsInUse: fds.inUse(),
        descriptorLimit: limit,
      },
    );
    timer = setTimeout(resume, retryMs);
  };

  const resume = () => {
    timer = undefined;
    if (stopping) return;
    const used = fds.inUse();
    if (limit !== undefined && used !== undefined && used + reserve + HEADROOM > limit) {
      timer = setTimeout(resume, retryMs);
      return;
    }
    held = fds.hold(reserve);
    try {
      listen();
    } catch (err) {
      held.release();
      log.debug("cannot listen again yet", { error: err instanceof Error ? err.message : String(err) });
      timer = setTimeout(resume, retryMs);
      return;
    }
    log.info("accepting connections again", { descriptorsInUse: fds.inUse(), descriptorLimit: limit });
  };

  let first: Deno.HttpServer<Deno.NetAddr>;
  try {
    first = listen();
  } catch (err) {
    held.release();
    throw err;
  }
  return {
    addr: first.addr,
    descriptorLimit: limit,
    connectionCap: limit === undefined ? undefined : Math.max(1, limit - held.count - baseline),
    finished: done.promise,
    async shutdown() {
      stopping = true;
      clearTimeout(timer);
      await Promise.all([...servers].map((s) => s.shutdown().catch(() => {})));
      servers.clear();
      held.release();
      done.resolve();
    },
  };
}
