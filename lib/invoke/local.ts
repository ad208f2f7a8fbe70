/**
 * The local invoker: POSTs events to a Lambda Runtime Interface Emulator
 * (`{endpoint}/2015-03-31/functions/function/invocations`) and reads its
 * answers the way the RIE really gives them (docs/wire-format.md, "The RIE").
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { Http1Error, Http1Pool } from "./http1.ts";
import { invokeLocalStreaming } from "./local_stream.ts";
import { endpointKey, type QueueLimits, SlotQueue, type Slots, type SlotSource } from "./queue.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "./types.ts";
import { readAtMost } from "../bytes.ts";
import { RIE_INVOKE_PATH, RIE_MAX_PAYLOAD_BYTES } from "./rie.ts";
import { Deadlines } from "./deadline.ts";
import { type Payload, payloadBytes } from "../wire/payload.ts";

/** Options of a {@linkcode LocalInvoker}. */
export interface LocalInvokerOptions extends QueueLimits {
  /** Base URL of the RIE, e.g. `http://service-1:8080`. */
  endpoint: string;
  /** `RESPONSE_STREAM` passes the answer through as it arrives (see `local_stream.ts`); default `BUFFERED`. */
  invokeMode?: "BUFFERED" | "RESPONSE_STREAM" | undefined;
  /**
   * The endpoint's queue, shared by every rule (and every configuration
   * generation) that names the same endpoint: the one-at-a-time guarantee is
   * the endpoint's, not the rule's. A private queue when absent.
   */
  queue?: Slots | undefined;
}

export { endpointKey };

/** One {@linkcode SlotQueue} per endpoint, created on first use and kept for the process's life. */
export class EndpointQueues implements SlotSource {
  #queues = new Map<string, SlotQueue>();

  /** The queue of `endpoint`, its limits set to `limits` (the latest configuration's). */
  get(endpoint: string, limits: QueueLimits): SlotQueue {
    const key = endpointKey(endpoint);
    let queue = this.#queues.get(key);
    if (queue) queue.setLimits(limits);
    else this.#queues.set(key, queue = new SlotQueue(endpoint.replace(/\/+$/, ""), limits));
    return queue;
  }
}

const decoder = new TextDecoder();
/**
 * How long a slot stays taken by an abandoned call at most: Lambda's longest
 * function timeout (900 s) plus a margin. Releasing earlier would send the
 * RIE a second invocation while it still runs the first.
 */
const HOLD_LIMIT_MS = 905_000;
/** Every buffered local call's hold limit, on one timer. */
const holdDeadlines = new Deadlines(HOLD_LIMIT_MS);
/** The largest answer read from an RIE: its own cap on a result. */
const MAX_RESULT_BYTES = RIE_MAX_PAYLOAD_BYTES;
const TIMEOUT_RE = /^Task timed out after (\d+(?:\.\d+)?) seconds$/;

/**
 * Invokes a function behind an RIE, one invocation at a time by default.
 *
 * - A function error arrives from the RIE as **200** with an error JSON body
 *   (`errorType`/`errorMessage`): it is reported as `functionError`.
 * - `Task timed out after N.00 seconds` (200, plain text) → 504 `function_timeout`.
 * - RIE 502 (runtime exit, init error), any other status, a refused or reset
 *   connection → 502 naming the endpoint.
 * - A client that goes away stops waiting, but the slot is held until the RIE
 *   has answered: the RIE cannot take a second invocation while one runs.
 */
export class LocalInvoker implements Invoker {
  readonly describe: string;
  readonly queue: Slots;
  #url: string;
  #endpoint: string;
  #path: string;
  #pool: Http1Pool | undefined;
  #client: Deno.HttpClient | undefined;
  #streaming: boolean;

  /** Creates an invoker for one RIE endpoint. */
  constructor(options: LocalInvokerOptions) {
    this.#endpoint = options.endpoint.replace(/\/+$/, "");
    this.#url = this.#endpoint + RIE_INVOKE_PATH;
    this.describe = `local ${this.#endpoint}`;
    this.#path = new URL(this.#url).pathname;
    this.queue = options.queue ?? new SlotQueue(this.#endpoint, options);
    // One pooled keep-alive client per endpoint.
    // Plain http (every RIE container): lrp's own keep-alive client, about
    // twice as fast as fetch; https endpoints and streaming rules go through fetch.
    this.#streaming = options.invokeMode === "RESPONSE_STREAM";
    if (this.#url.startsWith("http:") && !this.#streaming) {
      // A fresh connection per invocation (no idle connection is kept): HTTP/1.1 cannot tell an
      // answer a misbehaving endpoint sends late (or twice) from the answer to the next request
      // written on the same connection, so a reused connection could hand one client another's
      // answer. A loopback or container-network connect costs far less than an RIE invocation.
      this.#pool = new Http1Pool(this.#url, {
        maxIdle: 0,
        // The next invocation's connection is opened while this one runs: no handshake on its path.
        spare: true,
        maxResponseBytes: MAX_RESULT_BYTES,
      });
    } else this.#client = Deno.createHttpClient({ poolMaxIdlePerHost: Math.max(1, options.concurrency) });
  }

  /** Waits for a slot, then invokes. */
  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const queuedAt = performance.now();
    const release = await this.queue.acquire(request.signal);
    const queueWaitMs = performance.now() - queuedAt;
    if (this.#streaming) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (request.traceId) headers["x-amzn-trace-id"] = request.traceId;
      const result = await invokeLocalStreaming({
        url: this.#url,
        endpoint: this.#endpoint,
        client: this.#client!,
        headers,
        payload: payloadBytes(request.payload),
        holdLimitMs: HOLD_LIMIT_MS,
        interpret: (status, bytes) => this.#interpret({ status, bytes }),
        release,
      }, request.signal);
      return { ...result, queueWaitMs };
    }
    // The upstream call is deliberately not aborted by the client's signal: the
    // slot must stay taken until the RIE is free again.
    const call = this.#call(request.payload, request.traceId);
    call.then(release, release);
    const bytes = await abortable(call, request.signal);
    return { ...this.#interpret(bytes), queueWaitMs };
  }

  async #call(
    payload: Payload,
    traceId: string | undefined,
  ): Promise<{ status: number; bytes: Uint8Array }> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (traceId) headers["x-amzn-trace-id"] = traceId;
    // A deadline cancelled as soon as the call settles: `AbortSignal.timeout()` would
    // keep every call's signal (and what hangs off it) alive for 905 s.
    const hold = new AbortController();
    const deadline = holdDeadlines.add(() =>
      hold.abort(new DOMException("The RIE held the invocation too long", "TimeoutError"))
    );
    try {
      return await this.#send(payload, headers, hold.signal);
    } finally {
      deadline.cancel();
    }
  }

  async #send(
    payload: Payload,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number; bytes: Uint8Array }> {
    if (this.#pool) {
      try {
        const res = await this.#pool.request("POST", this.#path, headers, payload, signal);
        return { status: res.status, bytes: res.body };
      } catch (err) {
        if (err instanceof Http1Error && err.tooLarge) throw this.#tooLarge();
        throw this.#unreachable(err);
      }
    }
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: "POST",
        body: payloadBytes(payload) as Uint8Array<ArrayBuffer>,
        headers,
        client: this.#client!,
        signal,
      });
    } catch (err) {
      throw this.#unreachable(err);
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readAtMost(response.body, MAX_RESULT_BYTES);
    } catch (err) {
      throw new LrpError(
        "upstream_unreachable",
        `Cannot read the answer of the RIE at ${this.#endpoint}: ${reason(err)}`,
        { cause: err },
      );
    }
    if (bytes === undefined) throw this.#tooLarge();
    return { status: response.status, bytes };
  }

  #tooLarge(): LrpError {
    return new LrpError(
      "bad_result",
      `Cannot use the Lambda result: the RIE at ${this.#endpoint} answered more than ${MAX_RESULT_BYTES} bytes`,
    );
  }

  #unreachable(err: unknown): LrpError {
    const received = err instanceof Http1Error && err.phase === "receive" && err.received > 0;
    const what = received ? "Cannot read the answer of the RIE" : "Cannot reach the RIE";
    return new LrpError("upstream_unreachable", `${what} at ${this.#endpoint}: ${reason(err)}`, {
      cause: err,
    });
  }

  #interpret({ status, bytes }: { status: number; bytes: Uint8Array }): InvokeResult {
    if (status === 200) {
      if (bytes.length < 64 && bytes[0] === 0x54 /* T */) {
        const text = decoder.decode(bytes);
        const seconds = TIMEOUT_RE.exec(text)?.[1];
        if (seconds !== undefined) {
          throw new LrpError(
            "function_timeout",
            `Cannot finish the function at ${this.#endpoint}: ${text}: the function's timeout is ${
              Number(seconds)
            } s (AWS_LAMBDA_FUNCTION_TIMEOUT in its container)`,
          );
        }
      }
      const errorType = rieErrorType(bytes);
      if (errorType !== undefined) return { body: bytes, functionError: errorType };
      return { body: bytes };
    }
    const text = decoder.decode(bytes.subarray(0, 500));
    if (status === 404) {
      throw new LrpError(
        "upstream_error",
        `Cannot invoke ${this.#endpoint}: it answered 404 to ${RIE_INVOKE_PATH}, so it is not a Lambda RIE`,
        { detail: text },
      );
    }
    const type = rieErrorType(bytes);
    const what = type ? `${type}` : `HTTP ${status}`;
    throw new LrpError("upstream_error", `Cannot invoke the RIE at ${this.#endpoint}: it answered ${what}`, {
      detail: text,
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.#pool?.close();
    this.#client?.close();
  }
}

const ERROR_KEYS = new Set(["errorType", "errorMessage", "trace", "stackTrace", "requestId", "cause"]);

/**
 * The RIE reports a function error as a 200 whose body is the runtime's error
 * JSON (`{"errorType","errorMessage",…}`), indistinguishable from success but
 * by shape. Returns the `errorType` when the body has that shape: an object
 * with a string `errorMessage` and only the keys runtimes use.
 */
export function rieErrorType(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x7b || bytes.length > 256 * 1024) return undefined;
  // Runtimes write compact JSON: the first key tells, without parsing every result twice.
  const first = /^\{\s*"([A-Za-z]+)"/.exec(decoder.decode(bytes.subarray(0, 24)))?.[1];
  if (first === undefined || !ERROR_KEYS.has(first)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  if (typeof obj.errorMessage !== "string" && typeof obj.errorType !== "string") return undefined;
  for (const k of Object.keys(obj)) if (!ERROR_KEYS.has(k)) return undefined;
  return typeof obj.errorType === "string" ? obj.errorType : "Error";
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    // fetch's "error sending request" says little; its cause says what failed. A wrapper that
    // already quotes its cause is not repeated.
    const inner = err.cause instanceof Error ? err.cause.message : "";
    return inner && !err.message.includes(inner) ? `${err.message}: ${inner}` : err.message;
  }
  return String(err);
}

/** Resolves like `promise`, or rejects with the signal's reason as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
