/**
 * The request handler: internal routes, Host routing, body limits, the
 * transform and the invocation, one access-log line per request. A plain
 * `(Request, info) => Promise<Response>`, testable without a socket.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { admitRequest, ROUTED_METHODS } from "../route/edge.ts";
import { type Claim, InFlightBudget } from "./admission.ts";
import { errorResponse, LrpError, toLrpError } from "../errors.ts";
import { encodeEvent, SPLICE_FROM } from "../wire/formats.ts";
import { payloadBytes } from "../wire/payload.ts";
import { type ForwardTrust, isTrustedPeer, parseCidr, routingHost } from "../route/forwarded.ts";
import { internalAccess, isServerWideOptions } from "../route/internal.ts";
import type { Invoker, InvokeResult } from "../invoke/types.ts";
import type { Logger } from "../obs/log.ts";
import type { LrpMetrics } from "../obs/metrics.ts";
import type { Router } from "../route/router.ts";
import type { Rule } from "../route/rule.ts";
import { selectFunction } from "../route/select.ts";
import { traceInvocation } from "../obs/tracing.ts";
import { applyGateway } from "../wire/gateway.ts";
import { withCors } from "../wire/cors.ts";
import { gatewayStep } from "./gateway_step.ts";
import {
  type IncomingRequest,
  isTextContentType,
  type RequestMeta,
  requestToEvent,
} from "../wire/request.ts";
import type { EventV2 } from "../wire/event.ts";
import { type HeaderLimits, KnownLengthResponse } from "../wire/response.ts";
import { normalizeHost, splitTarget } from "../wire/target.ts";
import { Deadlines } from "../invoke/deadline.ts";
import type { InspectRecorder } from "../obs/inspect.ts";
import { createInspectRoutes } from "./inspect_routes.ts";
import { readBody, releaseBody } from "./body.ts";
import { invokeWithTimeout } from "./invoke_call.ts";
import { logStream, toResponse } from "./result_response.ts";
import { newTraceId, requestIds } from "./ids.ts";

export { readBody } from "./body.ts";
export { toResponse } from "./result_response.ts";
export { newTraceId } from "./ids.ts";

/** What the handler needs. */
export interface HandlerDeps {
  config: Config;
  router: Router<Invoker>;
  log: Logger;
  /** lrp's version, reported by `/healthz`. */
  version: string;
  /** Port actually listened on (for `x-forwarded-port`). */
  listenPort: number;
  /** Clock and id source; tests pin them. */
  now?: () => number;
  newRequestId?: () => string;
  /** Prometheus metrics: served at `{prefix}/metrics` (when set) and told about every request. */
  metrics?: LrpMetrics | undefined;
  /** The process-wide in-flight bound, shared across reloads; one from `config` when absent. */
  budget?: InFlightBudget | undefined;
  /** The inspector's recorder: when set, `{prefix}/inspect` is served and every routed request recorded. */
  inspector?: InspectRecorder | undefined;
}

/** The connection facts the handler uses (a subset of `Deno.ServeHandlerInfo`). */
export interface ConnInfo {
  remoteAddr: { hostname: string } | Deno.Addr;
  /** lrp's server calls `done` once the answer is written (or the write failed). */
  afterWrite?: (done: () => void) => void;
}

/** A request handler. */
export type Handler = (request: IncomingRequest, info: ConnInfo) => Promise<Response>;

/**
 * Creates the handler. Steps, in order:
 * 1. internal routes (`{prefix}/ping`, `/healthz`, `/metrics`) answer for any Host, or only
 *    those `internal_hosts` allows (anyone else is routed as usual); `OPTIONS *` is lrp's own;
 * 2. the method and Host are admitted ({@linkcode admitRequest}: 501, 400),
 *    then the Host (or, from a trusted proxy, the forwarded host) picks a
 *    route, or 404 naming the host; an aws rule then picks the function (host
 *    placeholders or a header) within its allow-list (403 otherwise);
 * 3. the body is read with the size cap (413 before anything is invoked), its
 *    bytes held in the in-flight bound as they arrive; a request slot is taken after;
 * 4. the request becomes an event in the rule's payload format (2.0, 1.0,
 *    ALB) and is invoked, bounded by the
 *    upstream timeout (504) and cancelled if the client goes away;
 * 5. the result (or a streaming prelude body) becomes the response; any
 *    failure becomes the JSON error shape with its status;
 * 6. one access-log line.
 */
export function createHandler(deps: HandlerDeps): Handler {
  const { config, router, log } = deps;
  const now = deps.now ?? Date.now;
  const newRequestId = deps.newRequestId ?? requestIds();
  const prefix = config.internalRoutePrefix;
  const pingPath = `${prefix}/ping`;
  const healthPath = `${prefix}/healthz`;
  const metricsPath = deps.metrics ? `${prefix}/metrics` : undefined;
  const startedAt = now();
  // Every invocation's upstream timeout on one timer (the same length for the whole generation).
  const deadlines = new Deadlines(config.upstreamTimeoutMs);
  const budget = deps.budget ??
    new InFlightBudget({ maxRequests: config.maxInFlight, maxBytes: config.maxInFlightBytes });
  const headerLimits: HeaderLimits = {
    maxCount: config.maxResultHeaders,
    maxBytes: config.maxResultHeaderBytes,
  };
  const inspector = deps.inspector;
  const inspectRoutes = inspector && createInspectRoutes({
    prefix,
    recorder: inspector,
    router,
    config,
    now,
    newRequestId,
    invoke: (target, call, signal) => invokeWithTimeout(target, call, signal, config, deadlines),
    toResponse: (result, method, format) => toResponse(result, method, format, headerLimits),
  });
  const trust: ForwardTrust = {
    all: config.trustForwardedHost,
    proxies: config.trustedProxies.map(parseCidr),
  };

  const mayReachInternal = internalAccess(config.internalHosts);
  const internal = (path: string, method: string, host: string, peer: string): Response | undefined => {
    if (path !== pingPath && path !== healthPath && path !== metricsPath) return undefined;
    // Anyone else is routed as usual: the function behind the Host, or 404.
    if (!mayReachInternal(host, peer)) return undefined;
    if (method !== "GET" && method !== "HEAD") {
      throw new LrpError(
        "method_not_allowed",
        `Cannot ${method} ${path}: internal routes answer GET and HEAD`,
        {
          headers: { allow: "GET, HEAD" },
        },
      );
    }
    if (path === pingPath) return new Response("pong", { headers: { "content-type": "text/plain" } });
    if (path === metricsPath) return deps.metrics!.response();
    return Response.json({
      status: "ok",
      version: deps.version,
      uptimeSeconds: Math.round((now() - startedAt) / 1000),
      routes: router.routes.length,
    });
  };

  return async (request, info) => {
    const t0 = performance.now();
    const timeEpoch = now();
    const requestId = newRequestId();
    const { path } = splitTarget(request.url);
    const sourceIp = "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "";
    const host = routingHost(request.headers, sourceIp, trust);
    const entry: Record<string, unknown> = { requestId, host, method: request.method, path };
    let response: Response;
    let result: InvokeResult | undefined;
    let route = "unrouted";
    let bytesIn = 0;
    let upstreamMs: number | undefined;
    let claim: Claim | undefined;
    let body: Uint8Array | null = null;
    let payload: Uint8Array | undefined;
    let rawResult: Uint8Array | undefined;
    let pathParameters: Record<string, string> | undefined;
    // Whether the invocation started, and whether the invoker said the function took the event.
    let invoked = false;
    let heard = false;
    let ruleKind: Rule["kind"] | undefined;
    try {
      // The inspector's own requests are internal: answered here, never recorded.
      const inspecting = inspectRoutes?.owns(path, request.headers.get("host"), sourceIp) === true;
      if (inspecting) route = "internal";
      const own = inspecting
        ? await inspectRoutes!.handle(request, path, sourceIp)
        : isServerWideOptions(request.method, request.url)
        ? new Response(null, { headers: { allow: ALLOW } })
        : internal(path, request.method, normalizeHost(request.headers.get("host")), sourceIp);
      // `routed` ends early for the gateway's own answers (a preflight, no route).
      routed: if (own) {
        entry.target = route = "internal";
        response = own;
      } else {
        // Admission validates method and Host; the route comes from the (maybe forwarded) routing host.
        admitRequest(request);
        claim = budget.claim();
        const found = router.match(host);
        if (!found) {
          throw new LrpError("route_not_found", `Cannot route host "${host}": no rule names it`);
        }
        route = found.rule.hostname;
        // A host with routes or CORS: a preflight, or a request no route matches, is answered here.
        const step = gatewayStep(found, request.method, path, request.headers);
        if (step.answer) {
          Object.assign(entry, step.log);
          response = step.answer;
          break routed;
        }
        const matched = step.route;
        const gateway = step.facts;
        if (gateway) entry.route = gateway.routeKey;
        pathParameters = gateway?.pathParameters;
        ruleKind = matched.rule.kind;
        entry.target = matched.target.describe;
        const choice = matched.rule.kind === "aws"
          ? selectFunction(matched.rule, matched.params, request.headers, host)
          : undefined;
        if (choice) entry.function = choice.functionName + (choice.qualifier ? `:${choice.qualifier}` : "");
        // No body (a GET): no call, no promise, no turn.
        body = request.body === null
          ? null
          : await readBody(request, config.maxBodyBytes, config.bodyTimeoutMs, claim.hold);
        // A slot only once the body is here: a slow client never holds one an invocation needs.
        claim.admit();
        bytesIn = body?.length ?? 0;
        const meta: RequestMeta = {
          requestId,
          timeEpoch,
          sourceIp,
          listenPort: deps.listenPort,
          traceId: newTraceId(timeEpoch),
          trustedPeer: isTrustedPeer(sourceIp, trust),
        };
        // A large binary body of a 2.0 rule is never turned into base64 text: it is spliced into the
        // payload as it is written (docs/performance.md, round 4). The inspector keeps whole events.
        const splice = !inspector && body !== null && body.length >= SPLICE_FROM &&
            (matched.rule.payloadFormat ?? "2.0") === "2.0" &&
            !isTextContentType(request.headers.get("content-type"))
          ? body
          : undefined;
        let event: EventV2 | undefined = requestToEvent(request, splice ? null : body, meta);
        if (gateway) applyGateway(event, gateway);
        if (splice) event.isBase64Encoded = true;
        const eventHeaders = event.headers;
        // A large body lives on as the event's base64 text, then as the payload bytes: each earlier
        // copy is let go of as soon as the next exists (the inspector alone keeps the raw body).
        if (!inspector) body = null;
        const invokedAt = performance.now();
        try {
          // Tracing may add `traceparent` to the event: encode it afterwards.
          result = await traceInvocation(
            {
              rule: matched.rule,
              target: matched.target.describe,
              functionName: choice?.functionName,
              qualifier: choice?.qualifier,
            },
            eventHeaders,
            () => {
              const bytes = encodeEvent(matched.rule, event!, splice, gateway);
              event = undefined;
              if (inspector) payload = payloadBytes(bytes);
              invoked = true;
              return invokeWithTimeout(
                matched.target,
                {
                  payload: bytes,
                  traceId: eventHeaders["x-amzn-trace-id"],
                  functionName: choice?.functionName,
                  qualifier: choice?.qualifier,
                  requestId,
                  onReached: (id) => {
                    heard = true;
                    if (id !== undefined) entry.functionRequestId = id;
                  },
                },
                request.signal,
                config,
                deadlines,
              );
            },
          );
        } finally {
          upstreamMs = performance.now() - invokedAt;
        }
        if (result.functionRequestId !== undefined) entry.functionRequestId = result.functionRequestId;
        // The invocation is over, so nothing reads the spliced body again.
        if (splice) releaseBody(splice);
        if (result.body instanceof ReadableStream) result.body = logStream(result.body, log, entry);
        else {
          rawResult = result.body;
          // Held from its arrival until written; past the bound it is dropped (503), not piled up.
          claim.holdAnswer(rawResult.length);
        }
        response = toResponse(result, request.method, matched.rule, headerLimits);
        if (step.cors) response = withCors(response, step.cors, request.headers.get("origin"));
      }
    } catch (err) {
      const e = toLrpError(err);
      if (request.signal.aborted) entry.clientClosed = true;
      entry.error = e.code;
      entry.errorMessage = e.message;
      if (e.code === "internal") {
        log.error("bug: unexpected exception", { requestId, error: String(e.detail) });
      }
      response = errorResponse(e, { requestId, exposeDetails: config.errorDetails });
    }
    // The answer's bytes stay held until lrp's server has written it: a client that does not read holds them.
    if (claim && info.afterWrite) {
      claim.finish();
      info.afterWrite(claim.release);
    } else claim?.release();
    entry.status = response.status;
    entry.durationMs = round(performance.now() - t0);
    if (result?.queueWaitMs !== undefined) entry.queueWaitMs = round(result.queueWaitMs);
    if (result?.executedVersion) entry.executedVersion = result.executedVersion;
    if (entry.clientClosed) log.info("request cancelled by client", entry);
    else if (response.status >= 500) log.warn("request", entry);
    else log.info("request", entry);
    if (deps.metrics) {
      response = deps.metrics.observe({
        // A routed request counts under its host and route key: a bounded set, as the configuration names them.
        route: entry.route === undefined ? route : `${route} ${entry.route}`,
        status: response.status,
        durationMs: entry.durationMs as number,
        upstreamMs,
        queueWaitMs: result?.queueWaitMs,
        error: entry.error as string | undefined,
        bytesIn,
        streamed: result?.body instanceof ReadableStream,
        bytesOut: response instanceof KnownLengthResponse ? response.bodyLength : undefined,
      }, response);
    }
    if (inspector && route !== "internal") {
      const reached = reachedFunction(invoked, heard, ruleKind, result, entry.error);
      const facts = {
        request,
        entry,
        time: timeEpoch,
        sourceIp,
        route,
        pathParameters,
        body,
        payload,
        result,
        rawResult,
        reached,
      };
      response = (await inspector.record({ ...facts, upstreamMs }, response)).response;
    }
    return response;
  };
}

/** The answer to `OPTIONS *`: the methods lrp passes on. */
const ALLOW = [...ROUTED_METHODS].join(", ");
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
 * Whether the function took the event, for the inspector: `undefined` when
 * lrp cannot know (it stopped waiting for an RIE or the Invoke API).
 * `functions:` rules report it themselves.
 */
function reachedFunction(
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

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
