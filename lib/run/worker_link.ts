/**
 * The link between a worker process and its supervisor (see `workers.ts`):
 * newline-delimited JSON messages over the worker's stdin (supervisor to
 * worker) and stdout (worker to supervisor).
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
import { LrpMetrics, METRICS_CONTENT_TYPE, type QueueSource } from "../obs/metrics.ts";
import { labelSamples } from "../obs/metrics_merge.ts";

/** Messages from a worker to the supervisor. */
export type WorkerMessage =
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

/** One end of a message link over a byte stream pair. */
export interface Channel<Out> {
  /** Queues a message; messages sent in one turn go out in one write. Dropped once the peer is gone. */
  send(message: Out): void;
  /** Resolves when the incoming stream ends (the peer exited or closed it). */
  readonly closed: Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Opens a channel: `onMessage` gets each incoming JSON line (lines that do not
 * parse are skipped); `send` writes JSON lines to `writable`.
 */
export function openChannel<In, Out>(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
  onMessage: (message: In) => void,
): Channel<Out> {
  const writer = writable.getWriter();
  let queued: string[] = [];
  let writing: Promise<void> | undefined;
  let broken = false;
  const drain = async () => {
    while (queued.length > 0) {
      const bytes = encoder.encode(queued.join(""));
      queued = [];
      try {
        await writer.write(bytes);
      } catch {
        // The peer is gone; its exit is handled where its status is awaited.
        broken = true;
        queued = [];
      }
    }
    writing = undefined;
  };
  const closed = (async () => {
    let buffer = "";
    try {
      for await (const chunk of readable.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          let message: In;
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          onMessage(message);
        }
      }
    } catch {
      // A reset pipe ends the link like a clean end of stream.
    }
    broken = true;
    await writing;
    await writer.close().catch(() => {});
  })();
  return {
    send(message) {
      if (broken) return;
      queued.push(JSON.stringify(message) + "\n");
      writing ??= Promise.resolve().then(drain);
    },
    closed,
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
  };
}

/** A worker's side of the link. */
export interface WorkerLink {
  /** Endpoint queues held by the supervisor; pass to `startLrp`. */
  readonly queues: SlotSource;
  /** Builds the worker's metric set; pass to `startLrp`. */
  createMetrics(version: string, queues: () => Iterable<QueueSource>): LrpMetrics;
  /** Tells the supervisor this worker serves on `port`. */
  ready(port: number): void;
  /** Resolves when the supervisor is gone: the worker should drain and exit. */
  readonly lost: Promise<void>;
}

/** How long a scrape waits for the supervisor before answering with this worker's series alone. */
const SCRAPE_TIMEOUT_MS = 5_000;

/** Connects a worker numbered `worker` to its supervisor over `readable` (stdin) and `writable` (stdout). */
export function linkToSupervisor(
  worker: number,
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): WorkerLink {
  let next = 0;
  let gone = false;
  let metrics: LrpMetrics | undefined;
  const pending = new Map<number, { grant(): void; refuse(err: LrpError): void }>();
  const scrapes = new Map<number, (text: string) => void>();
  const own = () => labelSamples(metrics?.registry.render() ?? "", "worker", String(worker));

  const channel: Channel<WorkerMessage> = openChannel<SupervisorMessage, WorkerMessage>(
    readable,
    writable,
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
    createMetrics(version, queues) {
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
      metrics = new ClusterMetrics(version, queues, gather);
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

  constructor(version: string, queues: () => Iterable<QueueSource>, gather: () => Promise<string>) {
    super(version, queues);
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
