/**
 * The handler's seams to the features that watch it: an
 * {@linkcode ExchangeRecorder} told of every routed exchange, and
 * {@linkcode OwnRoutes} answered before routing, built on the handler's own
 * {@linkcode InvocationPath}. The inspector implements both (`inspect/`) and
 * `run/serve.ts` wires them in, so the request path never imports the
 * inspector: a request's walk goes one way.
 *
 * @module
 */

import type { Invoker, InvokeRequest, InvokeResult } from "../invoke/types.ts";
import type { Rule } from "../route/rule.ts";
import type { IncomingRequest } from "../wire/request.ts";

/** What the handler knows about one finished request: references only, copied by the recorder. */
export interface ExchangeFacts {
  request: IncomingRequest;
  /** The handler's access-log entry (requestId, host, method, target, function, error, durationMs…). */
  entry: Readonly<Record<string, unknown>>;
  time: number;
  sourceIp: string;
  route: string;
  /** The matched route's path parameters (its key is the entry's `route`). */
  pathParameters?: Record<string, string> | undefined;
  body?: Uint8Array | null | undefined;
  payload?: Uint8Array | undefined;
  result?: InvokeResult | undefined;
  /** The buffered result bytes (before they became the response). */
  rawResult?: Uint8Array | undefined;
  upstreamMs?: number | undefined;
  /** Whether the function took the event; `undefined` when lrp cannot know. */
  reached?: boolean | undefined;
}

/**
 * Told of every routed exchange once its response exists. With one set, the
 * handler keeps the request body and the event bytes for it.
 */
export interface ExchangeRecorder {
  /** Records `facts`; the response comes back as the client gets it (its body may be copied on its way). */
  record(facts: ExchangeFacts, response: Response): Promise<{ response: Response }>;
}

/** The handler's invocation path, lent to routes that invoke (the inspector's replay). */
export interface InvocationPath {
  now: () => number;
  newRequestId: () => string;
  /** An invocation bounded by the upstream timeout and cancelled with `signal`. */
  invoke(invoker: Invoker, call: Omit<InvokeRequest, "signal">, signal: AbortSignal): Promise<InvokeResult>;
  /** A result as the client's response, within the result header caps. */
  toResponse(result: InvokeResult, method: string, rule: Rule): Response;
}

/** Routes a feature answers before routing; the handler neither routes nor records them. */
export interface OwnRoutes {
  /** Whether `path` is one of them and this request (its own `host`, its `peer`) may use it. */
  owns(path: string, host: string | null, peer: string): boolean;
  /** Answers a request for a path it owns; throws `LrpError` for a refusal. */
  handle(request: IncomingRequest, path: string, peer: string): Promise<Response>;
}

/** Errors that mean the function ran: it timed out, or answered something unusable. */
const REACHED_ERRORS = new Set(["function_timeout", "function_error", "bad_result"]);
/** Errors of an invocation that never reached the function: refused before it, or the target not there. */
const UNREACHED_ERRORS = new Set([
  "queue_full",
  "queue_timeout",
  "upstream_unreachable",
  "function_not_found",
  "function_not_allowed",
  "upstream_auth",
  "throttled",
  "payload_too_large",
]);

/**
 * Whether the function took the event, for the recorder: `undefined` when
 * lrp cannot know (it stopped waiting for an RIE or the Invoke API).
 * `functions:` rules report it themselves.
 */
export function reachedFunction(
  invoked: boolean,
  heard: boolean,
  kind: Rule["kind"] | undefined,
  result: InvokeResult | undefined,
  error: unknown,
): boolean | undefined {
  if (heard || result !== undefined || REACHED_ERRORS.has(String(error))) return true;
  if (!invoked || kind === "function" || UNREACHED_ERRORS.has(String(error))) return false;
  return undefined;
}
