/**
 * A FIFO admission queue with a concurrency limit, a bounded length and a
 * bounded wait: how lrp makes sure an RIE never sees two invocations at once
 * (a second concurrent invocation crashes the classic RIE: docs/wire-format.md, "The RIE").
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { type Deadline, Deadlines } from "./deadline.ts";

/** Names that all reach this machine's loopback interface. */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "0.0.0.0", "[::]"]);

/**
 * The key under which rules share an endpoint's queue: scheme, host and
 * port as `URL` normalises them (case, default port, trailing slashes), with
 * every loopback name (`localhost`, `127.0.0.1`, `[::1]`) counted as one
 * host — `localhost` may reach either address, and sharing a queue can only
 * make invocations wait, never let an RIE see two at once.
 */
export function endpointKey(endpoint: string): string {
  const url = new URL(endpoint);
  const host = LOOPBACK.has(url.hostname) ? "localhost" : url.hostname;
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.protocol}//${host}${url.port ? `:${url.port}` : ""}${path}`;
}

/** Limits of a {@linkcode SlotQueue}. */
export interface QueueLimits {
  /** Invocations allowed in flight at once. */
  concurrency: number;
  /** Requests allowed to wait; one more is refused with 503. */
  maxWaiting: number;
  /** Longest wait for a slot in milliseconds before a 503. */
  maxWaitMs: number;
}

interface Waiter {
  grant: (release: () => void) => void;
  fail: (err: unknown) => void;
  settled: boolean;
}

/** Current state, for metrics and health. */
export interface QueueStats {
  inFlight: number;
  waiting: number;
}

/**
 * What an invoker needs of its endpoint's queue: a slot per invocation, and
 * the counts for metrics. A {@linkcode SlotQueue} in one process; with
 * several workers, a proxy to the supervisor's queue (`lib/run/worker_link.ts`).
 */
export interface Slots {
  /** Resolves with the slot's `release` (call it exactly once), or rejects like {@linkcode SlotQueue.acquire}. */
  acquire(signal: AbortSignal): Promise<() => void>;
  /** In-flight and waiting counts. */
  readonly stats: QueueStats;
}

/** Hands out the one queue of each endpoint, with the latest limits. */
export interface SlotSource {
  /** The queue of `endpoint`, its limits set to `limits`. */
  get(endpoint: string, limits: QueueLimits): Slots;
}

/** FIFO queue of invocation slots. */
export class SlotQueue implements Slots {
  #limits: QueueLimits;
  #inFlight = 0;
  #waiters: Waiter[] = [];
  #head = 0;
  #waiting = 0;
  #name: string;
  /** The waiters' `max_wait` deadlines on one timer (a new list when a reload changes the wait). */
  #deadlines: Deadlines | undefined;

  /** Creates a queue; `name` appears in error messages (usually the endpoint). */
  constructor(name: string, limits: QueueLimits) {
    this.#name = name;
    this.#limits = limits;
  }

  /**
   * Changes the limits (a reload): a lower concurrency lets running calls
   * finish and admits no more until below it; a higher one admits waiters now.
   */
  setLimits(limits: QueueLimits): void {
    this.#limits = limits;
    this.#next();
  }

  /** In-flight and waiting counts. */
  get stats(): QueueStats {
    return { inFlight: this.#inFlight, waiting: this.#waiting };
  }

  /**
   * Waits for a slot in arrival order and resolves with its `release`
   * function, which must be called exactly once when the upstream call has
   * settled. Rejects with 503 `queue_full` (with `Retry-After`) when too many
   * wait, 503 `queue_timeout` when the wait is too long, or the signal's
   * reason when the client goes away first (the waiter leaves the queue).
   */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.#limits.concurrency && this.#waiting === 0) {
      this.#inFlight++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting >= this.#limits.maxWaiting) {
      return Promise.reject(
        new LrpError(
          "queue_full",
          `Cannot queue the request: ${this.#name} already has ${this.#limits.maxWaiting} waiting`,
          {
            headers: { "retry-after": "1" },
          },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => finish(() => reject(signal.reason));
      const finish = (action: () => void) => {
        if (waiter.settled) return;
        waiter.settled = true;
        this.#waiting--;
        deadline.cancel();
        signal.removeEventListener("abort", onAbort);
        action();
      };
      const waiter: Waiter = {
        settled: false,
        grant: (release) => finish(() => resolve(release)),
        fail: (err) => finish(() => reject(err)),
      };
      const wait = this.#limits.maxWaitMs;
      if (this.#deadlines?.ms !== wait) this.#deadlines = new Deadlines(wait);
      const deadline: Deadline = this.#deadlines.add(() => {
        waiter.fail(
          new LrpError(
            "queue_timeout",
            `Cannot invoke: waited ${wait} ms for ${this.#name}, which runs one invocation at a time`,
            { headers: { "retry-after": String(Math.max(1, Math.ceil(wait / 1000))) } },
          ),
        );
      });
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#waiting++;
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#next();
    };
  }

  #next(): void {
    while (this.#inFlight < this.#limits.concurrency && this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head++]!;
      if (w.settled) continue;
      this.#inFlight++;
      w.grant(this.#releaser());
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }
}
