/**
 * The global bound on work in flight: a count of requests being handled and
 * a total of bytes held, across every rule and configuration generation
 * (docs/operations.md, "In-flight bound"). A request holds its body's bytes
 * as they arrive and takes a request slot only once its body is read, so a
 * client trickling a body holds what it sent, never a slot an invocation
 * needs; a function's answer holds its bytes from when it arrives until it
 * is written. Past either bound a request is refused with 503 (`overloaded`)
 * and `Retry-After` — an answer arriving past it is dropped for that 503.
 * Cheap: two counters.
 *
 * @module
 */

import { LrpError } from "../errors.ts";

/** The bounds of an {@linkcode InFlightBudget}. */
export interface InFlightLimits {
  /** Requests handled at once (internal routes excluded). */
  maxRequests: number;
  /** Bytes held at once: request bodies as they arrive, answers until written. */
  maxBytes: number;
}

/** One request's share of an {@linkcode InFlightBudget}: body bytes as they arrive, then a slot. */
export interface Claim {
  /**
   * Holds `n` more bytes; throws the 503 `overloaded` error past
   * `max_in_flight_bytes`, unless this claim alone holds everything (one
   * body larger than the bound is the body limit's to refuse, not this one's).
   */
  hold(n: number): void;
  /** Takes a request slot; throws the 503 `overloaded` error past `max_in_flight`. */
  admit(): void;
  /**
   * Holds a function's answer of `n` bytes as {@linkcode Claim.hold} holds
   * body bytes; past the bound the 503 `overloaded` error says the answer is
   * dropped (the function has run).
   */
  holdAnswer(n: number): void;
  /** Gives back the slot and the body's bytes, keeping the answer's until {@linkcode Claim.release}. */
  finish(): void;
  /** Gives back the bytes and the slot; idempotent. */
  release(): void;
}

/** Counters of the requests and bytes in flight. */
export class InFlightBudget {
  #limits: InFlightLimits;
  #requests = 0;
  #bytes = 0;

  /** Creates a budget with `limits`. */
  constructor(limits: InFlightLimits) {
    this.#limits = { ...limits };
  }

  /** Requests admitted and not yet released. */
  get requests(): number {
    return this.#requests;
  }

  /** Bytes held and not yet released. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Applies new limits (a reload); what is in flight keeps what it holds. */
  setLimits(limits: InFlightLimits): void {
    this.#limits = { ...limits };
  }

  /** A new request's claim, holding nothing yet. */
  claim(): Claim {
    let bytes = 0;
    let answerBytes = 0;
    let slot = false;
    let released = false;
    const hold = (n: number, what: string) => {
      if (released) return 0;
      if (this.#bytes > bytes + answerBytes && this.#bytes + n > this.#limits.maxBytes) {
        throw this.#overloaded(`${this.#bytes} bytes in flight (max_in_flight_bytes)`, what);
      }
      this.#bytes += n;
      return n;
    };
    const finish = () => {
      this.#bytes -= bytes;
      bytes = 0;
      if (slot) this.#requests--;
      slot = false;
    };
    return {
      hold: (n) => {
        bytes += hold(n, "Cannot take the request");
      },
      holdAnswer: (n) => {
        answerBytes += hold(n, `Cannot pass on the function's answer (${n} bytes, dropped)`);
      },
      admit: () => {
        if (released || slot) return;
        if (this.#requests >= this.#limits.maxRequests) {
          throw this.#overloaded(
            `${this.#requests} requests in flight (max_in_flight)`,
            "Cannot take the request",
          );
        }
        // Bytes others hold count too: past the byte bound no new work starts, even without a body.
        if (this.#bytes > bytes + answerBytes && this.#bytes > this.#limits.maxBytes) {
          throw this.#overloaded(
            `${this.#bytes} bytes in flight (max_in_flight_bytes)`,
            "Cannot take the request",
          );
        }
        slot = true;
        this.#requests++;
      },
      finish,
      release: () => {
        if (released) return;
        released = true;
        finish();
        this.#bytes -= answerBytes;
      },
    };
  }

  #overloaded(which: string, what: string): LrpError {
    return new LrpError("overloaded", `${what}: lrp has ${which}`, {
      headers: { "retry-after": "1" },
    });
  }
}
