/**
 * `InvokeWithResponseStream` (docs/wire-format.md, "Response streaming"): the AWS half of response
 * streaming. Turns the SDK's event stream into a {@linkcode ChunkSource} of
 * `PayloadChunk` bytes, and reads the start of the stream (prelude, first
 * body bytes) before the response is answered.
 *
 * @module
 */

import type * as Sdk from "npm:@aws-sdk/client-lambda@3.1164.0";
import { functionFailed, LrpError } from "../errors.ts";
import { isHttpIntegration } from "../wire/prelude.ts";
import { bodyStream, type ChunkSource, readStreamStart } from "../wire/stream.ts";
import type { InvokeResult } from "./types.ts";

type EventStream = AsyncIterable<Sdk.InvokeWithResponseStreamResponseEvent>;

/**
 * The `PayloadChunk` bytes of one invocation's event stream.
 *
 * - `InvokeComplete` with an `ErrorCode` (a failure after the status was
 *   sent, reported only there) → `function_error`;
 * - an exception frame → `upstream_error`; a reset or a stream that ends
 *   without `InvokeComplete` → `upstream_unreachable`;
 * - {@linkcode ChunkSource.cancel} aborts the SDK call (and its connection).
 */
export class EventStreamSource implements ChunkSource {
  #iterator: AsyncIterator<Sdk.InvokeWithResponseStreamResponseEvent>;
  #abort: AbortController;
  #target: string;
  #complete = false;

  /** Reads `events`; `abort` is the controller of the SDK call. */
  constructor(events: EventStream, abort: AbortController, target: string) {
    this.#iterator = events[Symbol.asyncIterator]();
    this.#abort = abort;
    this.#target = target;
  }

  /** The next non-empty payload chunk, or `null` after a clean `InvokeComplete`. */
  async read(): Promise<Uint8Array | null> {
    if (this.#complete) return null;
    for (;;) {
      let next: IteratorResult<Sdk.InvokeWithResponseStreamResponseEvent>;
      try {
        next = await this.#iterator.next();
      } catch (err) {
        if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
        throw this.#failure(err);
      }
      if (next.done) {
        throw new LrpError(
          "upstream_unreachable",
          `Cannot read the response stream of "${this.#target}": it ended without InvokeComplete`,
        );
      }
      const event = next.value;
      if (event.PayloadChunk) {
        const bytes = event.PayloadChunk.Payload;
        if (bytes && bytes.length > 0) return bytes;
        continue;
      }
      if (event.InvokeComplete) {
        this.#complete = true;
        const { ErrorCode, ErrorDetails } = event.InvokeComplete;
        if (ErrorCode !== undefined && ErrorCode !== "") {
          throw functionFailed(ErrorCode, { errorType: ErrorCode, errorMessage: ErrorDetails ?? "" });
        }
        return null;
      }
      // Unknown event types (a newer API) carry no body bytes.
    }
  }

  /** Aborts the SDK call. */
  cancel(reason?: unknown): void {
    this.#complete = true;
    if (!this.#abort.signal.aborted) this.#abort.abort(reason ?? new Error("stream cancelled"));
  }

  #failure(err: unknown): LrpError {
    const name = err instanceof Error ? err.name : "";
    const message = err instanceof Error ? err.message : String(err);
    const modeled = (err as { $fault?: unknown } | null)?.$fault !== undefined;
    if (modeled || (name !== "" && name !== "Error" && name !== "TypeError")) {
      return new LrpError(
        "upstream_error",
        `Cannot read the response stream of "${this.#target}": the Lambda API answered ${name}`,
        { detail: `${name}: ${message}`, cause: err },
      );
    }
    return new LrpError(
      "upstream_unreachable",
      `Cannot read the response stream of "${this.#target}": ${message}`,
      { detail: message, cause: err },
    );
  }
}

/**
 * Sends one `InvokeWithResponseStream` call and reads its start: waits for
 * the prelude (when the stream content type is the HTTP-integration one) and
 * the first body byte, so that a failure before any body byte is an ordinary
 * error response. The returned body is a pull-based stream of the rest.
 *
 * `signal` (client gone, upstream timeout) aborts the call until this
 * resolves; afterwards, cancelling the body does.
 */
export async function invokeStreaming(
  client: Sdk.LambdaClient,
  command: Sdk.InvokeWithResponseStreamCommand,
  signal: AbortSignal,
  target: string,
): Promise<InvokeResult> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal.reason);
  if (signal.aborted) throw signal.reason;
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const out = await client.send(command, { abortSignal: abort.signal });
    if (!out.EventStream) {
      throw new LrpError(
        "upstream_error",
        `Cannot read the response stream of "${target}": the Lambda API sent none`,
      );
    }
    const source = new EventStreamSource(out.EventStream, abort, target);
    let start;
    try {
      start = await readStreamStart(source, isHttpIntegration(out.ResponseStreamContentType));
    } catch (err) {
      source.cancel(err);
      if (signal.aborted) throw signal.reason;
      throw err;
    }
    return {
      body: bodyStream(start.head, source, start.done),
      contentType: out.ResponseStreamContentType,
      prelude: start.prelude,
      executedVersion: out.ExecutedVersion,
      functionRequestId: out.$metadata.requestId,
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
