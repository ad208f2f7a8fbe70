/**
 * The global bound on work in flight: a count of requests and a total of
 * reserved request-body bytes, across every rule and configuration
 * generation. Past either bound a request is refused at once with 503
 * (`overloaded`) and `Retry-After`, before its body is read, so that memory
 * stays bounded however many clients send large bodies at once. Cheap: two
 * counters.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import type { IncomingRequest } from "../wire/request.ts";

/** The bounds of an {@linkcode InFlightBudget}. */
export interface InFlightLimits {
  /** Requests handled at once (internal routes excluded). */
  maxRequests: number;
  /** Request-body bytes reserved at once (see {@linkcode bodyReservation}). */
  maxBytes: number;
}

/**
 * The body bytes a request reserves before it is read: its declared
 * `Content-Length`, at most `maxBodyBytes` (a larger one is refused with 413
 * without being read); a body of unknown length (chunked) reserves
 * `maxBodyBytes`, the most it can become.
 */
export function bodyReservation(request: IncomingRequest, maxBodyBytes: number): number {
  if (!request.body) return 0;
  const declared = request.headers.get("content-length");
  const n = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : maxBodyBytes;
  return Math.min(n, maxBodyBytes);
}

/** Counters of the requests and body bytes in flight. */
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

  /** Body bytes reserved and not yet released. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Applies new limits (a reload); requests in flight keep their reservations. */
  setLimits(limits: InFlightLimits): void {
    this.#limits = { ...limits };
  }

  /**
   * Admits a request reserving `bytes`, returning its release (idempotent),
   * or `undefined` past a bound. A request larger than the byte bound alone
   * is admitted when nothing else is reserved: the body limit, not this
   * bound, decides whether one body is too large.
   */
  admit(bytes: number): (() => void) | undefined {
    if (this.#requests >= this.#limits.maxRequests) return undefined;
    if (this.#bytes > 0 && this.#bytes + bytes > this.#limits.maxBytes) return undefined;
    this.#requests++;
    this.#bytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#requests--;
      this.#bytes -= bytes;
    };
  }

  /** Like {@linkcode InFlightBudget.admit}, but past a bound throws the 503 `overloaded` error. */
  admitOrThrow(bytes: number): () => void {
    const release = this.admit(bytes);
    if (release) return release;
    const which = this.#requests >= this.#limits.maxRequests
      ? `${this.#requests} requests in flight (max_in_flight)`
      : `${this.#bytes} body bytes in flight (max_in_flight_bytes)`;
    throw new LrpError("overloaded", `Cannot take the request: lrp has ${which}`, {
      headers: { "retry-after": "1" },
    });
  }
}
