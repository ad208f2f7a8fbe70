/**
 * The seam between lrp's server and the reader of a request body: body
 * buffers only lrp holds (freed at once when done), and the cap and the
 * in-flight bound a reader hands the server producing a body
 * ({@linkcode limitBody}), so the server counts memory as it reads and refuses
 * an oversized chunk when it is announced.
 *
 * @module
 */

import { LrpError } from "../errors.ts";

/**
 * Buffers lrp itself allocated for request bodies (lrp's server reads a
 * declared body into one; the handler's `readBody` gathers the others): nothing
 * outside lrp holds them, so {@linkcode releaseBody} may free them at once.
 */
const ownBuffers = new WeakSet<ArrayBufferLike>();

/** Marks `bytes` as a body buffer only lrp holds. */
export function ownBody(bytes: Uint8Array): Uint8Array {
  ownBuffers.add(bytes.buffer);
  return bytes;
}

/** Whether `bytes` lies in a body buffer only lrp holds ({@linkcode ownBody}). */
export function isOwnBody(bytes: Uint8Array): boolean {
  return ownBuffers.has(bytes.buffer);
}

/**
 * Frees a body buffer now, instead of when the garbage collector gets to it:
 * a 1 MB body lives on after its request otherwise, and 64 of them at once
 * add up (docs/performance.md, round 4). Only for buffers lrp owns
 * (anything else is left alone), and only once nothing will read it again.
 */
export function releaseBody(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && ownBuffers.has(buffer) && !buffer.detached) {
    ownBuffers.delete(buffer);
    buffer.transfer(0);
  }
}

/** What the reader of a body tells the server producing it (see {@linkcode limitBody}). */
export interface BodyLimits {
  /** Largest body, bytes: a chunk announced past it errors the stream with 413 before it arrives. */
  maxBytes: number;
  /** Called before the body takes `n` more bytes of memory; throws (503 `overloaded`) to refuse them. */
  hold: (n: number) => void;
}

/** Bodies whose producer (lrp's server) takes {@linkcode BodyLimits}, with how it takes them. */
const limitable = new WeakMap<ReadableStream<Uint8Array>, (limits: BodyLimits) => void>();

/** Registers `body` as one whose producer applies {@linkcode BodyLimits} with `apply`. */
export function takesBodyLimits(
  body: ReadableStream<Uint8Array>,
  apply: (limits: BodyLimits) => void,
): void {
  limitable.set(body, apply);
}

/**
 * Hands `limits` to the producer of `body`: lrp's server then counts the
 * memory the body takes as it takes it, and refuses an oversized chunk when
 * it is announced. `false` when the producer takes none (a `fetch` request):
 * the reader counts the chunks it gets.
 */
export function limitBody(body: ReadableStream<Uint8Array>, limits: BodyLimits): boolean {
  const apply = limitable.get(body);
  apply?.(limits);
  return apply !== undefined;
}

/** The 413 for a body over `max` bytes; the connection closes (the rest of the body is not read). */
export function bodyTooLarge(max: number): LrpError {
  return new LrpError(
    "body_too_large",
    `Cannot accept a request body over ${max} bytes (the Lambda payload limit)`,
    { headers: { connection: "close" } },
  );
}
