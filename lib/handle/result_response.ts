/**
 * An invocation result turned into the client's response, and the log lines
 * of a streamed body's end.
 *
 * @module
 */

import { functionFailed, toLrpError } from "../errors.ts";
import type { InvokeResult } from "../invoke/types.ts";
import type { Logger } from "../obs/log.ts";
import { type FormatOptions, formatResultToResponse } from "../wire/formats.ts";
import { checkHeaderBlock, type HeaderLimits, ResultResponse } from "../wire/response.ts";
import { observeStream, streamResultToResponse } from "../wire/stream.ts";

/**
 * Turns an invocation result into the client's response: a function error
 * is a 502 (its error JSON only in the private detail); otherwise the bytes
 * are a result in the rule's payload format (2.0 also decodes a body framed
 * with a streaming prelude). A header block over `limits` is a 502.
 */
export function toResponse(
  result: InvokeResult,
  method = "GET",
  format: FormatOptions = {},
  limits: HeaderLimits = { maxCount: Infinity, maxBytes: Infinity },
): Response {
  if (result.functionError !== undefined) {
    const detail = parseDetail(result.body);
    throw functionFailed(result.functionError, detail);
  }
  const body = result.body;
  const response = body instanceof Uint8Array
    ? formatResultToResponse(format, body, method)
    : streamResultToResponse({ ...result, body }, method);
  try {
    if (response instanceof ResultResponse) checkHeaderBlock(response.resultHeaders, limits);
  } catch (err) {
    response.body?.cancel(err).catch(() => {});
    throw err;
  }
  return response;
}

/**
 * Logs how a streamed body ended, after the access line: a failure after the
 * response started (the client's response is aborted, never cut short as if
 * complete) is a warning; a client that left, info.
 */
export function logStream(
  body: ReadableStream<Uint8Array>,
  log: Logger,
  entry: Record<string, unknown>,
): ReadableStream<Uint8Array> {
  const t0 = performance.now();
  const fields = (bytes: number) => ({
    requestId: entry.requestId,
    host: entry.host,
    target: entry.target,
    bytes,
    durationMs: round(performance.now() - t0),
  });
  return observeStream(body, {
    onError(err, bytes) {
      const e = toLrpError(err);
      log.warn("response stream aborted", { ...fields(bytes), error: e.code, errorMessage: e.message });
    },
    onCancel: (bytes) => log.info("response stream cancelled by client", fields(bytes)),
    onEnd: (bytes) => log.debug("response stream complete", fields(bytes)),
  });
}

function parseDetail(body: InvokeResult["body"]): unknown {
  if (!(body instanceof Uint8Array)) return undefined;
  const text = new TextDecoder().decode(body);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
