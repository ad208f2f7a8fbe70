/**
 * Reading a request body whole, within the size cap, the body timeout and
 * the in-flight byte bound. lrp's server learns the cap and the bound of a
 * body it produces through `http/body_limits.ts`.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { LrpError } from "../errors.ts";
import { bodyTooLarge, isOwnBody, limitBody, ownBody } from "../http/body_limits.ts";
import type { IncomingRequest } from "../wire/request.ts";

export { ownBody, releaseBody } from "../http/body_limits.ts";

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
        const taken = chunk.value.length === length && isOwnBody(chunk.value);
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
