/**
 * lrp's own Prometheus metric set ({@linkcode LrpMetrics}), fed by the request
 * handler; the registry and metric types are in `prometheus.ts`.
 *
 * @module
 */

export * from "./prometheus.ts";
import {
  type Counter,
  type Gauge,
  type Histogram,
  type Labels,
  METRICS_CONTENT_TYPE,
  Registry,
} from "./prometheus.ts";

/** What the handler reports about one finished request. */
export interface RequestDone {
  /** The rule's host name (then a space and the route key on a host with routes); `internal` for lrp's own routes; `unrouted` when no rule matched. */
  route: string;
  status: number;
  /** Whole request, ms. */
  durationMs: number;
  /** The invocation alone (queue wait included), ms; absent when nothing was invoked. */
  upstreamMs?: number | undefined;
  /** Wait for a local endpoint slot, ms. */
  queueWaitMs?: number | undefined;
  /** lrp's error code on failure (`function_error`, `queue_full`, …). */
  error?: string | undefined;
  /** Request body bytes read. */
  bytesIn: number;
  /** The response body streams from the function (its bytes are counted as they go out). */
  streamed?: boolean;
  /** Body bytes of a buffered response lrp built from a result, when known. */
  bytesOut?: number | undefined;
}

/** Options of {@linkcode LrpMetrics}. */
export interface MetricsOptions {
  /** Label the queue series with endpoint URLs (`metrics_endpoint_labels`). */
  endpointLabels?: boolean;
  /** Function output lines the log writer dropped so far (lrp's own lines are never dropped). */
  droppedLogLines?: () => number;
}

/** A local endpoint's queue, as metrics see it (a `SlotQueue`'s stats). */
export interface QueueSource {
  route: string;
  endpoint: string;
  stats: { inFlight: number; waiting: number };
}

/** Each queue once per route: rules with routes on one host may share an endpoint's queue. */
function* distinct(queues: Iterable<QueueSource>): Iterable<QueueSource> {
  const seen = new Set<string>();
  for (const q of queues) {
    const key = `${q.route} ${q.endpoint}`;
    if (!seen.has(key)) yield q;
    seen.add(key);
  }
}

/**
 * lrp's metrics. The handler calls {@linkcode LrpMetrics.observe} once per
 * request; the app counts in-flight requests; queue gauges are read from the
 * current routes at each scrape, so they follow reloads.
 */
export class LrpMetrics {
  readonly registry: Registry = new Registry();
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly upstream: Histogram;
  readonly queueWait: Histogram;
  readonly errors: Counter;
  readonly inFlight: Gauge;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly reloads: Counter;

  /**
   * Creates the metric set; `queues` lists the current local endpoints at scrape time. Queue gauges
   * carry endpoint URLs (internal hosts and ports) only with `endpointLabels`.
   */
  constructor(version: string, queues: () => Iterable<QueueSource>, opts: MetricsOptions = {}) {
    const r = this.registry;
    r.gauge("lrp_build_info", "lrp's version; always 1", ["version"]).set({ version }, 1);
    this.requests = r.counter(
      "lrp_requests_total",
      "Requests answered, by route (rule host name; with the route key on hosts with routes) and status class",
      ["route", "code"],
    );
    this.duration = r.histogram(
      "lrp_request_duration_seconds",
      "Time from request to response headers, by route",
      ["route"],
    );
    this.upstream = r.histogram(
      "lrp_upstream_duration_seconds",
      "Time spent invoking the function (queue wait included), by route",
      ["route"],
    );
    this.queueWait = r.histogram(
      "lrp_queue_wait_seconds",
      "Time waiting for a local endpoint slot, by route",
      ["route"],
    );
    this.errors = r.counter(
      "lrp_invocation_errors_total",
      "Failed invocations by route and cause (lrp's error code); requests that never invoked are not counted",
      ["route", "cause"],
    );
    this.inFlight = r.gauge("lrp_in_flight_requests", "Requests being handled now");
    this.inFlight.set({}, 0);
    const queueLabels = opts.endpointLabels ? ["route", "endpoint"] : ["route"];
    // Rules with routes share a host: the queues of one host add up (each queue is listed once).
    const labelsOf = (q: QueueSource): Labels =>
      opts.endpointLabels ? { route: q.route, endpoint: q.endpoint } : { route: q.route };
    r.gauge("lrp_queue_depth", "Requests waiting for a local endpoint slot", queueLabels, (g) => {
      for (const q of distinct(queues())) g.add(labelsOf(q), q.stats.waiting);
    });
    r.gauge(
      "lrp_queue_in_flight",
      "Invocations running on a local endpoint (slots taken)",
      queueLabels,
      (g) => {
        for (const q of distinct(queues())) g.add(labelsOf(q), q.stats.inFlight);
      },
    );
    this.bytesIn = r.counter("lrp_request_bytes_total", "Request body bytes received, by route", ["route"]);
    this.bytesOut = r.counter("lrp_response_bytes_total", "Response body bytes sent, by route", ["route"]);
    this.reloads = r.counter("lrp_config_reloads_total", "Configuration reloads by result", ["result"]);
    const dropped = opts.droppedLogLines ?? (() => 0);
    r.counter(
      "lrp_log_lines_dropped_total",
      "Log lines dropped because the log writer fell behind, by source: function output only, never lrp's own lines",
      ["source"],
      (c) => {
        c.set({ source: "lrp" }, 0);
        c.set({ source: "function" }, dropped());
      },
    );
  }

  /**
   * Records a finished request and returns the response to send: the same
   * one when lrp knows its body length; otherwise (a streamed body) with the
   * body wrapped to count the bytes actually sent.
   */
  observe(done: RequestDone, response: Response): Response {
    const route = done.route;
    this.requests.inc({ route, code: `${Math.floor(done.status / 100)}xx` });
    this.duration.observe({ route }, done.durationMs / 1000);
    if (done.upstreamMs !== undefined) this.upstream.observe({ route }, done.upstreamMs / 1000);
    if (done.queueWaitMs !== undefined) this.queueWait.observe({ route }, done.queueWaitMs / 1000);
    // Only failures of an invocation: a 404, 400 or 413 never reached a function.
    if (done.error !== undefined && done.upstreamMs !== undefined) {
      this.errors.inc({ route, cause: done.error });
    }
    if (done.bytesIn > 0) this.bytesIn.inc({ route }, done.bytesIn);
    // A known length first: reading `response.body` would make a stream of a buffered body.
    const known = done.bytesOut;
    if (known !== undefined) {
      if (known > 0) this.bytesOut.inc({ route }, known);
      return response;
    }
    // lrp's own small answers (errors, internal routes) are not counted.
    if (!done.streamed || !response.body) return response;
    const counter = this.bytesOut;
    const labels = { route };
    // Counted per chunk, so a response cut short by the client counts what went out.
    const counting = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counter.inc(labels, chunk.byteLength);
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counting), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** The `/metrics` response. */
  response(): Response {
    return new Response(this.registry.render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
  }
}
