/**
 * A fake AWS Lambda Invoke API on loopback, for lrp's AWS-mode and streaming
 * tests: `Invoke` and `InvokeWithResponseStream` (docs/wire-format.md, "The
 * Invoke API", "Response streaming"), with every request's SigV4 signature
 * verified ("SigV4") and every answer shaped like AWS's restJson1.
 *
 * The server speaks HTTP/1.1 straight over a `Deno.listen` socket rather than
 * through `Deno.serve`, because tests need what an HTTP framework hides: a
 * connection closed with no response at all, and stream bytes cut into socket
 * writes at chosen offsets.
 *
 * ```ts
 * await using fake = startFakeLambdaApi({
 *   functions: [{ name: "echo", aliases: ["live"], handler: (event) => ({ kind: "result", value: event }) }],
 *   credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
 *   region: "us-east-1",
 * });
 * const client = new LambdaClient({ endpoint: fake.url, region: "us-east-1", credentials });
 * ```
 *
 * @module
 */

import {
  encodeException,
  encodeInvokeComplete,
  encodePayloadChunk,
  type InvokeCompleteEvent,
  WriteCutter,
  type WritePlan,
} from "./event_stream.ts";
import { type SigV4Credentials, verifySigV4 } from "./sigv4_verifier.ts";
import { framingOf, Http1Reader } from "../../lib/invoke/http1_reader.ts";
import { concatBytes } from "../../lib/bytes.ts";

/** Largest synchronous request and buffered response Lambda accepts (6 MB). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * Lambda's service errors (docs/wire-format.md, "The Invoke API"), and the auth errors in front of them: HTTP status,
 * fault `Type`, and whether the model names the message member `Message` or
 * `message` (as `@aws-sdk/client-lambda`'s exception classes do).
 */
export const SERVICE_ERRORS: Readonly<
  Record<string, { status: number; type: "User" | "Service"; messageKey: "Message" | "message" }>
> = {
  InvalidParameterValueException: { status: 400, type: "User", messageKey: "message" },
  InvalidRequestContentException: { status: 400, type: "User", messageKey: "message" },
  ValidationException: { status: 400, type: "User", messageKey: "message" },
  AccessDeniedException: { status: 403, type: "User", messageKey: "Message" },
  EFSMountFailureException: { status: 403, type: "User", messageKey: "Message" },
  InvalidSignatureException: { status: 403, type: "User", messageKey: "message" },
  UnrecognizedClientException: { status: 403, type: "User", messageKey: "message" },
  ResourceNotFoundException: { status: 404, type: "User", messageKey: "Message" },
  EFSMountConnectivityException: { status: 408, type: "User", messageKey: "Message" },
  EFSMountTimeoutException: { status: 408, type: "User", messageKey: "Message" },
  SnapStartTimeoutException: { status: 408, type: "User", messageKey: "Message" },
  ResourceConflictException: { status: 409, type: "User", messageKey: "message" },
  EFSIOException: { status: 410, type: "User", messageKey: "Message" },
  RequestTooLargeException: { status: 413, type: "User", messageKey: "message" },
  UnsupportedMediaTypeException: { status: 415, type: "User", messageKey: "message" },
  TooManyRequestsException: { status: 429, type: "User", messageKey: "message" },
  ServiceException: { status: 500, type: "Service", messageKey: "Message" },
  EC2AccessDeniedException: { status: 502, type: "Service", messageKey: "Message" },
  EC2ThrottledException: { status: 502, type: "Service", messageKey: "Message" },
  EC2UnexpectedException: { status: 502, type: "Service", messageKey: "Message" },
  ENILimitReachedException: { status: 502, type: "Service", messageKey: "Message" },
  InvalidRuntimeException: { status: 502, type: "Service", messageKey: "Message" },
  InvalidSecurityGroupIDException: { status: 502, type: "Service", messageKey: "Message" },
  InvalidSubnetIDException: { status: 502, type: "Service", messageKey: "Message" },
  InvalidZipFileException: { status: 502, type: "Service", messageKey: "Message" },
  KMSAccessDeniedException: { status: 502, type: "Service", messageKey: "Message" },
  KMSDisabledException: { status: 502, type: "Service", messageKey: "Message" },
  KMSInvalidStateException: { status: 502, type: "Service", messageKey: "Message" },
  KMSNotFoundException: { status: 502, type: "Service", messageKey: "Message" },
  ResourceNotReadyException: { status: 502, type: "Service", messageKey: "message" },
  SubnetIPAddressLimitReachedException: { status: 502, type: "Service", messageKey: "Message" },
};

/** A chunk a streaming outcome emits; strings are sent as UTF-8. */
export type FakeChunk = Uint8Array | string;

/** What one invocation does. Handlers return one; {@linkcode FakeLambdaApi.enqueue} queues them. */
export type FakeOutcome =
  /** 200 with the value as the payload: a `Uint8Array` is sent as is, anything else as JSON. */
  | { kind: "result"; value: unknown; executedVersion?: string }
  /** 200 + `X-Amz-Function-Error` + a Node-style error object `{errorType, errorMessage, trace}`. */
  | {
    kind: "functionError";
    errorMessage: string;
    /** Default `Error`. */
    errorType?: string;
    /** Default `["<errorType>: <errorMessage>"]`. */
    trace?: string[];
    /** Default `Unhandled`, what current Lambda sends for uncaught exceptions. */
    functionError?: "Handled" | "Unhandled";
  }
  /** A service error by name (see {@linkcode SERVICE_ERRORS}); unknown names need a `status`. */
  | {
    kind: "serviceError";
    name: string;
    status?: number;
    message?: string;
    /** `TooManyRequestsException` only; default `ReservedFunctionConcurrentInvocationLimitExceeded`. */
    reason?: string;
    /** Sent as the `Retry-After` header. */
    retryAfterSeconds?: number;
  }
  /** Waits, then does `then`; the wait ends early when the fake closes. */
  | { kind: "delay"; ms: number; then: FakeOutcome }
  /** Closes the connection without sending a byte of response. */
  | { kind: "reset" }
  /**
   * A response stream: one `PayloadChunk` per chunk, then `InvokeComplete`.
   * Through plain `Invoke` the chunks are concatenated into one buffered payload.
   */
  | {
    kind: "stream";
    /** Async iterables let a test release chunks one by one. */
    chunks: Iterable<FakeChunk> | AsyncIterable<FakeChunk>;
    /**
     * `InvokeComplete` members (an `ErrorCode` reports a mid-stream failure); `"omit"` ends without it;
     * `{exception}` ends with an event-stream exception frame instead.
     */
    complete?: InvokeCompleteEvent | "omit" | { exception: string; message?: string };
    /** Overrides the function's {@linkcode FakeStreaming} settings for this invocation. */
    contentType?: string;
    writes?: WritePlan;
    delayMs?: number;
    /** Close the connection after the last write instead of ending the chunked body. */
    resetAtEnd?: boolean;
  };

/** What a handler learns about its invocation besides the event. */
export interface FakeContext {
  /** The fake function's plain name. */
  functionName: string;
  /** Qualifier invoked: `$LATEST`, a version or an alias. */
  qualifier: string;
  /** Request headers as received. */
  headers: Headers;
  operation: FakeOperation;
  /** The invocation's request id (the function's `awsRequestId`), answered as `x-amzn-RequestId`. */
  requestId: string;
}

/** How a function's response streams are sent, unless an outcome says otherwise. */
export interface FakeStreaming {
  /** Response `Content-Type`; default `application/octet-stream`. */
  contentType?: string;
  /** How frames are cut into socket writes; default one write per frame. */
  writes?: WritePlan;
  /** Pause between socket writes, in milliseconds; default 0. */
  delayMs?: number;
}

/** One function the fake knows. */
export interface FakeFunction {
  /** Plain function name. */
  name: string;
  /** Valid aliases; a record maps each alias to the version it reports as `X-Amz-Executed-Version`. */
  aliases?: readonly string[] | Readonly<Record<string, string>>;
  /** Published versions besides `$LATEST`. */
  versions?: readonly string[];
  /** Decides each invocation; a throw becomes an `Unhandled` function error named after the thrown error. */
  handler: (event: unknown, ctx: FakeContext) => FakeOutcome | Promise<FakeOutcome>;
  streaming?: FakeStreaming;
}

/** Options of {@linkcode startFakeLambdaApi}. */
export interface FakeLambdaApiOptions {
  functions: readonly FakeFunction[];
  /** Keys accepted; requests signed with anything else are refused. */
  credentials: SigV4Credentials | readonly SigV4Credentials[];
  region: string;
  /** Account in ARNs; default `123456789012`. */
  accountId?: string;
  /** Listen port; default 0 (ephemeral). */
  port?: number;
}

/** The two operations the fake serves. */
export type FakeOperation = "Invoke" | "InvokeWithResponseStream";

/** One request as the fake received it, recorded before any answer. */
export interface RecordedRequest {
  method: string;
  /** Wire path, still percent-encoded. */
  path: string;
  /** Wire query without `?`. */
  query: string;
  /** `null` for an unknown route. */
  operation: FakeOperation | null;
  /** `{FunctionName}` path parameter, percent-decoded, as the client sent it. */
  functionName: string | null;
  /** `Qualifier` query parameter, or `null` when absent. */
  qualifier: string | null;
  headers: Headers;
  signatureValid: boolean;
  body: Uint8Array;
}

/** A running fake; close it with `await using` or {@linkcode FakeLambdaApi.close}. */
export interface FakeLambdaApi extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint` option. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Queues outcomes for the next invocations of `functionName`, used before its handler is asked. */
  enqueue(functionName: string, ...outcomes: FakeOutcome[]): void;
  /** Stops listening, cuts open connections and waits for their tasks to finish. */
  close(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const STREAM_PATH = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations$/;
// docs/wire-format.md, "The Invoke API": current pattern (ISO partitions, $LATEST.PUBLISHED).
const FUNCTION_NAME =
  /^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?(?:(?<account>\d{12}):)?(?:function:)?(?<name>[a-zA-Z0-9_.-]+)(?::(?<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$/;
const MAX_HEAD_BYTES = 64 * 1024;
// Bodies above this are not read at all; the 6 MB rule is checked on what was read.
const MAX_READ_BYTES = 4 * MAX_PAYLOAD_BYTES;
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
};

/** An HTTP request parsed off the socket. */
interface WireRequest {
  method: string;
  path: string;
  query: string;
  headers: Headers;
  body: Uint8Array;
  keepAlive: boolean;
}

/** A buffered HTTP response. */
interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What the connection loop does next. */
type Answer =
  | { kind: "reply"; reply: Reply }
  | { kind: "reset" }
  | {
    kind: "stream";
    headers: Record<string, string>;
    frames: AsyncIterable<Uint8Array>;
    writes: WritePlan;
    delayMs: number;
    resetAtEnd: boolean;
  };

const encoder = new TextEncoder();

function jsonReply(status: number, headers: Record<string, string>, body: unknown): Reply {
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: encoder.encode(JSON.stringify(body)),
  };
}

/**
 * A restJson1 service error: name in `x-amzn-ErrorType`, body
 * `{"Type", "Message"|"message"}`; `TooManyRequestsException` puts `Reason`
 * first and may add `Retry-After`, as Lambda does (docs/wire-format.md, "The Invoke API").
 */
function serviceErrorReply(outcome: Extract<FakeOutcome, { kind: "serviceError" }>): Reply {
  const known = SERVICE_ERRORS[outcome.name];
  const status = outcome.status ?? known?.status;
  if (status === undefined) {
    throw new TypeError(`Cannot answer service error: ${outcome.name} is unknown and has no status`);
  }
  const type = known?.type ?? (status >= 500 ? "Service" : "User");
  const headers: Record<string, string> = { "x-amzn-errortype": outcome.name };
  if (outcome.retryAfterSeconds !== undefined) headers["retry-after"] = String(outcome.retryAfterSeconds);
  if (outcome.name === "TooManyRequestsException") {
    return jsonReply(status, headers, {
      Reason: outcome.reason ?? "ReservedFunctionConcurrentInvocationLimitExceeded",
      Type: type,
      message: outcome.message ?? "Rate Exceeded.",
    });
  }
  const message = outcome.message ?? outcome.name;
  return jsonReply(status, headers, { Type: type, [known?.messageKey ?? "message"]: message });
}

function authErrorReply(name: string, message: string): Reply {
  return jsonReply(403, { "x-amzn-errortype": name }, { message });
}

function toBytes(chunk: FakeChunk): Uint8Array {
  return typeof chunk === "string" ? encoder.encode(chunk) : chunk;
}

async function* iterate<T>(items: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** `PayloadChunk` frames for `chunks`, then `InvokeComplete` unless it is omitted. */
async function* streamFrames(
  chunks: Iterable<FakeChunk> | AsyncIterable<FakeChunk>,
  complete: Extract<FakeOutcome, { kind: "stream" }>["complete"],
): AsyncGenerator<Uint8Array> {
  for await (const chunk of iterate(chunks)) yield encodePayloadChunk(toBytes(chunk));
  if (complete === "omit") return;
  if (complete !== undefined && "exception" in complete) {
    yield encodeException(complete.exception, complete.message ?? complete.exception);
  } else yield encodeInvokeComplete(complete ?? {});
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

async function readRequest(reader: Http1Reader, conn: Deno.Conn): Promise<WireRequest | null> {
  reader.reset();
  const head = await reader.readHead(MAX_HEAD_BYTES);
  if (head === null) return null;
  const [method = "", target = "", version = ""] = head.startLine.split(" ");
  const headers = new Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  if (headers.get("expect")?.toLowerCase() === "100-continue") {
    await writeAll(conn, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
  }
  const body = await reader.readBody(framingOf(head.headers), MAX_READ_BYTES);
  const q = target.indexOf("?");
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  return {
    method,
    path: q === -1 ? target : target.slice(0, q),
    query: q === -1 ? "" : target.slice(q + 1),
    headers,
    body,
    keepAlive: version === "HTTP/1.1" ? !connection.includes("close") : connection.includes("keep-alive"),
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function responseHead(status: number, headers: Record<string, string>): Uint8Array {
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

/** Node-style error object, as the Node runtime reports an uncaught exception. */
function errorPayload(outcome: Extract<FakeOutcome, { kind: "functionError" }>): Uint8Array {
  const errorType = outcome.errorType ?? "Error";
  return encoder.encode(JSON.stringify({
    errorType,
    errorMessage: outcome.errorMessage,
    trace: outcome.trace ?? [`${errorType}: ${outcome.errorMessage}`],
  }));
}

function thrownToOutcome(error: unknown): FakeOutcome {
  if (error instanceof Error) {
    return {
      kind: "functionError",
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? `${error.name}: ${error.message}`).split("\n"),
    };
  }
  return { kind: "functionError", errorType: "Error", errorMessage: String(error) };
}

/**
 * Starts the fake on `127.0.0.1`. Per request, in order:
 * 1. route (`POST` Invoke / InvokeWithResponseStream; anything else 404 `UnknownOperationException`);
 * 2. SigV4 check → 403 `InvalidSignatureException` / `UnrecognizedClientException`;
 * 3. payload over 6 MB → 413 `RequestTooLargeException`;
 * 4. resolve the function name and qualifier → 404 `ResourceNotFoundException`;
 * 5. `X-Amz-Invocation-Type`: `Event` → 202 (handler still called), `DryRun` → 204;
 * 6. body must be JSON (empty body → `null` event) → else 400 `InvalidRequestContentException`;
 * 7. take the next queued outcome, else ask the handler, and answer it.
 */
export function startFakeLambdaApi(options: FakeLambdaApiOptions): FakeLambdaApi {
  const credentials: readonly SigV4Credentials[] = Array.isArray(options.credentials)
    ? options.credentials
    : [options.credentials as SigV4Credentials];
  const accountId = options.accountId ?? "123456789012";
  const functions = new Map(options.functions.map((fn) => [fn.name, fn]));
  const queues = new Map<string, FakeOutcome[]>();
  const requests: RecordedRequest[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const port = listener.addr.port;
  const stopping = new AbortController();
  const connections = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();

  function track(task: Promise<void>): void {
    tasks.add(task);
    task.finally(() => tasks.delete(task));
  }

  function arn(name: string, qualifier: string | undefined): string {
    return `arn:aws:lambda:${options.region}:${accountId}:function:${name}${
      qualifier ? `:${qualifier}` : ""
    }`;
  }

  /** Resolves FunctionName + `?Qualifier=` to a function and the version it runs, or an error reply. */
  function resolve(
    functionName: string,
    queryQualifier: string | null,
  ): { fn: FakeFunction; qualifier: string; executedVersion: string } | Reply {
    const parsed = FUNCTION_NAME.exec(functionName)?.groups;
    if (parsed === undefined || parsed.name === undefined) {
      return serviceErrorReply({
        kind: "serviceError",
        name: "ValidationException",
        message:
          `1 validation error detected: Value '${functionName}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME.source}`,
      });
    }
    const fromName = parsed.qualifier;
    const fromQuery = queryQualifier || undefined;
    if (fromName !== undefined && fromQuery !== undefined && fromName !== fromQuery) {
      return serviceErrorReply({
        kind: "serviceError",
        name: "InvalidParameterValueException",
        message: "The derived qualifier from the function name does not match the specified qualifier.",
      });
    }
    const qualifier = fromName ?? fromQuery;
    const notFound = (): Reply =>
      serviceErrorReply({
        kind: "serviceError",
        name: "ResourceNotFoundException",
        message: `Function not found: ${arn(parsed.name ?? "", qualifier)}`,
      });
    const fn = functions.get(parsed.name);
    if (fn === undefined) return notFound();
    if ((parsed.region ?? options.region) !== options.region || (parsed.account ?? accountId) !== accountId) {
      return notFound();
    }
    if (qualifier === undefined || qualifier === "$LATEST") {
      return { fn, qualifier: "$LATEST", executedVersion: "$LATEST" };
    }
    if (fn.versions?.includes(qualifier)) return { fn, qualifier, executedVersion: qualifier };
    const aliases = fn.aliases ?? [];
    if (Array.isArray(aliases)) {
      if (aliases.includes(qualifier)) return { fn, qualifier, executedVersion: "$LATEST" };
    } else {
      const version = (aliases as Readonly<Record<string, string>>)[qualifier];
      if (version !== undefined) return { fn, qualifier, executedVersion: version };
    }
    return notFound();
  }

  async function decide(fn: FakeFunction, event: unknown, ctx: FakeContext): Promise<FakeOutcome> {
    const queued = queues.get(fn.name)?.shift();
    if (queued !== undefined) return queued;
    try {
      return await fn.handler(event, ctx);
    } catch (error) {
      return thrownToOutcome(error);
    }
  }

  /** Turns an outcome into an answer for `operation`, after any delays. */
  async function answer(
    outcome: FakeOutcome,
    operation: FakeOperation,
    fn: FakeFunction,
    executedVersion: string,
  ): Promise<Answer> {
    while (outcome.kind === "delay") {
      await sleep(outcome.ms, stopping.signal);
      outcome = outcome.then;
    }
    const versionHeader = { "x-amz-executed-version": executedVersion };
    switch (outcome.kind) {
      case "reset":
        return { kind: "reset" };
      case "serviceError":
        return { kind: "reply", reply: serviceErrorReply(outcome) };
      case "result":
      case "functionError":
        if (operation === "InvokeWithResponseStream") {
          const payload = outcome.kind === "result" ? resultBytes(outcome.value) : undefined;
          return answer(
            {
              kind: "stream",
              chunks: payload === undefined || payload.length === 0 ? [] : [payload],
              complete: outcome.kind === "result"
                ? {}
                : { ErrorCode: outcome.errorType ?? "Error", ErrorDetails: outcome.errorMessage },
            },
            operation,
            fn,
            outcome.kind === "result" ? outcome.executedVersion ?? executedVersion : executedVersion,
          );
        }
        if (outcome.kind === "functionError") {
          return {
            kind: "reply",
            reply: {
              status: 200,
              headers: {
                "content-type": "application/json",
                ...versionHeader,
                "x-amz-function-error": outcome.functionError ?? "Unhandled",
              },
              body: errorPayload(outcome),
            },
          };
        }
        return bufferedResult(resultBytes(outcome.value), outcome.executedVersion ?? executedVersion);
      case "stream": {
        const streaming = fn.streaming ?? {};
        if (operation === "Invoke") {
          const parts: Uint8Array[] = [];
          for await (const chunk of iterate(outcome.chunks)) parts.push(toBytes(chunk));
          const given = outcome.complete ?? {};
          const complete: InvokeCompleteEvent = given === "omit"
            ? {}
            : "exception" in given
            ? { ErrorCode: given.exception, ErrorDetails: given.message ?? "" }
            : given;
          if (complete.ErrorCode !== undefined) {
            return answer(
              {
                kind: "functionError",
                errorType: complete.ErrorCode,
                errorMessage: complete.ErrorDetails ?? "",
              },
              operation,
              fn,
              executedVersion,
            );
          }
          return bufferedResult(concatBytes(parts), executedVersion);
        }
        return {
          kind: "stream",
          headers: {
            "content-type": outcome.contentType ?? streaming.contentType ?? "application/octet-stream",
            ...versionHeader,
          },
          frames: streamFrames(outcome.chunks, outcome.complete),
          writes: outcome.writes ?? streaming.writes ?? "frame",
          delayMs: outcome.delayMs ?? streaming.delayMs ?? 0,
          resetAtEnd: outcome.resetAtEnd ?? false,
        };
      }
    }
  }

  function resultBytes(value: unknown): Uint8Array {
    return value instanceof Uint8Array ? value : encoder.encode(JSON.stringify(value) ?? "null");
  }

  /** 200 with the payload, or Lambda's oversized-response function error past 6 MB. */
  function bufferedResult(payload: Uint8Array, executedVersion: string): Answer {
    const headers = { "content-type": "application/json", "x-amz-executed-version": executedVersion };
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return {
        kind: "reply",
        reply: jsonReply(200, { ...headers, "x-amz-function-error": "Unhandled" }, {
          errorMessage:
            `Response payload size (${payload.length} bytes) exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`,
          errorType: "Function.ResponseSizeTooLarge",
        }),
      };
    }
    return { kind: "reply", reply: { status: 200, headers, body: payload } };
  }

  async function handle(request: WireRequest): Promise<Answer> {
    const invoke = INVOKE_PATH.exec(request.path);
    const stream = invoke === null ? STREAM_PATH.exec(request.path) : null;
    const operation: FakeOperation | null = request.method !== "POST"
      ? null
      : invoke !== null
      ? "Invoke"
      : stream !== null
      ? "InvokeWithResponseStream"
      : null;
    const segment = (invoke ?? stream)?.[1];
    let functionName: string | null = null;
    try {
      functionName = segment === undefined ? null : decodeURIComponent(segment);
    } catch {
      functionName = segment ?? null;
    }
    const queryQualifier = new URLSearchParams(request.query).get("Qualifier");
    const verdict = await verifySigV4(request, credentials, { region: options.region, service: "lambda" });
    requests.push({
      method: request.method,
      path: request.path,
      query: request.query,
      operation,
      functionName,
      qualifier: queryQualifier,
      headers: request.headers,
      signatureValid: verdict.valid,
      body: request.body,
    });

    if (!verdict.valid) {
      // Like AWS, a mismatch shows the canonical request and string to sign the server computed.
      const message = verdict.canonicalRequest === undefined ? verdict.message : `${verdict.message}\n\n` +
        `The Canonical String for this request should have been\n'${verdict.canonicalRequest}'\n\n` +
        `The String-to-Sign should have been\n'${verdict.stringToSign}'\n`;
      return { kind: "reply", reply: authErrorReply(verdict.errorType, message) };
    }
    if (operation === null || functionName === null) {
      return {
        kind: "reply",
        reply: jsonReply(404, { "x-amzn-errortype": "UnknownOperationException" }, { message: null }),
      };
    }
    if (request.body.length > MAX_PAYLOAD_BYTES) {
      return {
        kind: "reply",
        reply: serviceErrorReply({
          kind: "serviceError",
          name: "RequestTooLargeException",
          message: `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the ${
            operation === "Invoke" ? "InvokeFunction" : operation
          } operation`,
        }),
      };
    }
    const resolved = resolve(functionName, queryQualifier);
    if ("status" in resolved) return { kind: "reply", reply: resolved };
    const { fn, qualifier, executedVersion } = resolved;

    const invocationType = request.headers.get("x-amz-invocation-type") ?? "RequestResponse";
    if (!["RequestResponse", "Event", "DryRun"].includes(invocationType)) {
      return {
        kind: "reply",
        reply: serviceErrorReply({
          kind: "serviceError",
          name: "InvalidParameterValueException",
          message: `Unsupported invocation type ${invocationType}`,
        }),
      };
    }
    if (invocationType === "DryRun") {
      return { kind: "reply", reply: { status: 204, headers: {}, body: new Uint8Array() } };
    }

    let event: unknown = null;
    if (request.body.length > 0) {
      try {
        event = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(request.body));
      } catch (error) {
        return {
          kind: "reply",
          reply: serviceErrorReply({
            kind: "serviceError",
            name: "InvalidRequestContentException",
            message: `Could not parse request body into json: ${
              error instanceof Error ? error.message : error
            }`,
          }),
        };
      }
    }
    const requestId = crypto.randomUUID();
    const ctx: FakeContext = {
      functionName: fn.name,
      qualifier,
      headers: request.headers,
      operation,
      requestId,
    };
    if (invocationType === "Event") {
      track(decide(fn, event, ctx).then(() => {}));
      return { kind: "reply", reply: { status: 202, headers: {}, body: new Uint8Array() } };
    }
    // As Lambda: a synchronous invocation's x-amzn-RequestId is the id the function ran with.
    const answered = await answer(await decide(fn, event, ctx), operation, fn, executedVersion);
    if (answered.kind === "reply") answered.reply.headers["x-amzn-requestid"] = requestId;
    else if (answered.kind === "stream") answered.headers["x-amzn-requestid"] = requestId;
    return answered;
  }

  /** Writes a streamed answer as a chunked body, one HTTP chunk per planned socket write. */
  async function writeStream(
    conn: Deno.Conn,
    reply: Extract<Answer, { kind: "stream" }>,
    keepAlive: boolean,
  ) {
    await writeAll(
      conn,
      responseHead(200, {
        "x-amzn-requestid": crypto.randomUUID(),
        ...reply.headers,
        "transfer-encoding": "chunked",
        "connection": keepAlive && !reply.resetAtEnd ? "keep-alive" : "close",
      }),
    );
    const cutter = new WriteCutter(reply.writes);
    let first = true;
    for await (const frame of reply.frames) {
      for (const write of cutter.cut(frame)) {
        if (!first) await sleep(reply.delayMs, stopping.signal);
        first = false;
        if (stopping.signal.aborted) return false;
        await writeAll(
          conn,
          concatBytes([encoder.encode(`${write.length.toString(16)}\r\n`), write, encoder.encode("\r\n")]),
        );
      }
    }
    if (reply.resetAtEnd) return false;
    await writeAll(conn, encoder.encode("0\r\n\r\n"));
    return keepAlive;
  }

  async function serveConnection(conn: Deno.Conn): Promise<void> {
    const reader = new Http1Reader(conn);
    try {
      for (;;) {
        const request = await readRequest(reader, conn);
        if (request === null || stopping.signal.aborted) return;
        const result = await handle(request);
        if (stopping.signal.aborted || result.kind === "reset") return;
        if (result.kind === "stream") {
          if (!(await writeStream(conn, result, request.keepAlive))) return;
          continue;
        }
        const { status, headers, body } = result.reply;
        await writeAll(
          conn,
          concatBytes([
            responseHead(status, {
              "x-amzn-requestid": crypto.randomUUID(),
              ...headers,
              "content-length": String(body.length),
              "connection": request.keepAlive ? "keep-alive" : "close",
            }),
            body,
          ]),
        );
        if (!request.keepAlive) return;
      }
    } catch {
      // A peer that goes away or sends garbage only ends its own connection.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed by close().
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections.add(conn);
        track(serveConnection(conn));
      }
    } catch {
      // The listener was closed.
    }
  })();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      stopping.abort();
      listener.close();
      await accepting;
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Closed meanwhile by its own task.
        }
      }
      while (tasks.size > 0) await Promise.allSettled([...tasks]);
    })();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    enqueue(functionName, ...outcomes) {
      if (!functions.has(functionName)) {
        throw new RangeError(`Cannot enqueue outcomes: no function named ${functionName}`);
      }
      queues.set(functionName, [...(queues.get(functionName) ?? []), ...outcomes]);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
