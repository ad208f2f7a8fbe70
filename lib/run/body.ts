/**
 * Reading a request body whole, within the size cap, the body timeout and
 * the in-flight byte bound; and the seam through which lrp's server learns
 * the cap and the bound of a body it produces ({@linkcode limitBody}).
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { LrpError } from "../errors.ts";
import type { IncomingRequest } from "../wire/request.ts";

/**
 * Buffers lrp itself allocated for request bodies (lrp's server reads a
 * declared body into one; {@linkcode readBody} gathers the others): nothing
 * outside lrp holds them, so {@linkcode releaseBody} may free them at once.
 */
const ownBuffers = new WeakSet<ArrayBufferLike>();

/** Marks `bytes` as a body buffer only lrp holds. */
export function ownBody(bytes: Uint8Array): Uint8Array {
  ownBuffers.add(bytes.buffer);
  return bytes;
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

/**
 * Reads the request body, refusing more than `max` bytes with 413: at once
 * when `Content-Length` (or a chunk size) says so, otherwise as soon as the
 * count passes the limit while reading. A body not complete within
 * `timeoutMs` is refused with 408 (`body_timeout`): the server times only
 * header blocks, so without this a client trickling bytes would hold a
 * request open forever. `hold` is told of the memory the body takes as it
 * arrives and may refuse it (throwing). Returns `null` for no body.
 */
export async function readBody(
  request: IncomingRequest,
  max: number,
  timeoutMs = Infinity,
  hold: (n: number) => void = () => {},
): Promise<Uint8Array | null> {
  if (!request.body) return null;
  const declared = request.headers.get("content-length");
  const tooLarge = () => bodyTooLarge(max);
  if (declared !== null && Number(declared) > max) {
    await request.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const counted = limitBody(request.body, { maxBytes: max, hold });
  const chunks: Uint8Array[] = [];
  let size = 0;
  // With a declared length the chunks are copied into one array as they come: each is garbage at
  // once, instead of all of them living until a final concatenation (two copies of a 1 MB body).
  const length = declared === null ? NaN : Number(declared);
  const declaredLength = Number.isSafeInteger(length) && length > 0;
  // Allocated on the first chunk, unless that chunk is the whole body (lrp's server reads it so).
  let whole: Uint8Array | undefined;
  let filled = 0;
  const reader = request.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Number.isFinite(timeoutMs)
    ? new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs))
    : undefined;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array> | "timeout";
      try {
        chunk = await (deadline ? Promise.race([reader.read(), deadline]) : reader.read());
      } catch (err) {
        // A malformed chunked body names its fault (lrp's server); anything else is a client that went away.
        if (err instanceof LrpError) throw err;
        throw new LrpError("bad_request", "Cannot read the request body: the client stopped sending", {
          cause: err,
        });
      }
      if (chunk === "timeout") {
        await reader.cancel().catch(() => {});
        // `Connection: close`: the rest of the body will not be read, so the connection ends here.
        throw new LrpError(
          "body_timeout",
          `Cannot accept the request body: it did not arrive within ${timeoutMs} ms`,
          { headers: { connection: "close" } },
        );
      }
      if (chunk.done) break;
      size += chunk.value.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      if (!counted) {
        try {
          hold(chunk.value.length);
        } catch (err) {
          await reader.cancel().catch(() => {});
          throw err;
        }
      }
      if (declaredLength && whole === undefined && chunks.length === 0) {
        // The server's own whole-body array is taken as it is; anything else is copied into one of lrp's.
        const taken = chunk.value.length === length && ownBuffers.has(chunk.value.buffer);
        whole = taken ? chunk.value : ownBody(new Uint8Array(length));
      }
      if (whole === chunk.value) filled = size;
      else if (whole && chunks.length === 0 && size <= whole.length) {
        whole.set(chunk.value, filled);
        filled = size;
      } else chunks.push(chunk.value);
    }
  } finally {
    clearTimeout(timer);
  }
  if (!whole) return chunks.length === 1 ? chunks[0]! : ownBody(concatBytes(chunks));
  if (filled === whole.length && chunks.length === 0) return whole;
  // The body did not match its declared length (lrp's server checks it: this is defensive).
  return ownBody(concatBytes([whole.subarray(0, filled), ...chunks]));
}
