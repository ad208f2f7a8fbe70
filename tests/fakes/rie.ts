/**
 * The tests' one stand-in for an RIE container: a loopback endpoint that
 * behaves like the classic AWS Lambda Runtime Interface Emulator, running a
 * JavaScript handler in-process.
 *
 * It reproduces the quirks described in docs/wire-format.md, "The RIE", that
 * tests depend on: one literal invoke path for any method (Go's `404 page not
 * found` elsewhere), a Go-sniffed `Content-Type` and no other function
 * headers, function errors and timeouts answered with 200, runtime exits with
 * 502, bad base64 in `X-Amz-Client-Context` with an empty 500, silent
 * truncation of events past 6 MiB + 100 B, results past it answered with
 * `Function.ResponseSizeTooLarge`, and a second concurrent invocation that
 * crashes the whole emulator (or, by option, is refused 400 or allowed).
 *
 * HTTP is lrp's own server (`HttpConnections`) on connections this module
 * accepts itself: a crash must drop every connection in flight, which a
 * server that can only answer (`Deno.serve`) cannot do. {@linkcode fakeRie}
 * is the short form most tests use: a payload 2.0 result from a function of
 * the event, invocations allowed side by side.
 *
 * ```ts
 * await using rie = startRie({ handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) });
 * const res = await fetch(rie.invokeUrl, { method: "POST", body: "{}" });
 * ```
 *
 * @module
 */

import { RIE_INVOKE_PATH, RIE_MAX_PAYLOAD_BYTES } from "../../lib/invoke/rie.ts";
import { HttpConnections } from "../../lib/http/server.ts";
import type { IncomingRequest } from "../../lib/wire/request.ts";

/** The subset of the Node.js Lambda context that handlers here receive. */
export interface LambdaContext {
  /** A fresh UUID per invocation; the RIE never returns it to the caller. */
  awsRequestId: string;
  /** `arn:aws:lambda:us-east-1:012345678912:function:test_function`, as the RIE reports it. */
  invokedFunctionArn: string;
  /** Milliseconds left before the invocation times out. */
  getRemainingTimeInMillis(): number;
}

/**
 * A Node.js-style Lambda handler: returns (or resolves to) the result, which is
 * sent as `JSON.stringify(result ?? null)`, or a {@linkcode RawPayload} to send
 * exact bytes. Throwing {@linkcode RuntimeExit} simulates a crashed runtime.
 */
export type LambdaHandler = (event: unknown, context: LambdaContext) => unknown;

/** A handler result sent verbatim, such as a streaming body made by {@linkcode preludeBody}. */
export class RawPayload {
  /** The exact response bytes. */
  readonly bytes: Uint8Array;

  /** Wraps bytes (or UTF-8 text) to be sent as they are. */
  constructor(bytes: Uint8Array | string) {
    this.bytes = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  }
}

/**
 * Thrown by a handler to simulate the runtime process exiting mid-invocation:
 * the RIE answers 502 with a `Runtime.ExitError` JSON.
 */
export class RuntimeExit extends Error {
  /** The exit status the runtime process reports. */
  readonly exitStatus: number;

  /** Creates an exit with the given status (default 1). */
  constructor(exitStatus = 1) {
    super(`Runtime exited with error: exit status ${exitStatus}`);
    this.name = "RuntimeExit";
    this.exitStatus = exitStatus;
  }
}

/**
 * The body of a Function URL streaming response as the classic RIE returns it
 * for a handler using `awslambda.HttpResponseStream.from` (docs/wire-format.md, "Response streaming", "The RIE"):
 * `JSON.stringify(prelude)`, exactly eight `0x00` bytes, then the body.
 */
export function preludeBody(
  prelude: { statusCode: number; headers?: Record<string, string>; cookies?: string[] },
  body: Uint8Array | string,
): Uint8Array {
  const encoder = new TextEncoder();
  const head = encoder.encode(JSON.stringify(prelude));
  const tail = typeof body === "string" ? encoder.encode(body) : body;
  const out = new Uint8Array(head.length + 8 + tail.length);
  out.set(head, 0);
  out.set(tail, head.length + 8);
  return out;
}

/**
 * What a second invocation does while one is in flight:
 * - `"crash"`: the emulator dies, dropping both connections, like the classic RIE (docs/wire-format.md, "The RIE");
 * - `"reject400"`: it is answered 400 with an empty body, like some RIE releases;
 * - `"allow"`: it runs concurrently, like Managed-Instances mode.
 */
export type ConcurrencyMode = "crash" | "reject400" | "allow";

/** One invocation as it reached the emulator, for tests that inspect requests. */
export interface InvocationInfo {
  requestId: string;
  method: string;
  /** Request target: path and query. */
  target: string;
  headers: Headers;
  /** The event bytes after truncation to {@linkcode RIE_MAX_PAYLOAD_BYTES}. */
  body: Uint8Array;
}

/** Options of {@linkcode startRie}. */
export interface RieOptions {
  /** The function. */
  handler: LambdaHandler;
  /** Listen address; default `127.0.0.1`. */
  hostname?: string;
  /** Listen port; default 0 (any free port). */
  port?: number;
  /** `AWS_LAMBDA_FUNCTION_TIMEOUT` in milliseconds, init included; default 300 000. */
  timeoutMs?: number;
  /** Simulated lazy init run before the first invocation and after each timeout; default 0. */
  initDelayMs?: number;
  /** What a concurrent invocation does; default `"crash"`. */
  onConcurrent?: ConcurrencyMode;
  /** Called for each invocation before the handler runs. */
  onInvoke?: (info: InvocationInfo) => void;
  /** Called once the emulator has crashed (listener and connections closed). */
  onCrash?: () => void;
}

/** Live counters of a running emulator. */
export interface RieStats {
  /** Invocations that reached the function. */
  invocations: number;
  /** Most invocation requests seen in flight at once, counting one that crashed the emulator. */
  maxConcurrent: number;
  /** True from a crash until {@linkcode RieServer.restart}. */
  crashed: boolean;
}

/** Starts an emulator listening on `hostname:port`. */
export function startRie(options: RieOptions): RieServer {
  return new RieServer(options);
}

/**
 * A fake RIE whose function answers every invocation with `answer(event)` (a
 * payload 2.0 result, or anything JSON), invocations allowed side by side.
 */
export function fakeRie(answer: (event: Record<string, unknown>) => unknown): RieServer {
  return startRie({ handler: (event) => answer(event as Record<string, unknown>), onConcurrent: "allow" });
}

/** A running emulator; see {@linkcode startRie}. */
export class RieServer {
  /** Live counters; cumulative across restarts except `crashed`. */
  readonly stats: RieStats = { invocations: 0, maxConcurrent: 0, crashed: false };
  readonly #options: RieOptions;
  readonly #hostname: string;
  #port: number;
  #life: Life;

  /** Listens at once; prefer {@linkcode startRie}. */
  constructor(options: RieOptions) {
    this.#options = options;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#port = options.port ?? 0;
    this.#life = this.#listen();
  }

  /** The port listened on (fixed across restarts). */
  get port(): number {
    return this.#port;
  }

  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    return `http://${this.#hostname}:${this.#port}`;
  }

  /** Full URL of the invoke endpoint. */
  get invokeUrl(): string {
    return this.url + RIE_INVOKE_PATH;
  }

  /** Invocations that reached the function ({@linkcode RieStats.invocations}). */
  get invocations(): number {
    return this.stats.invocations;
  }

  /** Stops the emulator (dropping open connections) and listens again on the same port, with a fresh init. */
  async restart(): Promise<void> {
    await this.shutdown();
    this.stats.crashed = false;
    this.#life = this.#listen();
  }

  /** Closes the listener and drops every open connection; waits until all are closed. */
  async shutdown(): Promise<void> {
    this.#kill(this.#life);
    await this.#life.accepting;
    await this.#life.server.shutdown();
  }

  /** Same as {@linkcode RieServer.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #listen(): Life {
    const listener = Deno.listen({ hostname: this.#hostname, port: this.#port });
    this.#port = listener.addr.port;
    const dead = Promise.withResolvers<Dead>();
    const life: Life = {
      listener,
      conns: new Set(),
      accepting: Promise.resolve(),
      active: 0,
      initDone: false,
      alive: true,
      dead: dead.promise,
      die: () => dead.resolve(DEAD),
      server: new HttpConnections({
        handler: (request) => this.#answer(life, request),
        onError: () => reply(500, new Uint8Array()),
        // Go's server answers an unparsable request this way, and closes.
        refuse: () => reply(400, utf8.encode("400 Bad Request")),
        limits: { headerTimeoutMs: 600_000, idleTimeoutMs: 600_000 },
      }),
    };
    life.accepting = this.#accept(life);
    return life;
  }

  async #accept(life: Life): Promise<void> {
    try {
      for await (const conn of life.listener) {
        if (!life.alive) {
          conn.close();
          continue;
        }
        life.conns.add(conn);
        life.server.serve(conn);
      }
    } catch {
      // The listener was closed by a crash or shutdown.
    }
  }

  /** Like the process exiting: no more accepts, every connection dropped, in-flight work abandoned. */
  #kill(life: Life): void {
    if (!life.alive) return;
    life.alive = false;
    life.die();
    for (const closable of [life.listener, ...life.conns]) {
      try {
        closable.close();
      } catch {
        // Already closed.
      }
    }
  }

  #crash(life: Life): void {
    this.stats.crashed = true;
    this.#kill(life);
    this.#options.onCrash?.();
  }

  /** One request: the invoke path invokes, any other answers Go's 404. */
  async #answer(life: Life, request: IncomingRequest): Promise<Response> {
    const target = targetOf(request);
    const isInvoke = pathOf(target) === RIE_INVOKE_PATH;
    // The body is read whole (kept up to the RIE's cap when invoking), so the connection stays usable.
    const body = await readBody(request.body, isInvoke ? RIE_MAX_PAYLOAD_BYTES : 0);
    if (!isInvoke) {
      return reply(404, utf8.encode("404 page not found\n"), {
        "content-type": "text/plain; charset=utf-8",
        "x-content-type-options": "nosniff",
      });
    }
    // A crash drops the connection: whatever is answered here is never written.
    return await this.#invoke(life, request, target, body) ?? reply(500, new Uint8Array());
  }

  /** Runs one invocation the way `internal/lambda/rie/handlers.go` does; null when the emulator died. */
  async #invoke(
    life: Life,
    request: IncomingRequest,
    target: string,
    body: Uint8Array,
  ): Promise<Response | null> {
    const clientContext = request.headers.get("x-amz-client-context");
    if (clientContext !== null && clientContext !== "" && !isStdBase64(clientContext)) {
      return reply(500, new Uint8Array());
    }
    life.active++;
    this.stats.maxConcurrent = Math.max(this.stats.maxConcurrent, life.active);
    const mode = this.#options.onConcurrent ?? "crash";
    if (life.active > 1 && mode === "crash") {
      this.#crash(life);
      return null;
    }
    if (life.active > 1 && mode === "reject400") {
      life.active--;
      return reply(400, new Uint8Array());
    }
    const timeoutMs = this.#options.timeoutMs ?? 300_000;
    const requestId = crypto.randomUUID();
    const deadline = Date.now() + timeoutMs;
    const timedOut = Promise.withResolvers<Outcome>();
    const timer = setTimeout(() => timedOut.resolve({ kind: "timeout" }), timeoutMs);
    try {
      this.stats.invocations++;
      this.#options.onInvoke?.({
        requestId,
        method: request.method,
        target,
        headers: new Headers([...request.headers]),
        body,
      });
      const context: LambdaContext = {
        awsRequestId: requestId,
        invokedFunctionArn: "arn:aws:lambda:us-east-1:012345678912:function:test_function",
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      const outcome = await Promise.race([this.#run(life, body, context), timedOut.promise, life.dead]);
      if (outcome === DEAD) return null;
      if (outcome.kind === "timeout") {
        life.initDone = false; // The RIE resets the runtime; the next call inits again.
        return reply(200, utf8.encode(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`));
      }
      if (outcome.kind === "error") {
        if (!(outcome.error instanceof RuntimeExit)) return reply(200, utf8.encode(errorJson(outcome.error)));
        return reply(
          502,
          utf8.encode(JSON.stringify({
            errorType: "Runtime.ExitError",
            errorMessage: `RequestId: ${requestId} Error: ${outcome.error.message}`,
          })),
        );
      }
      if (outcome.bytes.length > RIE_MAX_PAYLOAD_BYTES) {
        return reply(
          200,
          utf8.encode(JSON.stringify({
            errorType: "Function.ResponseSizeTooLarge",
            errorMessage: `Response payload size (${outcome.bytes.length} bytes) exceeded maximum allowed ` +
              `payload size (${RIE_MAX_PAYLOAD_BYTES} bytes).`,
          })),
        );
      }
      return reply(200, outcome.bytes);
    } finally {
      clearTimeout(timer);
      life.active--;
    }
  }

  /** Init (once), parse the event as the Node runtime does, call the handler, serialize its result. */
  async #run(life: Life, body: Uint8Array, context: LambdaContext): Promise<Outcome> {
    try {
      if (!life.initDone) {
        await sleep(this.#options.initDelayMs ?? 0, life.dead);
        if (!life.alive) return { kind: "error", error: new Error("Emulator died during init") };
        life.initDone = true;
      }
      // A truncated or empty event fails here and, as in the Node runtime, becomes the function's error.
      const event: unknown = JSON.parse(new TextDecoder().decode(body));
      const result = await this.#options.handler(event, context);
      if (result instanceof RawPayload) return { kind: "ok", bytes: result.bytes };
      return { kind: "ok", bytes: utf8.encode(JSON.stringify(result ?? null) ?? "") };
    } catch (error) {
      return { kind: "error", error };
    }
  }
}

const utf8 = new TextEncoder();
const DEAD = Symbol("dead");
type Dead = typeof DEAD;

/** One incarnation of the emulator process, from listen to crash or shutdown. */
interface Life {
  listener: Deno.TcpListener;
  server: HttpConnections;
  conns: Set<Deno.Conn>;
  accepting: Promise<void>;
  active: number;
  initDone: boolean;
  alive: boolean;
  dead: Promise<Dead>;
  die(): void;
}

type Outcome = { kind: "ok"; bytes: Uint8Array } | { kind: "error"; error: unknown } | { kind: "timeout" };

/**
 * An answer as the RIE's Go server writes one: only `Content-Length`, `Date`
 * and a `Content-Type` sniffed from the body unless `headers` name one.
 */
function reply(status: number, body: Uint8Array, headers: Record<string, string> = {}): Response {
  const sniffed = sniffContentType(body);
  const all = headers["content-type"] === undefined && sniffed !== undefined
    ? { ...headers, "content-type": sniffed }
    : headers;
  return new Response(body as Uint8Array<ArrayBuffer>, { status, headers: all });
}

/** The request target (path and query as sent, or the absolute URI) of a request lrp's server read. */
function targetOf(request: IncomingRequest): string {
  const origin = `http://${request.headers.get("host") ?? ""}`;
  return request.url.startsWith(origin + "/") ? request.url.slice(origin.length) : request.url;
}

/** The path of a request target, origin- or absolute-form, without its query. */
function pathOf(target: string): string {
  const path = target.startsWith("/") ? target : URL.canParse(target) ? new URL(target).pathname : target;
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

/** Reads a body to its end, keeping only its first `keep` bytes. */
async function readBody(body: ReadableStream<Uint8Array> | null, keep: number): Promise<Uint8Array> {
  const kept: Uint8Array[] = [];
  let length = 0;
  const reader = body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    if (length >= keep) continue;
    const piece = read.value.subarray(0, keep - length);
    kept.push(piece);
    length += piece.length;
  }
  if (kept.length === 1) return kept[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of kept) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** The Node runtime's error JSON (`toRapidResponse` in aws-lambda-nodejs-runtime-interface-client). */
function errorJson(error: unknown): string {
  if (error instanceof Error) {
    return JSON.stringify({
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    });
  }
  return JSON.stringify({ errorType: typeof error, errorMessage: String(error), trace: [] });
}

/** Go's `base64.StdEncoding` (padded) accepts it; Go skips CR and LF. */
function isStdBase64(text: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text.replace(/[\r\n]/g, ""));
}

function sleep(ms: number, dead: Promise<Dead>): Promise<unknown> {
  if (ms <= 0) return Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise((resolve) => timer = setTimeout(resolve, ms));
  return Promise.race([elapsed, dead]).finally(() => clearTimeout(timer));
}

/**
 * The `Content-Type` Go's `http.DetectContentType` gives a body, for the cases
 * a Lambda payload meets: HTML (after leading whitespace) → `text/html`, `<?xml`
 * → `text/xml`, any binary control byte in the first 512 bytes (e.g. the NULs of
 * a streaming prelude) → `application/octet-stream`, otherwise text (JSON
 * included) → `text/plain; charset=utf-8`. Go sets no type for an empty body:
 * `undefined`. Other signatures Go knows (images, archives) are not detected.
 */
export function sniffContentType(body: Uint8Array): string | undefined {
  if (body.length === 0) return undefined;
  const data = body.subarray(0, 512);
  let start = 0;
  while (start < data.length && WHITESPACE.has(data[start] ?? 0)) start++;
  const lead = String.fromCharCode(...data.subarray(start, start + 16)).toUpperCase();
  for (const tag of HTML_TAGS) {
    const after = lead.charCodeAt(tag.length);
    if (lead.startsWith(tag) && (after === 0x20 || after === 0x3e)) return "text/html; charset=utf-8";
  }
  if (lead.startsWith("<?XML")) return "text/xml; charset=utf-8";
  for (const b of data) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) {
      return "application/octet-stream";
    }
  }
  return "text/plain; charset=utf-8";
}

const WHITESPACE = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const HTML_TAGS = [
  "<!DOCTYPE HTML",
  "<HTML",
  "<HEAD",
  "<SCRIPT",
  "<IFRAME",
  "<H1",
  "<DIV",
  "<FONT",
  "<TABLE",
  "<A",
  "<STYLE",
  "<TITLE",
  "<B",
  "<BODY",
  "<BR",
  "<P",
  "<!--",
];
