/**
 * Response streaming for local rules (`invoke_mode: RESPONSE_STREAM`): the
 * endpoint's answer is read with `fetch` as it arrives and passed through,
 * with the same prelude detection on its first bytes as a buffered answer.
 *
 * The classic RIE buffers a streaming handler's whole output and sends it at
 * once (docs/wire-format.md, "The RIE"), so through it this changes nothing; an endpoint
 * that does stream (chunks arriving over time) now reaches the client
 * incrementally.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { LrpError } from "../errors.ts";
import { findDelimiter, isHttpIntegration } from "../wire/prelude.ts";
import { isPlainObject } from "../wire/response.ts";
import {
  bodyStream,
  type ChunkSource,
  MAX_PRELUDE_BYTES,
  readFirstBytes,
  readStreamStart,
} from "../wire/stream.ts";
import type { InvokeResult } from "./types.ts";
import { RIE_MAX_PAYLOAD_BYTES } from "./rie.ts";

/**
 * Largest answer still treated as one buffered result: the classic RIE's own
 * cap, 6 MiB + 100 B (docs/wire-format.md, "The RIE"). A JSON answer without a prelude
 * beyond it is streamed through as the body.
 */
export const MAX_BUFFERED_BYTES = RIE_MAX_PAYLOAD_BYTES;
/** Largest non-200 answer read for its error message. */
const MAX_ERROR_BYTES = 64 * 1024;
const TIMEOUT_PREFIX = "Task timed out after ";

/** What one streamed local call needs from its invoker. */
export interface LocalStreamCall {
  url: string;
  endpoint: string;
  client: Deno.HttpClient;
  headers: Record<string, string>;
  payload: Uint8Array;
  /** How long the slot stays taken by an abandoned call at most. */
  holdLimitMs: number;
  /** Interprets a whole answer as the buffered invoker would (function error, timeout text, RIE errors). */
  interpret(status: number, bytes: Uint8Array): InvokeResult;
  /** Frees the endpoint slot; called once, when the endpoint has finished answering. */
  release(): void;
}

/**
 * The body of one fetch answer as a {@linkcode ChunkSource}. Cancelling it
 * reads the rest and throws it away instead of closing the connection: the
 * RIE runs the invocation to its end either way, and its slot must stay
 * taken until then (docs/wire-format.md, "The RIE").
 */
class FetchBodySource implements ChunkSource {
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #finish: () => void;
  #endpoint: string;
  #cancelled = false;

  constructor(body: ReadableStream<Uint8Array> | null, endpoint: string, finish: () => void) {
    this.#reader = body?.getReader();
    this.#endpoint = endpoint;
    this.#finish = finish;
  }

  async read(): Promise<Uint8Array | null> {
    if (!this.#reader || this.#cancelled) {
      this.#finish();
      return null;
    }
    try {
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#finish();
        return null;
      }
      return value;
    } catch (err) {
      this.#finish();
      throw new LrpError(
        "upstream_unreachable",
        `Cannot read the answer of the RIE at ${this.#endpoint}: ${err instanceof Error ? err.message : err}`,
        { cause: err },
      );
    }
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const reader = this.#reader;
    if (!reader) return this.#finish();
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* broken connection: the exchange is over */ }
      this.#finish();
    })();
  }
}

/**
 * Calls the endpoint and reads the start of its answer:
 * - not 200 → read (up to 64 KB) and interpreted as the buffered invoker does;
 * - content type `application/vnd.awslambda.http-integration-response` (an
 *   endpoint that keeps it), or first bytes `{…}` + 8×NUL → prelude, then the
 *   body streamed;
 * - other first bytes starting with `{`, or a possible `Task timed out …`
 *   → buffered until the end (up to {@linkcode MAX_BUFFERED_BYTES}) and
 *   interpreted as one result, so function errors and timeouts keep their
 *   status;
 * - anything else → streamed as the body, status 200, the endpoint's content type.
 *
 * `signal` stops the wait (client gone, upstream timeout); the endpoint's
 * answer is then still read to its end before the slot is freed.
 */
export async function invokeLocalStreaming(
  call: LocalStreamCall,
  signal: AbortSignal,
): Promise<InvokeResult> {
  const hold = new AbortController();
  let released = false;
  const timer = setTimeout(
    () => hold.abort(new Error(`no answer within ${call.holdLimitMs} ms`)),
    call.holdLimitMs,
  );
  const finish = () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    call.release();
  };
  const work = (async (): Promise<InvokeResult> => {
    let response: Response;
    try {
      response = await fetch(call.url, {
        method: "POST",
        body: call.payload as Uint8Array<ArrayBuffer>,
        headers: call.headers,
        client: call.client,
        signal: hold.signal,
      });
    } catch (err) {
      finish();
      throw new LrpError(
        "upstream_unreachable",
        `Cannot reach the RIE at ${call.endpoint}: ${err instanceof Error ? err.message : err}`,
        { cause: err },
      );
    }
    const source = new FetchBodySource(response.body, call.endpoint, finish);
    try {
      return await start(response, source, call);
    } catch (err) {
      source.cancel();
      throw err;
    }
  })();
  // A result nobody will read (the client left meanwhile) still drains and frees the slot.
  work.then((result) => {
    if (signal.aborted && result.body instanceof ReadableStream) result.body.cancel().catch(() => {});
  }, () => {});
  if (signal.aborted) throw signal.reason;
  return await new Promise<InvokeResult>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function start(
  response: Response,
  source: FetchBodySource,
  call: LocalStreamCall,
): Promise<InvokeResult> {
  if (response.status !== 200) {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (let chunk; size < MAX_ERROR_BYTES && (chunk = await source.read()) !== null;) {
      parts.push(chunk);
      size += chunk.length;
    }
    source.cancel();
    return call.interpret(response.status, concatBytes(parts));
  }
  const contentType = response.headers.get("content-type") ?? undefined;
  if (isHttpIntegration(contentType)) {
    const s = await readStreamStart(source, true);
    return { body: bodyStream(s.head, source, s.done), prelude: s.prelude, contentType };
  }
  let bytes: Uint8Array = new Uint8Array(0);
  let preludeRuledOut = false;
  for (;;) {
    const chunk = await source.read();
    if (chunk === null) return call.interpret(200, bytes);
    if (chunk.length === 0) continue;
    bytes = concatBytes([bytes, chunk]);
    if (bytes[0] === 0x7b /* { */) {
      if (!preludeRuledOut) {
        const at = findDelimiter(bytes.subarray(0, MAX_PRELUDE_BYTES + 8), 0);
        if (at !== -1) {
          const prelude = parseObject(bytes.subarray(0, at));
          if (prelude) {
            const first = await readFirstBytes(source, bytes.slice(at + 8));
            return { body: bodyStream(first.head, source, first.done), prelude, contentType };
          }
          preludeRuledOut = true;
        } else if (bytes.length > MAX_PRELUDE_BYTES + 8) preludeRuledOut = true;
      }
      if (bytes.length <= MAX_BUFFERED_BYTES) continue;
    } else if (mayBeTimeoutText(bytes)) continue;
    return { body: bodyStream(bytes, source), contentType };
  }
}

const decoder = new TextDecoder();

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the bytes so far may still be the RIE's `Task timed out after N.00 seconds` (under 64 bytes). */
function mayBeTimeoutText(bytes: Uint8Array): boolean {
  if (bytes.length >= 64) return false;
  const text = decoder.decode(bytes);
  return TIMEOUT_PREFIX.startsWith(text) || text.startsWith(TIMEOUT_PREFIX);
}
