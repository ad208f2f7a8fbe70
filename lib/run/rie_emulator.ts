/**
 * A local endpoint that behaves like the classic AWS Lambda Runtime Interface
 * Emulator (RIE), running a JavaScript handler in-process. lrp's `demo`
 * command serves functions with it, and tests use it as a faithful fake of a
 * real RIE container.
 *
 * It reproduces the quirks described in docs/wire-format.md, "The RIE":
 * one literal invoke path for any method, Go-sniffed `Content-Type` and no
 * other function headers, errors and timeouts answered with 200, runtime exits
 * with 502, silent truncation of large events, and a second concurrent
 * invocation that crashes the whole emulator.
 *
 * It speaks HTTP/1.1 itself over `Deno.listen` rather than using `Deno.serve`,
 * because a crash must drop in-flight connections and `Deno.serve` can only
 * answer them.
 *
 * ```ts
 * import { RIE_INVOKE_PATH, startRie } from "./rie_emulator.ts";
 *
 * await using rie = startRie({ handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) });
 * const res = await fetch(rie.url + RIE_INVOKE_PATH, { method: "POST", body: "{}" });
 * ```
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";

/** The only path the classic RIE routes to the function (`internal/lambda/rie/http.go:20`). */
export const RIE_INVOKE_PATH = "/2015-03-31/functions/function/invocations";

/** Cap on events and results in the RIE: 6 MiB + 100 B (`interop/model.go:23`). */
export const RIE_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100;

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

/**
 * Starts an emulator listening on `hostname:port`.
 *
 * @example
 * ```ts
 * await using rie = startRie({ handler: () => "hi", onConcurrent: "reject400" });
 * ```
 */
export function startRie(options: RieOptions): RieServer {
  return new RieServer(options);
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

  /** Stops the emulator (dropping open connections) and listens again on the same port, with a fresh init. */
  async restart(): Promise<void> {
    await this.shutdown();
    this.stats.crashed = false;
    this.#life = this.#listen();
  }

  /** Closes the listener and drops every open connection; waits until all are closed. */
  async shutdown(): Promise<void> {
    this.#kill(this.#life);
    await Promise.allSettled(this.#life.tasks);
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
      tasks: new Set(),
      active: 0,
      initDone: false,
      alive: true,
      dead: dead.promise,
      die: () => dead.resolve(DEAD),
    };
    this.#track(life, this.#accept(life));
    return life;
  }

  #track(life: Life, task: Promise<void>): void {
    life.tasks.add(task);
    task.finally(() => life.tasks.delete(task));
  }

  async #accept(life: Life): Promise<void> {
    try {
      for await (const conn of life.listener) {
        life.conns.add(conn);
        this.#track(life, this.#serveConn(life, conn));
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

  async #serveConn(life: Life, conn: Deno.Conn): Promise<void> {
    const reader = new ConnReader(conn);
    try {
      while (life.alive) {
        let head: RequestHead | null;
        try {
          head = await readHead(reader);
        } catch (err) {
          if (!(err instanceof BadRequest)) throw err;
          // Go's server answers unparsable requests this way and closes.
          await writeAll(conn, encodeResponse(400, textBody("400 Bad Request"), { close: true }));
          return;
        }
        if (head === null) return;
        const isInvoke = pathOf(head.target) === RIE_INVOKE_PATH;
        if (isInvoke && /100-continue/i.test(head.headers.get("expect") ?? "")) {
          await writeAll(conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
        }
        const body = await readBody(reader, head.headers, isInvoke ? RIE_MAX_PAYLOAD_BYTES : 0);
        const reply = isInvoke ? await this.#invoke(life, head, body) : NOT_FOUND;
        if (reply === null || !life.alive) return;
        await writeAll(
          conn,
          encodeResponse(reply.status, reply, { close: head.close, head: head.method === "HEAD" }),
        );
        if (head.close) return;
      }
    } catch {
      // The client went away or the emulator was killed under us.
    } finally {
      life.conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed by a crash.
      }
    }
  }

  /** Runs one invocation the way `internal/lambda/rie/handlers.go` does; null when the emulator died. */
  async #invoke(life: Life, head: RequestHead, body: Uint8Array): Promise<Reply | null> {
    const clientContext = head.headers.get("x-amz-client-context");
    if (clientContext !== null && clientContext !== "" && !isStdBase64(clientContext)) {
      return { status: 500, body: new Uint8Array() };
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
      return { status: 400, body: new Uint8Array() };
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
        method: head.method,
        target: head.target,
        headers: head.headers,
        body,
      });
      const context: LambdaContext = {
        awsRequestId: requestId,
        invokedFunctionArn: "arn:aws:lambda:us-east-1:012345678912:function:test_function",
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      const run = this.#run(life, body, context);
      const outcome = await Promise.race([run, timedOut.promise, life.dead]);
      if (outcome === DEAD) return null;
      if (outcome.kind === "timeout") {
        life.initDone = false; // The RIE resets the runtime; the next call inits again.
        return textReply(200, `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
      }
      if (outcome.kind === "error") {
        if (!(outcome.error instanceof RuntimeExit)) return textReply(200, errorJson(outcome.error));
        return textReply(
          502,
          JSON.stringify({
            errorType: "Runtime.ExitError",
            errorMessage: `RequestId: ${requestId} Error: ${outcome.error.message}`,
          }),
        );
      }
      if (outcome.bytes.length > RIE_MAX_PAYLOAD_BYTES) {
        return textReply(
          200,
          JSON.stringify({
            errorType: "Function.ResponseSizeTooLarge",
            errorMessage: `Response payload size (${outcome.bytes.length} bytes) exceeded maximum allowed ` +
              `payload size (${RIE_MAX_PAYLOAD_BYTES} bytes).`,
          }),
        );
      }
      return { status: 200, body: outcome.bytes };
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
      return { kind: "ok", bytes: new TextEncoder().encode(JSON.stringify(result ?? null) ?? "") };
    } catch (error) {
      return { kind: "error", error };
    }
  }
}

/**
 * The body of a Function URL streaming response as the classic RIE returns it
 * for a handler using `awslambda.HttpResponseStream.from` (docs/wire-format.md,
 * "Response streaming" and "The RIE"):
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

const DEAD = Symbol("dead");
type Dead = typeof DEAD;

/** One incarnation of the emulator process, from listen to crash or shutdown. */
interface Life {
  listener: Deno.TcpListener;
  conns: Set<Deno.Conn>;
  tasks: Set<Promise<void>>;
  active: number;
  initDone: boolean;
  alive: boolean;
  dead: Promise<Dead>;
  die(): void;
}

type Outcome = { kind: "ok"; bytes: Uint8Array } | { kind: "error"; error: unknown } | { kind: "timeout" };

interface Reply {
  status: number;
  body: Uint8Array;
  /** Extra headers; the Content-Type is sniffed unless given here. */
  headers?: Record<string, string>;
}

const NOT_FOUND: Reply = {
  status: 404,
  ...textBody("404 page not found\n"),
  headers: { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" },
};

function textBody(text: string): { body: Uint8Array } {
  return { body: new TextEncoder().encode(text) };
}

function textReply(status: number, text: string): Reply {
  return { status, ...textBody(text) };
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

function pathOf(target: string): string {
  const path = target.startsWith("/") ? target : URL.canParse(target) ? new URL(target).pathname : target;
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

// ---- Minimal HTTP/1.1 server side: enough for fetch, curl and lrp's client. ----

class BadRequest extends Error {}

interface RequestHead {
  method: string;
  target: string;
  headers: Headers;
  /** The connection ends after this exchange. */
  close: boolean;
}

const MAX_HEAD_BYTES = 1 << 20;
const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

/** Buffered reads from a connection. */
class ConnReader {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more bytes; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#end === this.#buf.length) {
      // Full: move the unread bytes to the front, into a bigger buffer when they fill half of it.
      const size = this.#end - this.#start;
      const next = size > this.#buf.length / 2 ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = size;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Bytes up to `delim` (excluded, consumed); null at a clean end of stream before any byte. */
  async readUntil(delim: Uint8Array, max: number): Promise<Uint8Array | null> {
    let from = this.#start;
    while (true) {
      const at = indexOf(this.#buf.subarray(0, this.#end), delim, from);
      if (at !== -1) {
        const out = this.#buf.slice(this.#start, at);
        this.#start = at + delim.length;
        return out;
      }
      if (this.#end - this.#start > max) throw new BadRequest("Cannot read request: head too large");
      from = Math.max(this.#start, this.#end - delim.length + 1);
      const before = this.#start;
      if (!(await this.#fill())) {
        if (this.#end === this.#start) return null;
        throw new BadRequest("Cannot read request: unexpected end of stream");
      }
      from -= before - this.#start; // #fill may have moved the data to the front.
    }
  }

  /** Consumes `n` bytes, handing each piece to `sink`. */
  async read(n: number, sink: (piece: Uint8Array) => void): Promise<void> {
    while (n > 0) {
      if (this.#start === this.#end) {
        this.#start = this.#end = 0;
        if (!(await this.#fill())) throw new BadRequest("Cannot read body: unexpected end of stream");
      }
      const take = Math.min(n, this.#end - this.#start);
      sink(this.#buf.subarray(this.#start, this.#start + take));
      this.#start += take;
      n -= take;
    }
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

async function readHead(reader: ConnReader): Promise<RequestHead | null> {
  const raw = await reader.readUntil(CRLFCRLF, MAX_HEAD_BYTES);
  if (raw === null) return null;
  const [requestLine = "", ...lines] = new TextDecoder("latin1").decode(raw).split("\r\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) throw new BadRequest(`Cannot parse request line: ${requestLine}`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new BadRequest(`Cannot parse header line: ${line}`);
    try {
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    } catch {
      throw new BadRequest(`Cannot parse header line: ${line}`);
    }
  }
  const connection = headers.get("connection") ?? "";
  const close = match[3] === "0" ? !/keep-alive/i.test(connection) : /close/i.test(connection);
  return { method: match[1] ?? "", target: match[2] ?? "", headers, close };
}

/** Reads the whole body (Content-Length or chunked), keeping only its first `keep` bytes. */
async function readBody(reader: ConnReader, headers: Headers, keep: number): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let kept = 0;
  const sink = (piece: Uint8Array) => {
    const part = piece.subarray(0, keep - kept);
    if (part.length === 0) return;
    pieces.push(part.slice());
    kept += part.length;
  };
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    while (true) {
      const line = new TextDecoder().decode((await reader.readUntil(CRLF, 4096)) ?? new Uint8Array());
      const size = parseInt(line.split(";")[0] ?? "", 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new BadRequest(`Cannot parse chunk size: ${line}`);
      if (size === 0) break;
      await reader.read(size, sink);
      await reader.readUntil(CRLF, 2);
    }
    // Trailer section, ended by an empty line.
    while (((await reader.readUntil(CRLF, MAX_HEAD_BYTES)) ?? new Uint8Array()).length > 0);
  } else {
    const length = headers.get("content-length");
    if (length !== null) {
      if (!/^\d+$/.test(length)) throw new BadRequest(`Cannot parse Content-Length: ${length}`);
      await reader.read(Number(length), sink);
    }
  }
  return concatBytes(pieces);
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  500: "Internal Server Error",
  502: "Bad Gateway",
};

/** A Go-like response: headers in Go's sorted order, only Content-Length, Content-Type and Date. */
function encodeResponse(
  status: number,
  reply: { body: Uint8Array; headers?: Record<string, string> },
  options: { close: boolean; head?: boolean },
): Uint8Array {
  const headers: Record<string, string> = {
    "Content-Length": String(reply.body.length),
    Date: new Date().toUTCString(),
    ...reply.headers,
  };
  const sniffed = sniffContentType(reply.body);
  if (headers["Content-Type"] === undefined && sniffed !== undefined) headers["Content-Type"] = sniffed;
  if (options.close) headers["Connection"] = "close";
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}`];
  for (const name of Object.keys(headers).sort()) lines.push(`${name}: ${headers[name]}`);
  const head = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  const body = options.head ? new Uint8Array() : reply.body;
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}
