/**
 * Response streaming (docs/wire-format.md, "Response streaming"): reading the start of a function's
 * byte stream — the `HttpResponseStream.from` prelude and the first body
 * bytes — and handing the rest to the client through a pull-based
 * `ReadableStream`, so a slow client slows the read from Lambda instead of
 * growing lrp's memory.
 *
 * Upstreams (the Invoke API's `PayloadChunk` events, a streaming RIE
 * response) are seen through one small interface, {@linkcode ChunkSource}.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import type { StreamingPrelude } from "./event.ts";
import { DELIMITER_LENGTH, findDelimiter, parsePrelude, preludeToResponse } from "./prelude.ts";
import { badResult } from "./response.ts";

/**
 * Largest prelude accepted. A prelude holds a status, headers and cookies;
 * more than this is not a prelude but a runaway stream, and holding it back
 * would defeat the point of streaming.
 */
export const MAX_PRELUDE_BYTES = 64 * 1024;

/** A pull source of byte chunks from upstream. */
export interface ChunkSource {
  /** The next chunk; `null` at the clean end. Rejects on an upstream failure. */
  read(): Promise<Uint8Array | null>;
  /** Stops the upstream (abort the call, close or drain the connection). Idempotent. */
  cancel(reason?: unknown): void;
}

/** The decoded start of a stream: the prelude (if framed) and the first body bytes. */
export interface StreamStart {
  /** Present when the stream was framed with a prelude. */
  prelude?: StreamingPrelude;
  /** The first body bytes already read (possibly empty at the end of the stream). */
  head: Uint8Array;
  /** The stream has ended; `head` is the whole body. */
  done: boolean;
}

/**
 * Reads a prelude-framed stream up to the end of its prelude (JSON object +
 * 8×NUL), whichever chunks the prelude and the delimiter are split across.
 * Returns the prelude and the bytes that followed the delimiter in the same
 * read. `initial` holds bytes already read.
 *
 * A stream that ends without a delimiter is a prelude with an empty body when
 * it is empty or one JSON object (a function that never wrote a body byte);
 * anything else, or a prelude over {@linkcode MAX_PRELUDE_BYTES}, is a
 * `bad_result` (502).
 */
export async function readPrelude(
  source: ChunkSource,
  initial: Uint8Array = new Uint8Array(0),
): Promise<{ prelude: StreamingPrelude; rest: Uint8Array; done: boolean }> {
  let buffered = initial;
  let searched = 0;
  for (;;) {
    const at = findDelimiter(buffered, Math.max(0, searched - (DELIMITER_LENGTH - 1)));
    if (at !== -1) {
      return {
        prelude: parsePrelude(buffered.subarray(0, at)),
        rest: buffered.slice(at + DELIMITER_LENGTH),
        done: false,
      };
    }
    searched = buffered.length;
    if (buffered.length > MAX_PRELUDE_BYTES + DELIMITER_LENGTH) {
      throw badResult(
        `the streaming prelude is over ${MAX_PRELUDE_BYTES} bytes or lacks its 8-NUL delimiter`,
      );
    }
    const chunk = await source.read();
    if (chunk === null) {
      if (buffered.length === 0) return { prelude: {}, rest: buffered, done: true };
      return { prelude: parsePrelude(buffered), rest: new Uint8Array(0), done: true };
    }
    if (chunk.length > 0) buffered = concatBytes([buffered, chunk]);
  }
}

/**
 * Reads until at least one body byte is there (or the end), so that a
 * failure before any body byte still becomes a proper error response.
 */
export async function readFirstBytes(source: ChunkSource, head: Uint8Array): Promise<StreamStart> {
  while (head.length === 0) {
    const chunk = await source.read();
    if (chunk === null) return { head, done: true };
    head = chunk;
  }
  return { head, done: false };
}

/**
 * Reads the start of a stream: the prelude when `framed`, then the first
 * body bytes.
 */
export async function readStreamStart(source: ChunkSource, framed: boolean): Promise<StreamStart> {
  if (!framed) return await readFirstBytes(source, new Uint8Array(0));
  const { prelude, rest, done } = await readPrelude(source);
  if (done) return { prelude, head: rest, done };
  return { prelude, ...await readFirstBytes(source, rest) };
}

/**
 * The body stream: `head`, then whatever `source` still yields, one chunk per
 * pull. Pull-based with room for one chunk, so nothing is read from upstream
 * faster than the client takes it. Cancelling it (the client went away)
 * cancels `source`; a failure of `source` errors it, which aborts the
 * client's response instead of ending it as if it were complete.
 */
export function bodyStream(head: Uint8Array, source: ChunkSource, done = false): ReadableStream<Uint8Array> {
  let pending: Uint8Array | null = head.length > 0 ? head : null;
  let ended = done;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = null;
        if (ended) controller.close();
        return;
      }
      if (ended) return controller.close();
      for (;;) {
        let chunk: Uint8Array | null;
        try {
          chunk = await source.read();
        } catch (err) {
          ended = true;
          controller.error(err);
          return;
        }
        if (chunk === null) {
          ended = true;
          return controller.close();
        }
        if (chunk.length > 0) return controller.enqueue(chunk);
      }
    },
    cancel(reason) {
      ended = true;
      source.cancel(reason);
    },
  }, { highWaterMark: 1 });
}

/** A streamed function result: the body stream, and what came before it. */
export interface StreamedResult {
  /** The body bytes (after the prelude, when there was one). */
  body: ReadableStream<Uint8Array>;
  /** The decoded `HttpResponseStream.from` prelude; absent when the stream is the body. */
  prelude?: StreamingPrelude | undefined;
  /** The stream's content type, used when there is no prelude. */
  contentType?: string | undefined;
}

/**
 * Turns a streamed invocation result into the client's response: with a
 * prelude, its status, headers and cookies (as {@linkcode preludeToResponse});
 * without one, status 200 and the function's stream content type. The
 * stream is cancelled when no body will be sent (`HEAD`, 204/205/304) or the
 * prelude is unusable (502 `bad_result`).
 */
export function streamResultToResponse(
  result: StreamedResult,
  method = "GET",
): Response {
  const body = result.body;
  let response: Response;
  try {
    const prelude: StreamingPrelude = result.prelude ??
      { statusCode: 200, headers: result.contentType ? { "content-type": result.contentType } : {} };
    response = preludeToResponse(prelude, method === "HEAD" ? null : body, method);
  } catch (err) {
    body.cancel(err).catch(() => {});
    throw err;
  }
  if (response.body === null) body.cancel("no body is sent").catch(() => {});
  return response;
}

/** What {@linkcode observeStream} reports. */
export interface StreamHooks {
  /** The stream failed after the response started (the client's response was aborted). */
  onError(error: unknown, bytes: number): void;
  /** The client went away before the end. */
  onCancel(bytes: number): void;
  /** Every byte was delivered. */
  onEnd(bytes: number): void;
}

/**
 * Passes `stream` through unchanged (pull by pull), reporting how it ended.
 * A failure errors the returned stream with a one-line string.
 */
export function observeStream(
  stream: ReadableStream<Uint8Array>,
  hooks: StreamHooks,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        hooks.onError(err, bytes);
        // The server cuts the client's response (no last chunk); the reason is
        // one plain line, readable wherever the error surfaces.
        controller.error(`lrp: response stream aborted: ${err instanceof Error ? err.message : err}`);
        return;
      }
      if (chunk.done) {
        hooks.onEnd(bytes);
        return controller.close();
      }
      bytes += chunk.value.length;
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      hooks.onCancel(bytes);
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
