/**
 * The link between a worker process and its supervisor (see `workers.ts`):
 * newline-delimited JSON messages over one loopback TCP connection per worker,
 * which the worker opens to the address in its environment and proves with
 * the supervisor's secret token. Raw socket reads and writes: measured about
 * three times cheaper per message than the child's stdin/stdout streams.
 *
 * The worker side ({@linkcode linkToSupervisor}) gives `startLrp` what makes
 * a worker one part of a whole lrp:
 * - local endpoint queues that live in the supervisor, so one invocation at a
 *   time per RIE endpoint holds across every worker (a slot costs one message
 *   each way, and only local rules ask for one; aws rules never cross
 *   processes);
 * - a metric set whose `/metrics` answer gathers every worker's series through
 *   the supervisor, each labelled `worker="N"`.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { endpointKey } from "../invoke/local.ts";
import type { QueueLimits, QueueStats, Slots, SlotSource } from "../invoke/queue.ts";
import type { LogFields, Logger } from "../obs/log.ts";
import { LrpMetrics, METRICS_CONTENT_TYPE, type MetricsOptions, type QueueSource } from "../obs/metrics.ts";
import { labelSamples } from "../obs/metrics_merge.ts";

/** Messages from a worker to the supervisor. */
export type WorkerMessage =
  | { t: "hello"; worker: number; token: string }
  | { t: "ready"; port: number }
  | { t: "acquire"; id: number; endpoint: string; limits: QueueLimits }
  | { t: "release"; id: number }
  | { t: "cancel"; id: number }
  | { t: "scrape"; id: number }
  | { t: "sample"; id: number; text: string };

/** Messages from the supervisor to a worker. */
export type SupervisorMessage =
  | { t: "grant"; id: number }
  | { t: "refuse"; id: number; code: string; message: string; headers: Record<string, string> }
  | { t: "collect"; id: number }
  | { t: "scraped"; id: number; text: string };

/** One end of a message link over a connection. */
export interface Channel<Out> {
  /** Queues a message; messages sent in one turn go out in one write. Dropped once the peer is gone. */
  send(message: Out): void;
  /** Resolves when the connection has ended (the peer exited or closed it). */
  readonly closed: Promise<void>;
  /** Closes the connection. */
  close(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 10;

/**
 * Opens a channel on `conn`: `onMessage` gets each incoming JSON line (lines
 * that do not parse are skipped); `send` writes JSON lines.
 */
export function openChannel<In, Out>(conn: Deno.Conn, onMessage: (message: In) => void): Channel<Out> {
  let queued: string[] = [];
  let writing: Promise<void> | undefined;
  let broken = false;
  const drain = async () => {
    while (queued.length > 0 && !broken) {
      const bytes = encoder.encode(queued.join(""));
      queued = [];
      try {
        for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
      } catch {
        // The peer is gone; the read side sees it too.
        broken = true;
      }
    }
    queued = [];
    writing = undefined;
  };
  const closed = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    let partial = new Uint8Array(0);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let chunk = buffer.subarray(0, n);
        if (partial.length > 0) {
          const joined = new Uint8Array(partial.length + n);
          joined.set(partial);
          joined.set(chunk, partial.length);
          chunk = joined;
        }
        let from = 0;
        for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, from)) {
          let message: In;
          try {
            message = JSON.parse(decoder.decode(chunk.subarray(from, nl)));
          } catch {
            from = nl + 1;
            continue;
          }
          from = nl + 1;
          onMessage(message);
        }
        partial = chunk.slice(from);
      }
    } catch {
      // A reset connection ends the link like a clean close.
    }
    broken = true;
    try {
      conn.close();
    } catch {
      // Already closed by close().
    }
  })();
  return {
    send(message) {
      if (broken) return;
      queued.push(JSON.stringify(message) + "\n");
      writing ??= Promise.resolve().then(drain);
    },
    closed,
    close() {
      broken = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** A logger that adds `fields` to every line (a worker's id). */
export function withFields(log: Logger, fields: LogFields): Logger {
  return {
    enabled: (l) => log.enabled(l),
    debug: (msg, f) => log.debug(msg, { ...fields, ...f }),
    info: (msg, f) => log.info(msg, { ...fields, ...f }),
    warn: (msg, f) => log.warn(msg, { ...fields, ...f }),
    error: (msg, f) => log.error(msg, { ...fields, ...f }),
    ...(log.output && {
      output: (msg, f) => log.output!(msg, { ...fields, ...f }),
      droppedOutput: () => log.droppedOutput?.() ?? 0,
    }),
  };
}

/** A worker's side of the link. */
export interface WorkerLink {
  /** Endpoint queues held by the supervisor; pass to `startLrp`. */
  readonly queues: SlotSource;
  /** Builds the worker's metric set; pass to `startLrp`. */
  createMetrics(version: string, queues: () => Iterable<QueueSource>, options: MetricsOptions): LrpMetrics;
  /** Tells the supervisor this worker serves on `port`. */
  ready(port: number): void;
  /** Resolves when the supervisor is gone: the worker should drain and exit. */
  readonly lost: Promise<void>;
}

/** How long a scrape waits for the supervisor before answering with this worker's series alone. */
const SCRAPE_TIMEOUT_MS = 5_000;

/**
 * Connects worker number `worker` to its supervisor at `address`
 * (`127.0.0.1:PORT`, from `LRP_WORKER_LINK`) with its `token`
 * (`LRP_WORKER_TOKEN`).
 */
export async function linkToSupervisor(worker: number, address: string, token: string): Promise<WorkerLink> {
  const at = address.lastIndexOf(":");
  const conn = await Deno.connect({ hostname: address.slice(0, at), port: Number(address.slice(at + 1)) });
  conn.setNoDelay(true);
  let next = 0;
  let gone = false;
  let metrics: LrpMetrics | undefined;
  const pending = new Map<number, { grant(): void; refuse(err: LrpError): void }>();
  const scrapes = new Map<number, (text: string) => void>();
  const own = () => labelSamples(metrics?.registry.render() ?? "", "worker", String(worker));

  const channel: Channel<WorkerMessage> = openChannel<SupervisorMessage, WorkerMessage>(
    conn,
    (m) => {
      if (m.t === "grant") {
        const p = pending.get(m.id);
        if (p) p.grant();
        // Cancelled meanwhile: the slot goes straight back.
        else channel.send({ t: "release", id: m.id });
      } else if (m.t === "refuse") {
        pending.get(m.id)?.refuse(
          new LrpError(m.code as LrpError["code"], m.message, { headers: m.headers }),
        );
      } else if (m.t === "collect") channel.send({ t: "sample", id: m.id, text: own() });
      else if (m.t === "scraped") scrapes.get(m.id)?.(m.text);
    },
  );
  channel.send({ t: "hello", worker, token });
  const lost = channel.closed.then(() => {
    gone = true;
    for (const p of [...pending.values()]) {
      p.refuse(
        new LrpError(
          "upstream_unreachable",
          "Cannot invoke: the lrp supervisor holding the endpoint queue is gone",
        ),
      );
    }
    for (const resolve of [...scrapes.values()]) resolve(own());
  });

  class RemoteSlots implements Slots {
    #waiting = 0;
    #inFlight = 0;
    constructor(readonly endpoint: string, public limits: QueueLimits) {}

    get stats(): QueueStats {
      return { inFlight: this.#inFlight, waiting: this.#waiting };
    }

    acquire(signal: AbortSignal): Promise<() => void> {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (gone) {
        return Promise.reject(
          new LrpError(
            "upstream_unreachable",
            "Cannot invoke: the lrp supervisor holding the endpoint queue is gone",
          ),
        );
      }
      const id = ++next;
      this.#waiting++;
      return new Promise((resolve, reject) => {
        const settle = () => {
          pending.delete(id);
          this.#waiting--;
          signal.removeEventListener("abort", onAbort);
        };
        const onAbort = () => {
          settle();
          channel.send({ t: "cancel", id });
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        pending.set(id, {
          grant: () => {
            settle();
            this.#inFlight++;
            let done = false;
            resolve(() => {
              if (done) return;
              done = true;
              this.#inFlight--;
              channel.send({ t: "release", id });
            });
          },
          refuse: (err) => {
            settle();
            reject(err);
          },
        });
        channel.send({ t: "acquire", id, endpoint: this.endpoint, limits: this.limits });
      });
    }
  }

  const slots = new Map<string, RemoteSlots>();
  return {
    queues: {
      get(endpoint, limits) {
        const key = endpointKey(endpoint);
        let s = slots.get(key);
        if (s) s.limits = limits;
        else slots.set(key, s = new RemoteSlots(key, limits));
        return s;
      },
    },
    createMetrics(version, queues, options) {
      const gather = (): Promise<string> => {
        if (gone) return Promise.resolve(own());
        const id = ++next;
        return new Promise((resolve) => {
          const timer = setTimeout(() => finish(own()), SCRAPE_TIMEOUT_MS);
          const finish = (text: string) => {
            clearTimeout(timer);
            scrapes.delete(id);
            resolve(text);
          };
          scrapes.set(id, finish);
          channel.send({ t: "scrape", id });
        });
      };
      metrics = new ClusterMetrics(version, queues, gather, options);
      return metrics;
    },
    ready(port) {
      channel.send({ t: "ready", port });
    },
    lost,
  };
}

/** A worker's metrics: its own series, but `/metrics` answers for every worker. */
class ClusterMetrics extends LrpMetrics {
  #gather: () => Promise<string>;

  constructor(
    version: string,
    queues: () => Iterable<QueueSource>,
    gather: () => Promise<string>,
    options: MetricsOptions,
  ) {
    super(version, queues, options);
    this.#gather = gather;
  }

  /** The merged scrape; the body follows once every worker has answered (or the wait is over). */
  override response(): Response {
    const gather = this.#gather;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(await gather()));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": METRICS_CONTENT_TYPE } });
  }
}
