/**
 * Deadlines of one fixed length (an upstream timeout, the RIE hold limit)
 * for many calls at once, on ONE timer: entries expire in the order they were
 * added, so the timer only ever waits for the oldest. A call that settles in
 * time costs a `Set` insert and delete instead of a `setTimeout` and a
 * `clearTimeout` (and the timer bookkeeping behind them). When the last entry
 * goes, the timer is not cleared but unref'd (it no longer keeps the process
 * alive, and finds nothing to do when it fires), so calls made one at a time
 * do not set and clear a timer each either (docs/performance.md, round 5).
 *
 * @module
 */

/** A pending deadline; {@linkcode Deadline.cancel} it when the call settles. */
export interface Deadline {
  /** Removes the deadline; its callback will not run. */
  cancel(): void;
}

interface Entry extends Deadline {
  at: number;
  onExpire: () => void;
}

/** Deadlines `ms` after each {@linkcode Deadlines.add}, sharing one timer. */
export class Deadlines {
  readonly ms: number;
  /** In insertion order, which is deadline order: every entry waits the same `ms`. */
  #entries = new Set<Entry>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (`performance.now()` time). */
  #timerAt = 0;
  /** The armed timer keeps the process alive (there are entries). */
  #refed = false;

  /** Creates the list; `ms` is every deadline's length. */
  constructor(ms: number) {
    this.ms = ms;
  }

  /** Runs `onExpire` `ms` from now unless cancelled first. */
  add(onExpire: () => void): Deadline {
    const entries = this.#entries;
    const entry: Entry = {
      at: performance.now() + this.ms,
      onExpire,
      cancel: () => {
        if (entries.delete(entry) && entries.size === 0) this.#disarm();
      },
    };
    entries.add(entry);
    if (this.#timer === undefined || this.#timerAt > entry.at) this.#arm(entry.at);
    else if (!this.#refed) {
      Deno.refTimer(this.#timer);
      this.#refed = true;
    }
    return entry;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer); // one timer, even when an expiry callback added a deadline
    this.#timerAt = at;
    this.#refed = true;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  /** Nothing left to wait for: the timer may fire, but no longer holds the process. */
  #disarm(): void {
    if (this.#timer !== undefined && this.#refed) Deno.unrefTimer(this.#timer);
    this.#refed = false;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#refed = false;
    const now = performance.now();
    for (const entry of this.#entries) {
      // Timers may fire a little early; 1 ms of slack keeps one from re-arming for nothing.
      if (entry.at > now + 1) {
        this.#arm(entry.at);
        return;
      }
      this.#entries.delete(entry);
      entry.onExpire();
    }
  }

  /** Pending deadlines (for tests). */
  get size(): number {
    return this.#entries.size;
  }
}
