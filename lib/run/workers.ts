/**
 * `workers: N`: N serving processes on one port, supervised by the first
 * process (the one the user started), which serves no HTTP itself. The design
 * is described in `docs/workers.md`; in short:
 *
 * - every worker is lrp itself, started by the injected
 *   {@linkcode SpawnWorker} with `LRP_WORKER_ID=N` in its environment, and
 *   listens with `SO_REUSEPORT`, so the kernel spreads connections over them;
 *   worker 1 starts first and the others bind the port it got (which matters
 *   for `port: 0`);
 * - a worker that exits unexpectedly is restarted with a growing delay;
 * - `reload()` (SIGHUP) sends SIGHUP to every worker, which reloads itself;
 * - `shutdown()` (SIGINT/SIGTERM) sends SIGTERM to every worker, which drains
 *   like a lone lrp, and resolves once all have exited;
 * - each worker connects back to the supervisor over loopback TCP (address
 *   and a secret token in its environment; see `worker_link.ts`); the
 *   supervisor holds one slot queue per local endpoint for all workers there,
 *   and answers `/metrics` scrapes by gathering every worker's labelled series.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { EndpointQueues } from "../invoke/local.ts";
import type { Logger } from "../obs/log.ts";
import { Registry } from "../obs/metrics.ts";
import { mergeExpositions } from "../obs/metrics_merge.ts";
import { type Channel, openChannel, type SupervisorMessage, type WorkerMessage } from "./worker_link.ts";

/** A started worker process, as the supervisor sees it. */
export interface WorkerProcess {
  pid: number;
  /** Settles when the process has exited. */
  status: Promise<{ code: number; signal: string | null }>;
  /** Sends a signal; throws if the process is gone. */
  kill(signal: "SIGHUP" | "SIGTERM" | "SIGKILL"): void;
}

/**
 * Starts worker `id` with `env` added to the supervisor's environment
 * (`LRP_WORKER_ID`, `LRP_WORKER_LINK`, `LRP_WORKER_TOKEN`, and
 * `LRP_WORKER_PORT` once the port is known).
 */
export type SpawnWorker = (id: number, env: Record<string, string>) => WorkerProcess;

/** Options of {@linkcode superviseWorkers}. */
export interface SupervisorOptions {
  /** Number of workers, at least 1. */
  count: number;
  spawn: SpawnWorker;
  log: Logger;
  /** How long workers may drain on shutdown before they are killed (plus a grace of 5 s). */
  shutdownTimeoutMs: number;
  /**
   * How long slots held by a worker that died stay taken: its invocation may
   * still run in the RIE, which must not get a second one meanwhile.
   */
  slotHoldMs: number;
  /** Restart delays: the first, and the most it doubles up to. Default 100 ms and 10 s. */
  backoff?: { initialMs: number; maxMs: number };
}

/** A running supervisor. */
export interface Supervisor {
  /** Resolves with the port once every worker has served once; rejects if worker 1 cannot start. */
  readonly started: Promise<number>;
  /** Resolves once shut down and every worker has exited. */
  readonly finished: Promise<void>;
  /** Makes every running worker reload its configuration. */
  reload(): void;
  /** Drains and stops every worker. */
  shutdown(): Promise<void>;
}

/** A worker that ran at least this long before exiting restarts after the first delay again. */
const STABLE_MS = 10_000;
/** Extra time after the shutdown timeout before a worker that still runs is killed. */
const KILL_GRACE_MS = 5_000;
/** How long a scrape waits for each worker's series. */
const COLLECT_TIMEOUT_MS = 2_000;

interface Worker {
  id: number;
  child: WorkerProcess | undefined;
  channel: Channel<SupervisorMessage> | undefined;
  ready: boolean;
  startedAt: number;
  delayMs: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Slot requests waiting in a queue, by the worker's id for them. */
  waiting: Map<number, AbortController>;
  /** Slots granted and not yet released. */
  held: Map<number, () => void>;
}

/** Starts `count` workers and supervises them until {@linkcode Supervisor.shutdown}. */
export function superviseWorkers(options: SupervisorOptions): Supervisor {
  const { log, spawn } = options;
  const backoff = options.backoff ?? { initialMs: 100, maxMs: 10_000 };
  const queues = new EndpointQueues();
  const registry = new Registry();
  const running = registry.gauge("lrp_workers", "Worker processes serving now");
  const restarts = registry.counter(
    "lrp_worker_restarts_total",
    "Workers restarted after an unexpected exit",
  );
  const holding = new Set<ReturnType<typeof setTimeout>>();
  const collecting = new Map<number, (text: string) => void>();
  let collectId = 0;
  let port: number | undefined;
  let stopping = false;
  let announced = false;
  let resolveStarted!: (port: number) => void;
  let rejectStarted!: (err: Error) => void;
  const started = new Promise<number>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => resolveFinished = resolve);
  const token = crypto.randomUUID();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const link = `127.0.0.1:${listener.addr.port}`;
  const workers: Worker[] = [];
  for (let id = 1; id <= options.count; id++) {
    workers.push({
      id,
      child: undefined,
      channel: undefined,
      ready: false,
      startedAt: 0,
      delayMs: backoff.initialMs,
      restartTimer: undefined,
      waiting: new Map(),
      held: new Map(),
    });
  }
  const live = () => workers.filter((w) => w.child !== undefined);

  const scrape = async (): Promise<string> => {
    const texts = await Promise.all(
      live().filter((w) => w.ready).map((w) =>
        new Promise<string>((resolve) => {
          const id = ++collectId;
          const timer = setTimeout(() => finish(""), COLLECT_TIMEOUT_MS);
          const finish = (text: string) => {
            clearTimeout(timer);
            collecting.delete(id);
            resolve(text);
          };
          collecting.set(id, finish);
          w.channel?.send({ t: "collect", id });
          w.child?.status.then(() => finish(""), () => finish(""));
        })
      ),
    );
    running.set({}, live().filter((w) => w.ready).length);
    return mergeExpositions([...texts, registry.render()]);
  };

  const acquire = (w: Worker, m: Extract<WorkerMessage, { t: "acquire" }>) => {
    const control = new AbortController();
    w.waiting.set(m.id, control);
    queues.get(m.endpoint, m.limits).acquire(control.signal).then((release) => {
      // Cancelled, or the worker died, while the grant was on its way.
      if (!w.waiting.delete(m.id)) return release();
      w.held.set(m.id, release);
      w.channel?.send({ t: "grant", id: m.id });
    }, (err) => {
      if (!w.waiting.delete(m.id)) return;
      const e = err instanceof LrpError
        ? err
        : new LrpError("internal", `Cannot queue the request: ${err instanceof Error ? err.message : err}`);
      w.channel?.send({ t: "refuse", id: m.id, code: e.code, message: e.message, headers: e.headers });
    });
  };

  const onMessage = (w: Worker, m: WorkerMessage) => {
    switch (m.t) {
      case "acquire":
        return acquire(w, m);
      case "release": {
        const release = w.held.get(m.id);
        w.held.delete(m.id);
        return release?.();
      }
      case "cancel":
        w.waiting.get(m.id)?.abort(new DOMException("The worker stopped waiting", "AbortError"));
        w.waiting.delete(m.id);
        return;
      case "scrape":
        return void scrape().then((text) => w.channel?.send({ t: "scraped", id: m.id, text }));
      case "sample":
        return collecting.get(m.id)?.(m.text);
      case "ready":
        return onReady(w, m.port);
    }
  };

  const onReady = (w: Worker, at: number) => {
    w.ready = true;
    if (port === undefined) {
      port = at;
      for (const other of workers) if (other.id !== w.id && !stopping) start(other);
    }
    if (!announced && workers.every((x) => x.ready)) {
      announced = true;
      log.info("workers ready", { workers: workers.length, port, pids: workers.map((x) => x.child?.pid) });
      resolveStarted(port);
    }
  };

  const accept = async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      let owner: Worker | undefined;
      const channel: Channel<SupervisorMessage> = openChannel<WorkerMessage, SupervisorMessage>(conn, (m) => {
        if (owner) return onMessage(owner, m);
        const w = m.t === "hello" && m.token === token ? workers[m.worker - 1] : undefined;
        // Only the running process of that worker, once: anything else local is not a worker of ours.
        if (!w || !w.child || w.channel) return channel.close();
        owner = w;
        w.channel = channel;
      });
      channel.closed.then(() => {
        if (owner?.channel === channel) owner.channel = undefined;
      });
    }
  };
  const accepting = accept().catch(() => {});

  const start = (w: Worker) => {
    w.restartTimer = undefined;
    const env: Record<string, string> = {
      LRP_WORKER_ID: String(w.id),
      LRP_WORKER_LINK: link,
      LRP_WORKER_TOKEN: token,
    };
    if (port !== undefined) env.LRP_WORKER_PORT = String(port);
    let child: WorkerProcess;
    try {
      child = spawn(w.id, env);
    } catch (err) {
      return exited(w, undefined, err instanceof Error ? err.message : String(err));
    }
    w.child = child;
    w.ready = false;
    w.startedAt = Date.now();
    log.info("worker started", { child: w.id, pid: child.pid });
    child.status.then(
      (s) => exited(w, child, s.signal ? `signal ${s.signal}` : `code ${s.code}`),
      (err) => exited(w, child, String(err)),
    );
  };

  const exited = (w: Worker, child: WorkerProcess | undefined, how: string) => {
    const wasReady = w.ready;
    w.child = undefined;
    w.channel?.close();
    w.channel = undefined;
    w.ready = false;
    for (const control of w.waiting.values()) {
      control.abort(new DOMException("The worker exited", "AbortError"));
    }
    w.waiting.clear();
    if (w.held.size > 0) {
      if (!stopping) {
        log.warn("worker exited holding local endpoint slots; they stay taken a while", {
          child: w.id,
          slots: w.held.size,
          holdMs: options.slotHoldMs,
        });
      }
      for (const release of w.held.values()) {
        const timer = setTimeout(() => {
          holding.delete(timer);
          release();
        }, stopping ? 0 : options.slotHoldMs);
        holding.add(timer);
      }
      w.held.clear();
    }
    if (stopping) {
      log.info("worker exited", { child: w.id, pid: child?.pid, exit: how });
      if (live().length === 0 && workers.every((x) => x.restartTimer === undefined)) done();
      return;
    }
    if (port === undefined && !wasReady) {
      log.error("worker could not start serving", { child: w.id, pid: child?.pid, exit: how });
      rejectStarted(new Error(`Cannot start worker ${w.id}: it exited (${how}) before serving`));
      void shutdown();
      return;
    }
    const ran = Date.now() - w.startedAt;
    w.delayMs = ran >= STABLE_MS ? backoff.initialMs : w.delayMs;
    log.error("worker exited unexpectedly; restarting", {
      child: w.id,
      pid: child?.pid,
      exit: how,
      restartInMs: w.delayMs,
    });
    restarts.inc();
    w.restartTimer = setTimeout(() => start(w), w.delayMs);
    w.delayMs = Math.min(backoff.maxMs, w.delayMs * 2);
  };

  let finishedOnce = false;
  const done = () => {
    if (finishedOnce) return;
    finishedOnce = true;
    for (const timer of holding) clearTimeout(timer);
    holding.clear();
    listener.close();
    rejectStarted(new Error("Cannot start workers: shut down before every worker served"));
    resolveFinished();
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    stopping = true;
    for (const w of workers) {
      if (w.restartTimer !== undefined) clearTimeout(w.restartTimer);
      w.restartTimer = undefined;
    }
    const children = live().map((w) => w.child!);
    for (const child of children) signal(child, "SIGTERM");
    const killer = setTimeout(() => {
      for (const w of live()) {
        log.warn("worker still running after the shutdown timeout; killing it", { child: w.id });
        signal(w.child!, "SIGKILL");
      }
    }, options.shutdownTimeoutMs + KILL_GRACE_MS);
    if (children.length === 0) done();
    shuttingDown = finished.then(async () => {
      clearTimeout(killer);
      await accepting;
    });
    return shuttingDown;
  };

  start(workers[0]!);
  // Nobody may be waiting on `started` yet when worker 1 fails.
  started.catch(() => {});
  return {
    started,
    finished,
    reload() {
      // A worker still starting reads the file anyway, and would die of a SIGHUP before it listens for one.
      for (const w of live()) if (w.ready) signal(w.child!, "SIGHUP");
    },
    shutdown,
  };
}

function signal(child: WorkerProcess, name: "SIGHUP" | "SIGTERM" | "SIGKILL"): void {
  try {
    child.kill(name);
  } catch {
    // Already exited; its status settles on its own.
  }
}
