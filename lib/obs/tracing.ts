/**
 * OpenTelemetry spans for requests and invocations, on top of Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true` plus the standard `OTEL_*` variables),
 * which exports over OTLP (and traces outgoing `fetch`).
 *
 * lrp records one SERVER span per request ({@linkcode traceRequest}: lrp
 * serves HTTP itself, so Deno does not), the route on it, and one
 * `invoke {host}` client span per invocation with the target, function name,
 * qualifier, executed version and queue wait. The invocation span's context
 * goes into the event's `traceparent` header, so a function that reads the
 * W3C trace context joins the trace.
 *
 * `@opentelemetry/api` is loaded by {@linkcode enableTracing} (main.ts calls
 * it when `OTEL_DENO` is on): loading it costs tens of milliseconds of
 * start-up, which a process without OpenTelemetry need not pay. Until then,
 * and with OpenTelemetry off (no recording server span), this module does
 * nothing but one check (then one context lookup) per request. The
 * package's name comes from lib/lazy_packages.ts, so a process without
 * tracing never downloads it; `deno compile` includes it (`--include`).
 *
 * @module
 */

import type * as OtelApi from "npm:@opentelemetry/api@1.9.0";
import type { Span, Tracer } from "npm:@opentelemetry/api@1.9.0";
import type { Rule } from "../route/rule.ts";
import { LrpError } from "../errors.ts";
import type { InvokeResult } from "../invoke/types.ts";
import { OTEL_API } from "../lazy_packages.ts";

/** The loaded API and lrp's tracer; `undefined` until {@linkcode enableTracing}. */
let otel: { api: typeof OtelApi; tracer: Tracer } | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads `@opentelemetry/api` so that {@linkcode traceInvocation} records
 * spans under a recording server span. Idempotent; call it once before
 * serving when OpenTelemetry is on.
 */
export function enableTracing(): Promise<void> {
  // Named, not a literal: a process without tracing downloads no API package (lib/lazy_packages.ts).
  return loading ??= (import(OTEL_API) as Promise<typeof OtelApi>).then((api) => {
    otel = { api, tracer: api.trace.getTracer("lrp") };
  });
}

/** What a span says about the invocation target. */
export interface InvocationInfo {
  rule: Rule;
  /** The invoker's description, e.g. `local http://fn:8080`. */
  target: string;
  /** Function and qualifier chosen by a host pattern or header, when the rule does not fix them. */
  functionName?: string | undefined;
  qualifier?: string | undefined;
}

/** The W3C `traceparent` of a span: `00-{trace id}-{span id}-{flags}`. */
export function traceparentOf(span: Span): string | undefined {
  const c = span.spanContext();
  if (!otel?.api.trace.isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Runs `handle` inside the request's SERVER span (named by its method, as
 * Deno names the spans of its own `Deno.serve`, with the OpenTelemetry HTTP
 * attributes), when tracing is on; otherwise runs it as it is.
 */
export function traceRequest(
  method: string,
  url: string,
  handle: () => Promise<Response>,
): Promise<Response> {
  if (!otel) return handle();
  const { api, tracer } = otel;
  return tracer.startActiveSpan(method, {
    kind: api.SpanKind.SERVER,
    attributes: { "http.request.method": method, "url.full": url },
  }, async (span) => {
    try {
      const response = await handle();
      span.setAttribute("http.response.status_code", response.status);
      if (response.status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      return response;
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed with the error's message. */
function failed(span: Span, err: unknown): void {
  span.setStatus({
    code: otel!.api.SpanStatusCode.ERROR,
    message: err instanceof Error ? err.message : String(err),
  });
}

/**
 * Runs `invoke` inside an `invoke {host}` client span when a recording span
 * is active (the request's server span), after writing the span's
 * `traceparent` into `eventHeaders` (which `invoke` then encodes).
 * Otherwise runs `invoke` as it is.
 */
export function traceInvocation(
  info: InvocationInfo,
  eventHeaders: Record<string, string>,
  invoke: () => Promise<InvokeResult>,
): Promise<InvokeResult> {
  if (!otel) return invoke();
  const { api, tracer } = otel;
  const server = api.trace.getActiveSpan();
  if (!server?.isRecording()) return invoke();
  const { rule } = info;
  server.setAttribute("lrp.route", rule.hostname);
  server.setAttribute("lrp.target", info.target);
  const attributes: Record<string, string> = {
    "lrp.route": rule.hostname,
    "lrp.target": info.target,
    "faas.invoked_provider": "aws",
  };
  if (rule.kind === "aws") {
    // A host pattern or header may have chosen the function at request time.
    const functionName = info.functionName ?? rule.functionName;
    const qualifier = info.functionName !== undefined ? info.qualifier : rule.qualifier;
    if (functionName) attributes["faas.invoked_name"] = functionName;
    if (qualifier) attributes["lrp.qualifier"] = qualifier;
  } else if (rule.kind === "function") attributes["faas.invoked_name"] = rule.name;
  else attributes["lrp.endpoint"] = rule.endpoint;
  return tracer.startActiveSpan(
    `invoke ${rule.hostname}`,
    { kind: api.SpanKind.CLIENT, attributes },
    async (span) => {
      const parent = traceparentOf(span);
      if (parent) eventHeaders["traceparent"] = parent;
      try {
        const result = await invoke();
        if (result.queueWaitMs !== undefined) span.setAttribute("lrp.queue_wait_ms", result.queueWaitMs);
        if (result.executedVersion) span.setAttribute("lrp.executed_version", result.executedVersion);
        if (result.functionError !== undefined) {
          span.setAttribute("lrp.function_error", result.functionError);
          span.setStatus({
            code: api.SpanStatusCode.ERROR,
            message: `function error ${result.functionError}`,
          });
        }
        return result;
      } catch (err) {
        const code = err instanceof LrpError ? err.code : "internal";
        span.setAttribute("error.type", code);
        failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
