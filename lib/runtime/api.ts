/**
 * The Lambda Runtime API (`/2018-06-01/runtime/…`) as lrp serves it to one
 * runtime process: each process gets its own listener on 127.0.0.1, so it
 * can only ever see and answer its own invocation.
 *
 * The listener is private to its process: `AWS_LAMBDA_RUNTIME_API` is
 * `127.0.0.1:PORT/KEY`, a random key only that process's environment holds,
 * and `invocation/next` (the one call that reveals an event) is served only
 * under `/KEY`. Answers need the invocation's random id, which only `next`
 * hands out, so they are taken with or without the key (AWS's
 * `aws-lambda-ric` posts streamed responses and `init/error` to
 * `/2018-06-01/…` of `host:port` alone). docs/functions.md says what this
 * guarantees.
 *
 * The listener holds at most one invocation: {@linkcode RuntimeApi.assign}
 * hands it over, the process's long poll on `invocation/next` receives it,
 * and its `response` / `error` post settles it as an {@linkcode Answer}.
 * Mistakes of the runtime get Lambda's status codes and error bodies.
 *
 * @module
 */

import { readAtMost } from "../bytes.ts";
import { RuntimeChannel } from "./channel.ts";
import { newKey, sameKey } from "./key.ts";
import { lambdaError, LoopbackServer, wireAnswer } from "./api_server.ts";
import type { IncomingRequest } from "../wire/request.ts";
import type { ChunkSource } from "../wire/stream.ts";

/** Largest buffered response or error a runtime may post: 6 MiB + 100 B, as Lambda's and the RIE's. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;
/** Largest frame on the private channel: the bundled client posts a larger answer over HTTP. */
export const MAX_CHANNEL_FRAME = 1024 * 1024 + 256;
const PREFIX = "/2018-06-01/runtime";

/** What the runtime answered for one invocation. */
export type Answer =
  | { kind: "buffered"; bytes: Uint8Array; contentType: string | undefined }
  | { kind: "stream"; source: ChunkSource; contentType: string | undefined }
  | { kind: "error"; bytes: Uint8Array; errorType: string };

/** One invocation handed to a runtime process. */
export interface Invocation {
  id: string;
  payload: Uint8Array;
  /** Epoch ms after which the invocation has timed out. */
  deadlineMs: number;
  traceId?: string | undefined;
  /** Called once with the runtime's answer. */
  answer(answer: Answer): void;
  /** Called as the runtime takes the event (its `next` returns); sets `deadlineMs`. */
  delivered(): void;
  /**
   * Called when the process is free again: the answer, streamed or not, has been read to its end.
   * `inOrder`: it came over the private channel, behind every output line the client sent there.
   */
  finished(inOrder?: boolean): void;
}

/** What the listener tells its process about. */
export interface RuntimeApiHooks {
  /** `Lambda-Runtime-Invoked-Function-Arn`. */
  functionArn: string;
  /** The runtime called `next` for the first time: its initialisation is over. */
  onReady(): void;
  /** The runtime reported an initialisation error (`init/error`). */
  onInitError(bytes: Uint8Array, errorType: string): void;
  /** Opens the private channel for lrp's own clients too (`channel.ts`). */
  channel?: boolean;
  /** Output the client sent over the channel (`channel.ts`'s OUTPUT frames; valid only during the call). */
  onOutput?(stream: "stdout" | "stderr", bytes: Uint8Array): void;
  /** The client says some of its output may take the pipes from now on (`channel.ts`'s PIPES frame). */
  onPipes?(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ACCEPTED_BODY = encoder.encode(JSON.stringify({ status: "OK" }));
const JSON_TYPE: [string, string] = ["content-type", "application/json"];
/** Lambda's 202 for a response, an error or an init error: one body, sent as it is (no JSON per answer). */
const ACCEPTED = () => wireAnswer(202, [JSON_TYPE], ACCEPTED_BODY);

/** The Runtime API listener of one runtime process. */
export class RuntimeApi {
  /** `127.0.0.1:PORT/KEY`, the value of `AWS_LAMBDA_RUNTIME_API`. */
  readonly address: string;
  #key = newKey();
  #server: LoopbackServer;
  #hooks: RuntimeApiHooks;
  #current: Invocation | undefined;
  #state: "assigned" | "delivered" | "answered" = "answered";
  #poll: ((inv: Invocation | undefined) => void) | undefined;
  #initDone = false;
  #closed = false;
  #active = new Set<ChunkSource>();
  /** The private channel, when `hooks.channel`: its socket's path is `channel.path`. */
  readonly channel: RuntimeChannel | undefined;

  /** Starts listening on a free loopback port (and on the private channel's socket). */
  constructor(hooks: RuntimeApiHooks) {
    this.#hooks = hooks;
    this.#server = new LoopbackServer((req) => this.#handle(req));
    this.address = `127.0.0.1:${this.#server.port}/${this.#key}`;
    if (hooks.channel) {
      this.channel = RuntimeChannel.open({
        key: this.#key,
        maxFrame: MAX_CHANNEL_FRAME,
        next: () => this.#channelNext(),
        response: (id, bytes) => {
          const inv = this.#current;
          if (!inv || inv.id !== id || this.#state !== "delivered") return;
          this.#state = "answered";
          inv.answer({ kind: "buffered", bytes, contentType: "application/json" });
          inv.finished(true);
        },
        output: (stream, bytes) => this.#hooks.onOutput?.(stream, bytes),
        pipes: () => this.#hooks.onPipes?.(),
      });
    }
  }

  /** The channel's NEXT: the event now if one is assigned, else when one is (as a long poll). */
  #channelNext(): void {
    this.#ready();
    const deliver = (inv: Invocation | undefined) => {
      if (!inv || this.#closed) return;
      this.#state = "delivered";
      inv.delivered();
      this.channel!.send(inv.id, inv.deadlineMs, this.#hooks.functionArn, inv.traceId, inv.payload);
    };
    if (this.#state === "assigned") return deliver(this.#current);
    this.#poll?.(undefined);
    this.#poll = deliver;
  }

  #ready(): void {
    if (this.#initDone) return;
    this.#initDone = true;
    this.#hooks.onReady();
  }

  /** Hands `inv` to the runtime: its pending (or next) `invocation/next` returns it. */
  assign(inv: Invocation): void {
    this.#current = inv;
    this.#state = "assigned";
    const poll = this.#poll;
    this.#poll = undefined;
    poll?.(inv);
  }

  /** Stops the listener: a pending long poll is answered 500, a response stream being read is cut. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll?.(undefined);
    this.#poll = undefined;
    for (const source of this.#active) source.cancel();
    this.channel?.close();
    await this.#server.shutdown().catch(() => {});
  }

  async #handle(req: IncomingRequest): Promise<Response> {
    // req.url is absolute ("http://host:port/path?query"): the path starts at the first "/" past "//".
    const url = req.url;
    const query = url.indexOf("?");
    let path = url.slice(url.indexOf("/", url.indexOf("//") + 2), query === -1 ? undefined : query);
    const slash = path.indexOf("/", 1);
    const keyed = slash > 0 && sameKey(path.slice(1, slash), this.#key);
    if (keyed) path = path.slice(slash);
    if (!path.startsWith(PREFIX + "/")) {
      await req.body?.cancel().catch(() => {});
      return lambdaError(404, "InvalidRequest", "Not found");
    }
    const rest = path.slice(PREFIX.length);
    if (rest === "/invocation/next" && req.method === "GET") {
      if (!keyed) {
        return lambdaError(
          403,
          "AccessDenied",
          "invocation/next is served only under the path in AWS_LAMBDA_RUNTIME_API (http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next)",
        );
      }
      return await this.#next();
    }
    if (rest === "/init/error" && req.method === "POST") return await this.#initError(req);
    const m = /^\/invocation\/([^/]+)\/(response|error)$/.exec(rest);
    if (m && req.method === "POST") {
      const id = decodedId(m[1]!);
      const inv = this.#current;
      if (!inv || id === undefined || inv.id !== id || this.#state === "assigned") {
        await req.body?.cancel().catch(() => {});
        return lambdaError(400, "InvalidRequestID", "Invalid request ID");
      }
      if (this.#state === "answered") {
        await req.body?.cancel().catch(() => {});
        return lambdaError(
          403,
          "InvalidStateTransition",
          `State transition from RuntimeResponseSentState to Invocation${
            m[2] === "response" ? "Response" : "ErrorResponse"
          } failed for runtime. Error: State transition is not allowed`,
        );
      }
      return m[2] === "response" ? await this.#response(req, inv) : await this.#error(req, inv);
    }
    await req.body?.cancel().catch(() => {});
    return lambdaError(404, "InvalidRequest", `No such route: ${req.method} ${path}`);
  }

  async #next(): Promise<Response> {
    this.#ready();
    const inv = this.#state === "assigned"
      ? this.#current
      : await new Promise<Invocation | undefined>((r) => {
        this.#poll?.(undefined);
        this.#poll = r;
      });
    if (!inv || this.#closed) {
      return lambdaError(500, "Runtime.Shutdown", "lrp is stopping this runtime process");
    }
    this.#state = "delivered";
    inv.delivered();
    const headers: [string, string][] = [
      JSON_TYPE,
      ["lambda-runtime-aws-request-id", inv.id],
      ["lambda-runtime-deadline-ms", String(inv.deadlineMs)],
      ["lambda-runtime-invoked-function-arn", this.#hooks.functionArn],
    ];
    if (inv.traceId) headers.push(["lambda-runtime-trace-id", inv.traceId]);
    return wireAnswer(200, headers, inv.payload);
  }

  async #initError(req: IncomingRequest): Promise<Response> {
    if (this.#initDone) {
      await req.body?.cancel().catch(() => {});
      return lambdaError(
        403,
        "InvalidStateTransition",
        "State transition from Ready to InitError failed for runtime. Error: State transition is not allowed",
      );
    }
    const bytes = await readAtMost(req.body, MAX_RESPONSE_BYTES, { keepPartial: true }) ??
      encoder.encode("{}");
    this.#hooks.onInitError(bytes, errorTypeOf(req, bytes, "Runtime.Unknown"));
    return ACCEPTED();
  }

  async #error(req: IncomingRequest, inv: Invocation): Promise<Response> {
    this.#state = "answered";
    const bytes = await readAtMost(req.body, MAX_RESPONSE_BYTES, { keepPartial: true });
    if (bytes === undefined) return tooLargeAnswer(inv);
    inv.answer({ kind: "error", bytes, errorType: errorTypeOf(req, bytes, "Unhandled") });
    inv.finished();
    return ACCEPTED();
  }

  async #response(req: IncomingRequest, inv: Invocation): Promise<Response> {
    this.#state = "answered";
    const contentType = req.headers.get("content-type") ?? undefined;
    const mode = req.headers.get("lambda-runtime-function-response-mode");
    if (mode !== null && mode.toLowerCase() !== "streaming" && mode.toLowerCase() !== "buffered") {
      await req.body?.cancel().catch(() => {});
      inv.answer({
        kind: "error",
        bytes: encoder.encode(JSON.stringify({
          errorType: "Runtime.InvalidResponseModeHeader",
          errorMessage: `Invalid Lambda-Runtime-Function-Response-Mode: ${mode}`,
        })),
        errorType: "Runtime.InvalidResponseModeHeader",
      });
      inv.finished();
      return lambdaError(400, "InvalidResponseModeHeader", "Invalid Response Mode");
    }
    if (mode?.toLowerCase() === "streaming") {
      const source = new BodySource(req.body);
      this.#active.add(source);
      inv.answer({ kind: "stream", source, contentType });
      const outcome = await source.ended;
      this.#active.delete(source);
      inv.finished();
      return outcome === "error"
        ? lambdaError(500, "Runtime.StreamError", "The response stream failed")
        : ACCEPTED();
    }
    const bytes = await readAtMost(req.body, MAX_RESPONSE_BYTES, { keepPartial: true });
    if (bytes === undefined) return tooLargeAnswer(inv);
    inv.answer({ kind: "buffered", bytes, contentType });
    inv.finished();
    return ACCEPTED();
  }
}

/** The answer for a response over the limit: Lambda's `Function.ResponseSizeTooLarge`. */
export function tooLarge(): Answer {
  const errorType = "Function.ResponseSizeTooLarge";
  return {
    kind: "error",
    errorType,
    bytes: encoder.encode(JSON.stringify({
      errorType,
      errorMessage:
        `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
    })),
  };
}

/** An invocation id from its path segment; `undefined` for a broken escape (`%E0`, `%ZZ`): no invocation has it. */
function decodedId(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function errorTypeOf(req: IncomingRequest, bytes: Uint8Array, fallback: string): string {
  const header = req.headers.get("lambda-runtime-function-error-type");
  if (header) return header;
  try {
    const body = JSON.parse(decoder.decode(bytes));
    if (typeof body?.errorType === "string") return body.errorType;
  } catch {
    // not JSON: the header or the fallback names it
  }
  return fallback;
}

/**
 * A streamed response body as a {@linkcode ChunkSource}. `ended` resolves
 * when the runtime finished (`end`), the stream broke (`error`: the runtime
 * cut its request, which is how a mid-stream failure shows), or lrp stopped
 * reading (`cancel`: the client left; the rest is drained so the runtime can
 * finish and take the next invocation).
 */
class BodySource implements ChunkSource {
  readonly ended: Promise<"end" | "error" | "cancel">;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #done!: (how: "end" | "error" | "cancel") => void;
  #over = false;

  constructor(body: ReadableStream<Uint8Array> | null) {
    this.#reader = body?.getReader();
    this.ended = new Promise((r) => this.#done = r);
    if (!this.#reader) this.#finish("end");
  }

  #finish(how: "end" | "error" | "cancel"): void {
    if (this.#over) return;
    this.#over = true;
    this.#done(how);
  }

  async read(): Promise<Uint8Array | null> {
    if (!this.#reader || this.#over) return null;
    try {
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#finish("end");
        return null;
      }
      return value;
    } catch (err) {
      this.#finish("error");
      throw new Error(`the function's response stream failed: ${err instanceof Error ? err.message : err}`);
    }
  }

  cancel(): void {
    if (this.#over) return;
    const reader = this.#reader;
    this.#over = true;
    (async () => {
      try {
        while (reader && !(await reader.read()).done) { /* discard */ }
        this.#done("cancel");
      } catch {
        this.#done("error");
      }
    })();
  }
}

/** Lambda's answer to a response or error body over the limit; the invocation fails as too large. */
function tooLargeAnswer(inv: Invocation): Response {
  inv.answer(tooLarge());
  inv.finished();
  return lambdaError(
    413,
    "RequestEntityTooLarge",
    `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
  );
}
