/**
 * The inspector's routes under `{prefix}/inspect`: the page, its live
 * event stream (Server-Sent Events), one exchange in full, and replay. Only
 * mounted when the `inspect` setting is on; the handler answers these
 * requests itself and does not record them.
 *
 * Safety: the routes are this machine's — they answer only a Host naming it
 * (a loopback name or address) or one `internal_hosts` lists, so a page whose
 * name was re-pointed to 127.0.0.1 (DNS rebinding) is routed as any other
 * request; nothing here reaches a target the configuration does not name (a
 * replay goes to the route its exchange took, looked up again in the
 * current configuration); secrets are hidden unless the operator opted in;
 * replay takes only JSON from the page's own origin, itself such a host, so
 * another site's page in the same browser cannot trigger it.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { errorResponse, LrpError, toLrpError } from "../errors.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../invoke/types.ts";
import { type Exchange, type InspectRecorder, summarize } from "../obs/inspect.ts";
import {
  ERROR_CAUSES,
  redactJson,
  redactPairs,
  restoreSecrets,
  type SecretTest,
  viewBody,
  viewJson,
} from "../obs/inspect_view.ts";
import type { Rule } from "../route/rule.ts";
import type { Router } from "../route/router.ts";
import { selectFunction } from "../route/select.ts";
import { INSPECT_PAGE } from "./inspect_page.ts";
import type { IncomingRequest } from "../wire/request.ts";
import { normalizeHost, splitTarget } from "../wire/target.ts";
import { readBody } from "./body.ts";
import { fromInspectorPage, inspectorAccess } from "../route/internal.ts";

/** What the routes need from the handler. */
export interface InspectRoutesDeps {
  prefix: string;
  recorder: InspectRecorder;
  router: Router<Invoker>;
  config: Config;
  now: () => number;
  newRequestId: () => string;
  /** The handler's invocation path (upstream timeout, client cancellation). */
  invoke(invoker: Invoker, call: Omit<InvokeRequest, "signal">, signal: AbortSignal): Promise<InvokeResult>;
  /** The handler's result → response conversion. */
  toResponse(result: InvokeResult, method: string, rule: Rule): Response;
}

/** The inspector's routes. */
export interface InspectRoutes {
  /**
   * Whether `path` is under `{prefix}/inspect` and the request may use the
   * inspector: its own `host` names this machine or is listed in
   * `internal_hosts`, and `internal_hosts` lets it (and its `peer`) in.
   * Anyone else is routed as usual.
   */
  owns(path: string, host: string | null, peer: string): boolean;
  /** Answers a request for a path it owns; throws {@linkcode LrpError} (404, 405, 400). */
  handle(request: IncomingRequest, path: string, peer: string): Promise<Response>;
}

/** Seconds the browser waits before reconnecting the event stream (after a reload or restart). */
const RETRY_MS = 1000;
/** Comment lines keep idle event streams open through proxies. */
const KEEPALIVE_MS = 15_000;
/** Events queued for a client that does not read; past this its stream is ended. */
const MAX_QUEUED_EVENTS = 1000;

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; " +
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

/** Creates the routes. */
export function createInspectRoutes(deps: InspectRoutesDeps): InspectRoutes {
  const base = `${deps.prefix}/inspect`;
  const exchangePath = `${base}/exchanges/`;
  const only = (request: IncomingRequest, path: string, allowed: string) => {
    if (!allowed.split(", ").includes(request.method)) {
      throw new LrpError("method_not_allowed", `Cannot ${request.method} ${path}: it answers ${allowed}`, {
        headers: { allow: allowed },
      });
    }
  };
  const mayInspect = inspectorAccess(deps.config.internalHosts);
  const owns = (path: string, host: string | null, peer: string) =>
    (path === base || path.startsWith(`${base}/`)) && mayInspect(normalizeHost(host), peer);
  const handle = (request: IncomingRequest, path: string, peer: string): Promise<Response> => {
    if (path === base) {
      only(request, path, "GET, HEAD");
      return Promise.resolve(new Response(INSPECT_PAGE, { headers: PAGE_HEADERS }));
    }
    if (path === `${base}/events`) {
      only(request, path, "GET");
      return Promise.resolve(eventStream(deps.recorder));
    }
    if (path.startsWith(exchangePath)) {
      only(request, path, "GET, HEAD");
      const e = deps.recorder.get(exchangeId(path.slice(exchangePath.length), path));
      if (!e) throw notKept(path.slice(exchangePath.length));
      return Promise.resolve(json(exchangeDetail(e, deps.recorder.secret)));
    }
    if (path === `${base}/replay`) {
      only(request, path, "POST");
      return replay(request, deps, (host) => mayInspect(host, peer));
    }
    throw new LrpError("not_found", `Cannot find ${path}: the inspector has no such page`);
  };
  return { owns, handle };
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function exchangeId(text: string, path: string): number {
  if (!/^[1-9]\d{0,15}$/.test(text)) {
    throw new LrpError("bad_request", `Cannot read ${path}: bad exchange id`);
  }
  return Number(text);
}

function notKept(id: string | number): LrpError {
  return new LrpError("not_found", `Cannot find exchange ${id}: it is no longer in the inspector's buffer`);
}

/**
 * The page's live feed: `retry:` first (the browser reconnects after lrp
 * reloads or restarts), a `snapshot` of the kept exchanges, then one
 * `exchange` event per new one.
 */
function eventStream(recorder: InspectRecorder): Response {
  const encoder = new TextEncoder();
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      send(`retry: ${RETRY_MS}\n\n`);
      const snapshot = { boot: recorder.boot, exchanges: recorder.list().map(summarize) };
      send(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      const timer = setInterval(() => send(": keep-alive\n\n"), KEEPALIVE_MS);
      const unsubscribe = recorder.subscribe((e) => {
        if (e && (controller.desiredSize ?? 0) > -MAX_QUEUED_EVENTS) {
          send(`id: ${e.id}\nevent: exchange\ndata: ${JSON.stringify(summarize(e))}\n\n`);
          return;
        }
        // Closing (shutdown, inspector switched off) or a client that stopped reading.
        stop();
        controller.close();
      });
      stop = () => {
        clearInterval(timer);
        unsubscribe();
      };
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}

/** One exchange in full, as the page shows it: secrets hidden unless opted in. */
export function exchangeDetail(e: Exchange, secret: SecretTest | undefined): Record<string, unknown> {
  const pairs = (p: [string, string][]) => secret ? redactPairs(p, secret) : p;
  const { totalMs, queueWaitMs, upstreamMs } = e.timings;
  const prelude = e.result?.prelude &&
    (secret ? redactJson(e.result.prelude, secret).value : e.result.prelude);
  return {
    ...summarize(e),
    requestId: e.requestId,
    functionRequestId: e.functionRequestId,
    reached: e.reached,
    sourceIp: e.sourceIp,
    function: e.function,
    pathParameters: e.pathParameters,
    secretsHidden: secret !== undefined,
    request: { headers: pairs(e.requestHeaders), body: viewBody(e.requestBody) },
    event: e.event ? { ...viewJson(e.event, secret), replayable: !e.event.truncated } : null,
    result: e.result
      ? {
        streamed: e.result.streamed,
        functionError: e.result.functionError,
        executedVersion: e.result.executedVersion,
        prelude,
        // A streamed result's first bytes after the prelude are the response body's.
        body: e.result.streamed ? viewBody(e.response.body) : viewJson(e.result.body, secret),
      }
      : null,
    response: {
      status: e.response.status,
      headers: pairs(e.response.headers),
      body: viewBody(e.response.body),
      streaming: e.response.streaming,
    },
    timings: {
      totalMs,
      queueWaitMs: queueWaitMs === undefined ? undefined : round(queueWaitMs),
      functionMs: upstreamMs === undefined ? undefined : round(upstreamMs - (queueWaitMs ?? 0)),
      lrpMs: round(Math.max(0, totalMs - (upstreamMs ?? 0))),
    },
    error: e.error ? { ...e.error, cause: ERROR_CAUSES[e.error.code as keyof typeof ERROR_CAUSES] } : null,
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * `POST {prefix}/inspect/replay` with `{"id": N}` sends exchange N's event
 * again to the route it took; with `"event": "<JSON text>"` it sends that
 * (edited) event instead, secrets the page showed as redacted put back.
 * Answers `{"id": M}`, the new exchange.
 */
async function replay(
  request: IncomingRequest,
  deps: InspectRoutesDeps,
  mayInspect: (host: string) => boolean,
): Promise<Response> {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    await request.body?.cancel().catch(() => {});
    throw new LrpError("bad_request", "Cannot replay: the request must be JSON (application/json)");
  }
  if (!fromInspectorPage(request.headers, mayInspect)) {
    await request.body?.cancel().catch(() => {});
    const from = request.headers.get("origin") ?? `(${request.headers.get("sec-fetch-site")})`;
    throw new LrpError(
      "bad_request",
      `Cannot replay from origin ${from}: only the inspector page may replay`,
    );
  }
  let ask: { id?: unknown; event?: unknown };
  try {
    // An edited event holds a base64 body of up to 6 MB: 16 MiB is room enough.
    const bytes = await readBody(request, 16 * 1024 * 1024);
    ask = JSON.parse(new TextDecoder().decode(bytes ?? new Uint8Array()));
  } catch (err) {
    if (err instanceof LrpError && err.code !== "bad_request") throw err;
    throw new LrpError("bad_request", 'Cannot replay: the body must be JSON such as {"id": 3}');
  }
  if (typeof ask !== "object" || ask === null || typeof ask.id !== "number") {
    throw new LrpError("bad_request", 'Cannot replay: the body must name an exchange, such as {"id": 3}');
  }
  const original = deps.recorder.get(ask.id);
  if (!original) throw notKept(ask.id);
  const found = deps.router.match(original.host);
  if (!found || found.rule.hostname !== original.route) {
    throw new LrpError(
      "route_not_found",
      `Cannot replay exchange ${original.id}: route "${original.route}" is not configured (any more)`,
    );
  }
  // On a host with routes, the original's method and path choose the rule again.
  const choice = found.apis?.select(original.method, splitTarget(original.target).path);
  if (choice && !choice.route) {
    throw new LrpError("route_not_found", `Cannot replay exchange ${original.id}: ${choice.why}`);
  }
  const matched = choice?.route ? { ...choice.route.value, params: found.params } : found;
  const event = replayEvent(original, ask.event);
  const t0 = performance.now();
  const entry: Record<string, unknown> = {
    requestId: deps.newRequestId(),
    host: original.host,
    target: matched.target.describe,
    ...(choice?.route && { route: choice.route.key.key }),
  };
  const time = deps.now();
  let result: InvokeResult | undefined;
  let rawResult: Uint8Array | undefined;
  let upstreamMs: number | undefined;
  let response: Response;
  try {
    // The function is chosen again from the original request, within the current allow list.
    const choice = matched.rule.kind === "aws"
      ? selectFunction(matched.rule, matched.params, new Headers(original.requestHeaders), original.host)
      : undefined;
    if (choice) entry.function = choice.functionName + (choice.qualifier ? `:${choice.qualifier}` : "");
    const invokedAt = performance.now();
    try {
      result = await deps.invoke(matched.target, {
        payload: event.bytes,
        traceId: event.traceId,
        functionName: choice?.functionName,
        qualifier: choice?.qualifier,
        requestId: String(entry.requestId),
        onReached: (id) => {
          if (id !== undefined) entry.functionRequestId = id;
        },
      }, request.signal);
    } finally {
      upstreamMs = performance.now() - invokedAt;
    }
    if (result.functionRequestId !== undefined) entry.functionRequestId = result.functionRequestId;
    if (result.body instanceof Uint8Array) rawResult = result.body;
    response = deps.toResponse(result, original.method, matched.rule);
  } catch (err) {
    const e = toLrpError(err);
    entry.error = e.code;
    entry.errorMessage = e.message;
    response = errorResponse(e, {
      requestId: String(entry.requestId),
      exposeDetails: deps.config.errorDetails,
    });
  }
  entry.durationMs = round(performance.now() - t0);
  const { exchange } = await deps.recorder.record(
    {
      request,
      entry,
      time,
      sourceIp: original.sourceIp,
      route: original.route,
      pathParameters: original.pathParameters,
      payload: event.bytes,
      result,
      rawResult,
      upstreamMs,
      replayOf: original,
    },
    response,
    true,
  );
  return json({ id: exchange.id, status: exchange.response.status, error: exchange.error?.code });
}

/** The event bytes to replay: the original's, or an edited one with hidden secrets put back. */
function replayEvent(
  original: Exchange,
  edited: unknown,
): { bytes: Uint8Array; traceId: string | undefined } {
  const whole = original.event && !original.event.truncated ? original.event.bytes : undefined;
  const originalValue = whole ? JSON.parse(new TextDecoder().decode(whole)) : undefined;
  let value: unknown;
  if (edited === undefined || edited === null) {
    if (!whole) {
      throw new LrpError(
        "bad_request",
        `Cannot replay exchange ${original.id}: ${
          original.event
            ? "its event was cut at inspect_body_limit; send an edited whole event"
            : "no event was sent"
        }`,
      );
    }
    value = originalValue;
  } else {
    if (typeof edited !== "string") {
      throw new LrpError("bad_request", "Cannot replay: event must be JSON text");
    }
    try {
      value = JSON.parse(edited);
    } catch (err) {
      throw new LrpError(
        "bad_request",
        `Cannot replay: the edited event is not JSON: ${(err as Error).message}`,
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new LrpError("bad_request", "Cannot replay: the edited event must be a JSON object");
    }
    value = restoreSecrets(value, originalValue);
  }
  const bytes = edited === undefined || edited === null
    ? whole!
    : new TextEncoder().encode(JSON.stringify(value));
  return { bytes, traceId: traceIdOf(value) };
}

function traceIdOf(event: unknown): string | undefined {
  const headers = (event as { headers?: unknown }).headers;
  if (typeof headers !== "object" || headers === null) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === "x-amzn-trace-id" && typeof v === "string") return v;
  }
  return undefined;
}
