/**
 * The inspector's recorder: a ring buffer of the most recent exchanges —
 * the request as received, the exact event bytes sent, the raw result, the
 * response sent, timings and the error — each body cut at a limit, so
 * memory stays within `capacity × 4 × bodyLimit` plus headers however large
 * the traffic. Subscribers (the page's event streams) hear of each new
 * exchange. It outlives configuration reloads; the clock is passed in.
 *
 * @module
 */

import type { InvokeResult } from "../invoke/types.ts";
import type { StreamingPrelude } from "../wire/event.ts";
import {
  capture,
  type Captured,
  redactedCapture,
  SECRET_HEADERS,
  secretNames,
  type SecretTest,
} from "./inspect_view.ts";
import type { IncomingRequest } from "../wire/request.ts";

/** The recorder's settings (reloadable). */
export interface InspectOptions {
  /** Exchanges kept. */
  capacity: number;
  /** Bytes kept of each body, event and result. */
  bodyLimit: number;
  /** Header names hidden besides the built-in secret ones. */
  redact: readonly string[];
  /** Show secrets instead of hiding them. */
  showSecrets: boolean;
}

/** One recorded exchange. Mutable only while its streamed response body is still flowing. */
export interface Exchange {
  /** Increasing from 1 for the life of the recorder. */
  id: number;
  /** When the request arrived, epoch ms. */
  time: number;
  requestId: string;
  /** The invocation's id as the function saw it (`awsRequestId`), when known. */
  functionRequestId?: string | undefined;
  /** Whether the function took the event; `undefined` when lrp cannot know. */
  reached?: boolean | undefined;
  host: string;
  method: string;
  /** Path and query as received. */
  target: string;
  sourceIp: string;
  /** The rule's hostname, or `unrouted`. */
  route: string;
  /** The API Gateway route key the request matched, on a host with routes. */
  routeKey?: string | undefined;
  /** That route's path parameters, as the event carries them. */
  pathParameters?: Record<string, string> | undefined;
  /** The invoker's description (`local http://…`, `aws …`), when routed. */
  invoker?: string | undefined;
  /** The function an aws rule chose, `name[:qualifier]`. */
  function?: string | undefined;
  /** Request headers as received (secrets included: they are hidden when shown, never here). */
  requestHeaders: [string, string][];
  requestBody?: Captured | undefined;
  /** The event bytes sent to the function, as sent. */
  event?: Captured | undefined;
  /** The raw result: buffered bytes, or a streamed result's prelude and first body bytes. */
  result?: {
    body?: Captured | undefined;
    streamed: boolean;
    prelude?: StreamingPrelude | undefined;
    functionError?: string | undefined;
    executedVersion?: string | undefined;
  } | undefined;
  response: {
    status: number;
    headers: [string, string][];
    body?: Captured | undefined;
    /** A streamed body is still being sent (its preview grows until the limit). */
    streaming: boolean;
  };
  timings: { totalMs: number; queueWaitMs?: number | undefined; upstreamMs?: number | undefined };
  error?: { code: string; message: string } | undefined;
  /** The exchange this one replayed. */
  replayOf?: number | undefined;
}

/** What the handler knows about one finished request: references only, copied here. */
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
  /** For a replay: the original's request side, reused as is. */
  replayOf?: Exchange | undefined;
}

/** A summary line for the page's list. */
export interface ExchangeSummary {
  id: number;
  time: number;
  /** lrp's request id and the function's, so that the list filter finds an exchange by either. */
  requestId: string;
  functionRequestId?: string | undefined;
  host: string;
  method: string;
  target: string;
  route: string;
  routeKey?: string | undefined;
  invoker?: string | undefined;
  status: number;
  durationMs: number;
  error?: string | undefined;
  replayOf?: number | undefined;
}

/** Called with each new exchange, or `undefined` when the recorder closes. */
export type Subscriber = (exchange: Exchange | undefined) => void;

/** The recorder. */
export class InspectRecorder {
  /** Identifies this recorder's life: the page starts afresh when it changes (lrp restarted). */
  readonly boot: string = crypto.randomUUID();
  #options: InspectOptions;
  #secret: SecretTest | undefined;
  /** Lower-case secret header names, for a cheap look before parsing a long event. */
  #secretNames: string[] = [];
  #ring: Exchange[] = [];
  #nextId = 1;
  #subscribers = new Set<Subscriber>();

  /** Creates an empty recorder. */
  constructor(options: InspectOptions) {
    this.#options = options;
    this.#secret = options.showSecrets ? undefined : secretNames(options.redact);
    this.#secretNames = [...SECRET_HEADERS, ...options.redact];
  }

  /** The settings in force. */
  get options(): InspectOptions {
    return this.#options;
  }

  /** The secret-header test in force; `undefined` when secrets are shown. */
  get secret(): SecretTest | undefined {
    return this.#secret;
  }

  /** Applies new settings (after a reload); a smaller ring drops the oldest exchanges. */
  configure(options: InspectOptions): void {
    this.#options = options;
    this.#secret = options.showSecrets ? undefined : secretNames(options.redact);
    this.#secretNames = [...SECRET_HEADERS, ...options.redact];
    if (this.#ring.length > options.capacity) this.#ring.splice(0, this.#ring.length - options.capacity);
  }

  /** The exchange with this id, while it is kept. */
  get(id: number): Exchange | undefined {
    // Ids increase along the ring, so the position follows from the oldest one kept.
    const first = this.#ring[0];
    if (!first) return undefined;
    const e = this.#ring[id - first.id];
    return e?.id === id ? e : undefined;
  }

  /** Every kept exchange, newest first. */
  list(): Exchange[] {
    return [...this.#ring].reverse();
  }

  /** Calls `fn` with each new exchange until the returned function is called. */
  subscribe(fn: Subscriber): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** Ends every subscription (shutdown, or the inspector switched off). */
  close(): void {
    for (const fn of [...this.#subscribers]) fn(undefined);
    this.#subscribers.clear();
  }

  /** Counts for tests and docs: exchanges kept, bytes of kept bodies, and the ring's body budget. */
  stats(): { exchanges: number; bodyBytes: number; budgetBytes: number } {
    let bodyBytes = 0;
    for (const e of this.#ring) {
      for (const c of [e.requestBody, e.event, e.result?.body, e.response.body]) {
        bodyBytes += c?.bytes.buffer.byteLength ?? 0;
      }
    }
    const { capacity, bodyLimit } = this.#options;
    return { exchanges: this.#ring.length, bodyBytes, budgetBytes: capacity * 4 * bodyLimit };
  }

  /**
   * Records a finished request and returns the response to send: the same
   * status, headers and bytes, re-wrapped so the body can be kept. A
   * buffered body is read and given back as bytes (so its framing —
   * `Content-Length` — is unchanged); a streamed body is passed through,
   * its first bytes copied as they go by. With `drain` (a replay, whose
   * response nobody reads) a streamed body is read here up to the limit.
   */
  async record(
    facts: ExchangeFacts,
    response: Response,
    drain = false,
  ): Promise<{ response: Response; exchange: Exchange }> {
    const { bodyLimit } = this.#options;
    const secret = this.#secret;
    const { entry, request, result } = facts;
    const original = facts.replayOf;
    const streamed = result?.body instanceof ReadableStream;
    const exchange: Exchange = {
      id: this.#nextId++,
      time: facts.time,
      requestId: String(entry.requestId ?? ""),
      functionRequestId: typeof entry.functionRequestId === "string" ? entry.functionRequestId : undefined,
      reached: facts.reached ?? (result ? true : undefined),
      host: original?.host ?? String(entry.host ?? ""),
      method: original?.method ?? request.method,
      target: original?.target ?? targetOf(request.url),
      sourceIp: original?.sourceIp ?? facts.sourceIp,
      route: facts.route,
      routeKey: typeof entry.route === "string" ? entry.route : undefined,
      pathParameters: facts.pathParameters,
      invoker: typeof entry.target === "string" ? entry.target : undefined,
      function: typeof entry.function === "string" ? entry.function : undefined,
      requestHeaders: original?.requestHeaders ?? [...request.headers],
      requestBody: original ? original.requestBody : facts.body ? capture(facts.body, bodyLimit) : undefined,
      event: facts.payload ? redactedCapture(facts.payload, bodyLimit, secret, this.#secretNames) : undefined,
      result: result && {
        streamed,
        body: facts.rawResult
          ? redactedCapture(facts.rawResult, bodyLimit, secret, this.#secretNames)
          : undefined,
        prelude: result.prelude,
        functionError: result.functionError,
        executedVersion: result.executedVersion,
      },
      response: { status: response.status, headers: [...response.headers], streaming: false },
      timings: {
        totalMs: Number(entry.durationMs ?? 0),
        queueWaitMs: result?.queueWaitMs,
        upstreamMs: facts.upstreamMs,
      },
      error: typeof entry.error === "string"
        ? { code: entry.error, message: String(entry.errorMessage ?? "") }
        : undefined,
      replayOf: original?.id,
    };
    let sent = response;
    if (streamed && response.body) {
      exchange.response.streaming = true;
      const body = response.body.pipeThrough(keepHead(bodyLimit, (c, done) => {
        exchange.response.body = c;
        if (done) exchange.response.streaming = false;
      }));
      if (drain) await readHead(body, bodyLimit);
      else sent = new Response(body, response);
    } else {
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.length > 0) exchange.response.body = capture(bytes, bodyLimit);
      sent = new Response(bytes.length > 0 ? bytes : null, response);
    }
    this.#ring.push(exchange);
    if (this.#ring.length > this.#options.capacity) this.#ring.shift();
    for (const fn of this.#subscribers) fn(exchange);
    return { response: sent, exchange };
  }
}

/** The list line of an exchange. */
export function summarize(e: Exchange): ExchangeSummary {
  return {
    id: e.id,
    time: e.time,
    requestId: e.requestId,
    functionRequestId: e.functionRequestId,
    host: e.host,
    method: e.method,
    target: e.target,
    route: e.route,
    routeKey: e.routeKey,
    invoker: e.invoker,
    status: e.response.status,
    durationMs: e.timings.totalMs,
    error: e.error?.code,
    replayOf: e.replayOf,
  };
}

/** Path and query of an absolute request URL. */
function targetOf(url: string): string {
  const at = url.indexOf("/", url.indexOf("//") + 2);
  return at < 0 ? "/" : url.slice(at);
}

/**
 * A pass-through stream that copies the first `limit` bytes, reporting the
 * copy after each chunk and once more when the stream ends or is cancelled.
 */
function keepHead(limit: number, report: (c: Captured, done: boolean) => void) {
  const parts: Uint8Array[] = [];
  let kept = 0;
  let current: Captured = { bytes: new Uint8Array(0), size: 0, truncated: false };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (kept < limit) {
        const part = chunk.slice(0, limit - kept);
        parts.push(part);
        kept += part.length;
        const bytes = new Uint8Array(kept);
        let at = 0;
        for (const p of parts) {
          bytes.set(p, at);
          at += p.length;
        }
        current = { bytes, size: current.size, truncated: false };
      }
      // Past the limit only the count changes: no copy per chunk.
      current.size += chunk.length;
      current.truncated = current.size > kept;
      report(current, false);
      controller.enqueue(chunk);
    },
    flush() {
      report(current, true);
    },
    cancel() {
      report(current, true);
    },
  });
}

/** Reads a stream until it ends or `limit` bytes went by, then cancels the rest. */
async function readHead(body: ReadableStream<Uint8Array>, limit: number): Promise<void> {
  const reader = body.getReader();
  let seen = 0;
  try {
    while (seen <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.length;
    }
    await reader.cancel();
  } catch {
    // A failed stream is recorded as far as it went; the replay itself has answered.
  } finally {
    reader.releaseLock();
  }
}
