/**
 * The request handler: internal routes, Host routing, body limits, the
 * transform and the invocation, one access-log line per request. A plain
 * `(Request, info) => Promise<Response>`, testable without a socket.
 *
 * The steps are named functions, in the order a request meets them:
 * {@linkcode admit}, {@linkcode route}, {@linkcode read}, {@linkcode invoke},
 * {@linkcode respond}, {@linkcode log}. Each reads and fills one
 * {@linkcode Passage}, the request's record on its way.
 *
 * @module
 */

import type { Handler } from "../http/server.ts";
import { releaseBody } from "../http/body_limits.ts";
import { admitRequest, ROUTED_METHODS } from "../route/edge.ts";
import type { Claim } from "./admission.ts";
import { errorResponse, LrpError, toLrpError } from "../errors.ts";
import { encodeEvent, SPLICE_FROM } from "../wire/formats.ts";
import { payloadBytes } from "../wire/payload.ts";
import { isTrustedPeer, routingHost } from "../route/forwarded.ts";
import { isServerWideOptions } from "../route/internal.ts";
import type { Invoker, InvokeResult } from "../invoke/types.ts";
import type { Rule } from "../route/rule.ts";
import { type FunctionChoice, selectFunction } from "../route/select.ts";
import { traceInvocation } from "../obs/tracing.ts";
import { applyGateway } from "../wire/gateway.ts";
import { withCors } from "../wire/cors.ts";
import { gatewayStep, type Routed } from "./gateway_step.ts";
import {
  type IncomingRequest,
  isTextContentType,
  type RequestMeta,
  requestToEvent,
} from "../wire/request.ts";
import type { EventV2 } from "../wire/event.ts";
import { KnownLengthResponse } from "../wire/response.ts";
import { normalizeHost, splitTarget } from "../wire/target.ts";
import { reachedFunction } from "./exchange.ts";
import { createScope, type HandlerDeps, type Scope } from "./scope.ts";
import { readBody } from "./body.ts";
import { invokeWithTimeout } from "./invoke_call.ts";
import { logStream, toResponse } from "./result_response.ts";
import { newTraceId } from "./ids.ts";

export type { ConnInfo, Handler } from "../http/server.ts";
export type { HandlerDeps } from "./scope.ts";
export { readBody } from "./body.ts";
export { toResponse } from "./result_response.ts";
export { newTraceId } from "./ids.ts";

/** One request on its way through the steps: what each learns, for the next ones and for the log. */
interface Passage {
  readonly request: IncomingRequest;
  readonly t0: number;
  readonly timeEpoch: number;
  readonly requestId: string;
  readonly path: string;
  readonly sourceIp: string;
  readonly host: string;
  /** The access-log line. */
  readonly entry: Record<string, unknown>;
  route: string;
  claim?: Claim | undefined;
  body: Uint8Array | null;
  bytesIn: number;
  upstreamMs?: number | undefined;
  result?: InvokeResult | undefined;
  payload?: Uint8Array | undefined;
  rawResult?: Uint8Array | undefined;
  pathParameters?: Record<string, string> | undefined;
  /** Whether the invocation started, and whether the invoker said the function took the event. */
  invoked: boolean;
  heard: boolean;
  ruleKind?: Rule["kind"] | undefined;
  /** The function an aws rule invokes for this request. */
  choice?: FunctionChoice | undefined;
}

/**
 * Creates the handler. Steps, in order:
 * 1. own routes: internal ones (`{prefix}/ping`, `/healthz`, `/metrics`) answer for any Host, or only
 *    those `internal_hosts` allows (anyone else is routed as usual); `OPTIONS *` is lrp's own; the
 *    inspector's, when on;
 * 2. {@linkcode admit}: the method and Host ({@linkcode admitRequest}: 501, 400), a claim on the in-flight bound;
 * 3. {@linkcode route}: the Host (or, from a trusted proxy, the forwarded host) picks a
 *    route, or 404 naming the host; an aws rule then picks the function (host
 *    placeholders or a header) within its allow-list (403 otherwise);
 * 4. {@linkcode read}: the body is read with the size cap (413 before anything is invoked), its
 *    bytes held in the in-flight bound as they arrive; a request slot is taken after;
 * 5. {@linkcode invoke}: the request becomes an event in the rule's payload format (2.0, 1.0,
 *    ALB) and is invoked, bounded by the upstream timeout (504) and cancelled if the client goes away;
 * 6. {@linkcode respond}: the result (or a streaming prelude body) becomes the response; any
 *    failure becomes the JSON error shape with its status;
 * 7. {@linkcode log}: one access-log line, the metrics, the recorder.
 */
export function createHandler(deps: HandlerDeps): Handler {
  const scope = createScope(deps);
  return async (request, info) => {
    const p = arrive(scope, request, "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "");
    let response: Response;
    try {
      const own = ownAnswer(scope, p);
      if (own) response = own instanceof Response ? own : await own;
      else {
        admit(scope, p);
        const to = route(scope, p);
        // A gateway's own answer (a preflight, no route) ends the request here.
        if (to instanceof Response) response = to;
        else {
          const reading = read(scope, p);
          if (reading) await reading;
          response = respond(scope, p, to, await invoke(scope, p, to));
        }
      }
    } catch (err) {
      response = failed(scope, p, err);
    }
    // The answer's bytes stay held until lrp's server has written it: a client that does not read holds them.
    if (p.claim && info.afterWrite) {
      p.claim.finish();
      info.afterWrite(p.claim.release);
    } else p.claim?.release();
    return log(scope, p, response);
  };
}

/** The request's passage begins: its id, clock, peer and routing host. */
function arrive(s: Scope, request: IncomingRequest, sourceIp: string): Passage {
  const t0 = performance.now();
  const timeEpoch = s.now();
  const requestId = s.newRequestId();
  const { path } = splitTarget(request.url);
  const host = routingHost(request.headers, sourceIp, s.trust);
  return {
    request,
    t0,
    timeEpoch,
    requestId,
    path,
    sourceIp,
    host,
    entry: { requestId, host, method: request.method, path },
    route: "unrouted",
    body: null,
    bytesIn: 0,
    invoked: false,
    heard: false,
  };
}

/**
 * lrp's own answers: the inspector's routes (never recorded), `OPTIONS *`,
 * the internal routes; `undefined` for a request to route. Only the
 * inspector's answer is a promise: any other request takes no turn here.
 */
function ownAnswer(s: Scope, p: Passage): Response | Promise<Response> | undefined {
  const { request, path, sourceIp } = p;
  if (s.ownRoutes?.owns(path, request.headers.get("host"), sourceIp) === true) {
    p.route = "internal";
    return s.ownRoutes.handle(request, path, sourceIp).then((own) => {
      p.entry.target = "internal";
      return own;
    });
  }
  const own = isServerWideOptions(request.method, request.url)
    ? new Response(null, { headers: { allow: ALLOW } })
    : s.internal(path, request.method, normalizeHost(request.headers.get("host")), sourceIp);
  if (own) p.entry.target = p.route = "internal";
  return own;
}

/** Admission validates method and Host, and opens the request's claim on the in-flight bound. */
function admit(s: Scope, p: Passage): void {
  admitRequest(p.request);
  p.claim = s.budget.claim();
}

/** The rule for the (maybe forwarded) routing host, its route and, for an aws rule, the function. */
function route(s: Scope, p: Passage): Routed<Invoker> | Response {
  const { request, host, entry } = p;
  const found = s.deps.router.match(host);
  if (!found) throw new LrpError("route_not_found", `Cannot route host "${host}": no rule names it`);
  p.route = found.rule.hostname;
  // A host with routes or CORS: a preflight, or a request no route matches, is answered here.
  const step = gatewayStep(found, request.method, p.path, request.headers);
  if (step.answer) {
    Object.assign(entry, step.log);
    return step.answer;
  }
  const matched = step.route;
  if (step.facts) entry.route = step.facts.routeKey;
  p.pathParameters = step.facts?.pathParameters;
  p.ruleKind = matched.rule.kind;
  entry.target = matched.target.describe;
  const choice = matched.rule.kind === "aws"
    ? selectFunction(matched.rule, matched.params, request.headers, host)
    : undefined;
  if (choice) entry.function = choice.functionName + (choice.qualifier ? `:${choice.qualifier}` : "");
  p.choice = choice;
  return step;
}

/**
 * The body, whole, within its limits; then a slot: a slow client never holds
 * one an invocation needs. No body (a GET): no promise, no turn.
 */
function read(s: Scope, p: Passage): Promise<void> | undefined {
  const { request, claim } = p;
  if (request.body === null) return void slot(p);
  return readBody(request, s.config.maxBodyBytes, s.config.bodyTimeoutMs, claim!.hold).then((body) => {
    p.body = body;
    slot(p);
  });
}

function slot(p: Passage): void {
  p.claim!.admit();
  p.bytesIn = p.body?.length ?? 0;
}

/** The event in the rule's format, invoked within the upstream timeout, traced. */
async function invoke(s: Scope, p: Passage, to: Routed<Invoker>): Promise<InvokeResult> {
  const { request, requestId, timeEpoch, sourceIp, entry, choice } = p;
  const { route: matched, facts: gateway } = to;
  const recorder = s.recorder;
  const meta: RequestMeta = {
    requestId,
    timeEpoch,
    sourceIp,
    listenPort: s.deps.listenPort,
    traceId: newTraceId(timeEpoch),
    trustedPeer: isTrustedPeer(sourceIp, s.trust),
  };
  // A large binary body of a 2.0 rule is never turned into base64 text: it is spliced into the
  // payload as it is written (docs/performance.md, round 4). The recorder keeps whole events.
  const body = p.body;
  const splice = !recorder && body !== null && body.length >= SPLICE_FROM &&
      (matched.rule.payloadFormat ?? "2.0") === "2.0" &&
      !isTextContentType(request.headers.get("content-type"))
    ? body
    : undefined;
  let event: EventV2 | undefined = requestToEvent(request, splice ? null : body, meta);
  if (gateway) applyGateway(event, gateway);
  if (splice) event.isBase64Encoded = true;
  const eventHeaders = event.headers;
  // A large body lives on as the event's base64 text, then as the payload bytes: each earlier
  // copy is let go of as soon as the next exists (the recorder alone keeps the raw body).
  if (!recorder) p.body = null;
  const invokedAt = performance.now();
  let result: InvokeResult;
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
        if (recorder) p.payload = payloadBytes(bytes);
        p.invoked = true;
        return invokeWithTimeout(
          matched.target,
          {
            payload: bytes,
            traceId: eventHeaders["x-amzn-trace-id"],
            functionName: choice?.functionName,
            qualifier: choice?.qualifier,
            requestId,
            onReached: (id) => {
              p.heard = true;
              if (id !== undefined) entry.functionRequestId = id;
            },
          },
          request.signal,
          s.config,
          s.deadlines,
        );
      },
    );
  } finally {
    p.upstreamMs = performance.now() - invokedAt;
  }
  p.result = result;
  if (result.functionRequestId !== undefined) entry.functionRequestId = result.functionRequestId;
  // The invocation is over, so nothing reads the spliced body again.
  if (splice) releaseBody(splice);
  return result;
}

/** The result as the client's response, with the route's CORS. */
function respond(s: Scope, p: Passage, to: Routed<Invoker>, result: InvokeResult): Response {
  if (result.body instanceof ReadableStream) result.body = logStream(result.body, s.deps.log, p.entry);
  else {
    p.rawResult = result.body;
    // Held from its arrival until written; past the bound it is dropped (503), not piled up.
    p.claim!.holdAnswer(p.rawResult.length);
  }
  const response = toResponse(result, p.request.method, to.route.rule, s.headerLimits);
  return to.cors ? withCors(response, to.cors, p.request.headers.get("origin")) : response;
}

/** Any failure on the way: lrp's JSON error shape with its status. */
function failed(s: Scope, p: Passage, err: unknown): Response {
  const e = toLrpError(err);
  const { entry, requestId } = p;
  if (p.request.signal.aborted) entry.clientClosed = true;
  entry.error = e.code;
  entry.errorMessage = e.message;
  if (e.code === "internal") {
    s.deps.log.error("bug: unexpected exception", { requestId, error: String(e.detail) });
  }
  return errorResponse(e, { requestId, exposeDetails: s.config.errorDetails });
}

/**
 * One access-log line; the metrics; the recorder, for a routed request. Only
 * recording returns a promise: without a recorder the answer takes no turn here.
 */
function log(s: Scope, p: Passage, response: Response): Response | Promise<Response> {
  const { entry, result } = p;
  const deps = s.deps;
  entry.status = response.status;
  entry.durationMs = round(performance.now() - p.t0);
  if (result?.queueWaitMs !== undefined) entry.queueWaitMs = round(result.queueWaitMs);
  if (result?.executedVersion) entry.executedVersion = result.executedVersion;
  if (entry.clientClosed) deps.log.info("request cancelled by client", entry);
  else if (response.status >= 500) deps.log.warn("request", entry);
  else deps.log.info("request", entry);
  if (deps.metrics) {
    response = deps.metrics.observe({
      // A routed request counts under its host and route key: a bounded set, as the configuration names them.
      route: entry.route === undefined ? p.route : `${p.route} ${entry.route}`,
      status: response.status,
      durationMs: entry.durationMs as number,
      upstreamMs: p.upstreamMs,
      queueWaitMs: result?.queueWaitMs,
      error: entry.error as string | undefined,
      bytesIn: p.bytesIn,
      streamed: result?.body instanceof ReadableStream,
      bytesOut: response instanceof KnownLengthResponse ? response.bodyLength : undefined,
    }, response);
  }
  if (s.recorder && p.route !== "internal") {
    const facts = {
      request: p.request,
      entry,
      time: p.timeEpoch,
      sourceIp: p.sourceIp,
      route: p.route,
      pathParameters: p.pathParameters,
      body: p.body,
      payload: p.payload,
      result,
      rawResult: p.rawResult,
      reached: reachedFunction(p.invoked, p.heard, p.ruleKind, result, entry.error),
      upstreamMs: p.upstreamMs,
    };
    return s.recorder.record(facts, response).then((recorded) => recorded.response);
  }
  return response;
}

/** The answer to `OPTIONS *`: the methods lrp passes on. */
const ALLOW = [...ROUTED_METHODS].join(", ");
function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
