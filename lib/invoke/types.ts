/**
 * The one seam between lrp and Lambda: an {@linkcode Invoker} takes event bytes
 * and returns the function's result. Local (RIE) and AWS (Invoke API)
 * implementations live beside this file; tests replace it freely.
 *
 * Invokers throw {@linkcode LrpError} for every failure they recognise.
 *
 * @module
 */

import type { StreamingPrelude } from "../wire/event.ts";
import type { Payload } from "../wire/payload.ts";

/** How a rule invokes (Function URL names): whole results, or response streaming. */
export const INVOKE_MODES = ["BUFFERED", "RESPONSE_STREAM"] as const;
/** `BUFFERED` (default) or `RESPONSE_STREAM`. */
export type InvokeMode = typeof INVOKE_MODES[number];

/** One invocation. */
export interface InvokeRequest {
  /** The event, already JSON-encoded (a large binary body may be spliced in as it is written). */
  payload: Payload;
  /** Aborted when the client goes away or lrp's upstream timeout fires. */
  signal: AbortSignal;
  /** `X-Amzn-Trace-Id` to hand to the function, when known. */
  traceId?: string | undefined;
  /** Function name chosen at request time (host pattern or header rule); AWS invokers only. */
  functionName?: string | undefined;
  /** Qualifier chosen at request time; AWS invokers only. */
  qualifier?: string | undefined;
  /**
   * lrp's request id (the event's `requestContext.requestId`). A target that lets lrp choose the
   * invocation's id (`functions:` rules) uses it, so the function's `awsRequestId` is the same id.
   */
  requestId?: string | undefined;
  /**
   * Hears that the function took the event, with the id it sees as `awsRequestId` when known —
   * also for an invocation that then fails (a timeout, a crash).
   */
  onReached?: ((functionRequestId: string | undefined) => void) | undefined;
}

/** What came back from one invocation. */
export interface InvokeResult {
  /**
   * The function's response bytes. A stream when the upstream streams
   * (response streaming); buffered bytes otherwise.
   */
  body: Uint8Array | ReadableStream<Uint8Array>;
  /** Set when the function failed (`X-Amz-Function-Error`, or an RIE error body). */
  functionError?: string | undefined;
  /** `X-Amz-Executed-Version`, when the upstream reports it. */
  executedVersion?: string | undefined;
  /** Content type the function declared for a streamed response. */
  contentType?: string | undefined;
  /**
   * The decoded `HttpResponseStream.from` prelude of a streamed response
   * (`body` is then what followed it). Absent: the stream is the body.
   */
  prelude?: StreamingPrelude | undefined;
  /** Milliseconds spent waiting for a free slot before the call started. */
  queueWaitMs?: number | undefined;
  /** The invocation's request id as the function saw it (`awsRequestId`), when the target says. */
  functionRequestId?: string | undefined;
}

/** Calls one Lambda target. */
export interface Invoker {
  /** A short description for logs and errors, e.g. `local http://fn:8080`. */
  readonly describe: string;
  /** Invokes the function once. */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /** Releases pooled connections. */
  close?(): void | Promise<void>;
}
