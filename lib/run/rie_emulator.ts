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
 * It speaks HTTP/1.1 itself over `Deno.listen` (`rie_http.ts`) rather than
 * using `Deno.serve`, because a crash must drop in-flight connections and
 * `Deno.serve` can only answer them. What the function sees (handler,
 * context, results) is in `rie_function.ts`.
 *
 * ```ts
 * import { RIE_INVOKE_PATH } from "../invoke/rie.ts";
 * import { startRie } from "./rie_emulator.ts";
 *
 * await using rie = startRie({ handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) });
 * const res = await fetch(rie.url + RIE_INVOKE_PATH, { method: "POST", body: "{}" });
 * ```
 *
 * @module
 */

import { Http1Reader } from "../invoke/http1_reader.ts";
import { RIE_INVOKE_PATH, RIE_MAX_PAYLOAD_BYTES } from "../invoke/rie.ts";
import {
  BadRequest,
  encodeResponse,
  pathOf,
  readRequestBody,
  readRequestHead,
  type RequestHead,
  writeAll,
} from "./rie_http.ts";
import {
  errorJson,
  type LambdaContext,
  type LambdaHandler,
  RawPayload,
  RuntimeExit,
} from "./rie_function.ts";

export { preludeBody, RawPayload, RuntimeExit } from "./rie_function.ts";
export type { LambdaContext, LambdaHandler } from "./rie_function.ts";

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
    const reader = new Http1Reader(conn);
    try {
      while (life.alive) {
        let head: RequestHead | null;
        try {
          head = await readRequestHead(reader);
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
        const body = await readRequestBody(reader, head.headers, isInvoke ? RIE_MAX_PAYLOAD_BYTES : 0);
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
