/**
 * One error type that carries its HTTP status, and one function that turns any
 * failure into lrp's single JSON error shape.
 *
 * @module
 */

/** Machine-readable causes; each maps to exactly one HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  /** The request chose a function (host placeholder or header) its rule's `allow` list does not name. */
  function_not_allowed: 403,
  route_not_found: 404,
  /** An internal resource that does not exist (an inspector exchange no longer kept). */
  not_found: 404,
  method_not_allowed: 405,
  /** The client sent the body too slowly (`body_timeout`). */
  body_timeout: 408,
  /** The client did not finish its header block within `header_timeout`. */
  header_timeout: 408,
  body_too_large: 413,
  /** The request's header block is over lrp's size or line cap. */
  headers_too_large: 431,
  /** Lambda refused the event as over its 6 MB payload limit (`RequestTooLargeException`). */
  payload_too_large: 413,
  throttled: 429,
  internal: 500,
  /** A request method lrp does not pass to functions (RFC 9110 §9.1). */
  method_not_implemented: 501,
  /** A request line naming an HTTP version other than 1.0 and 1.1. */
  version_not_supported: 505,
  upstream_unreachable: 502,
  upstream_error: 502,
  function_error: 502,
  bad_result: 502,
  function_not_found: 502,
  upstream_auth: 502,
  queue_full: 503,
  queue_timeout: 503,
  /** lrp is at its global in-flight bound (`max_in_flight`, `max_in_flight_bytes`). */
  overloaded: 503,
  upstream_timeout: 504,
  /** The function ran past its own timeout (a functions rule's `timeout`, an RIE's `AWS_LAMBDA_FUNCTION_TIMEOUT`). */
  function_timeout: 504,
  /** The client went away before the answer; nginx's convention, never seen by the client. */
  client_closed: 499,
} as const;

/** A cause of failure known to lrp. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Options of an {@linkcode LrpError}. */
export interface LrpErrorOptions {
  /** Extra response headers, such as `Retry-After`. */
  headers?: Record<string, string>;
  /** Shown to clients only when error details are switched on (e.g. a function's error JSON). */
  detail?: unknown;
  cause?: unknown;
}

/** A failure with a known cause, answered to the client with its status. */
export class LrpError extends Error {
  /** What went wrong, machine-readable. */
  readonly code: ErrorCode;
  /** The HTTP status the client receives. */
  readonly status: number;
  /** Extra response headers. */
  readonly headers: Record<string, string>;
  /** Private detail, shown only with error details on. */
  readonly detail: unknown;

  /** Creates an error with a cause code and a message that names the cause. */
  constructor(code: ErrorCode, message: string, options: LrpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LrpError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = options.headers ?? {};
    this.detail = options.detail;
  }
}

/**
 * The 502 for a function's error: the message names its type and where to
 * look; the function's error JSON (message, stack trace) is only the detail,
 * shown with `error_details`.
 */
export function functionFailed(errorType: string, detail: unknown): LrpError {
  return new LrpError(
    "function_error",
    `Cannot use the answer: the function failed with ${errorType} (its error and stack trace are in the function's log, which is lrp's log for functions rules; error_details: true shows them in this answer)`,
    { detail },
  );
}

/** How an error is rendered for clients. */
export interface ErrorRenderOptions {
  requestId: string;
  /** Include `detail` (function error JSON, upstream message) in the body. */
  exposeDetails: boolean;
}

/**
 * Turns any thrown value into lrp's JSON error response:
 * `{"error": code, "message": text, "requestId": id}` (+ `"detail"` when exposed).
 * Unknown exceptions become a 500 `internal` whose message hides the internals.
 */
export function errorResponse(err: unknown, options: ErrorRenderOptions): Response {
  const e = toLrpError(err);
  const body: Record<string, unknown> = { error: e.code, message: e.message, requestId: options.requestId };
  if (options.exposeDetails && e.detail !== undefined) body.detail = e.detail;
  const headers = new Headers(e.headers);
  headers.set("content-type", "application/json");
  headers.set("x-lrp-error", e.code);
  return new Response(JSON.stringify(body), { status: e.status, headers });
}

/** Wraps anything that is not an {@linkcode LrpError} as an `internal` error. */
export function toLrpError(err: unknown): LrpError {
  if (err instanceof LrpError) return err;
  return new LrpError("internal", "Cannot answer: an internal error in lrp (logged as a bug)", {
    detail: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    cause: err,
  });
}
