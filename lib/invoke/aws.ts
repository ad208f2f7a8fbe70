/**
 * The AWS invoker: calls the Lambda Invoke API (docs/wire-format.md, "The Invoke API") with
 * `@aws-sdk/client-lambda`, and turns every answer into what lrp's
 * {@linkcode Invoker} seam promises.
 *
 * The clients (`aws_clients.ts`) load the SDK with a dynamic `import()` the
 * first time an {@linkcode LambdaClients} pool is created — only
 * configurations with `aws:` rules pay for it — and give each call its
 * region, credentials and connection pool; this file signs each call with
 * lrp's own SigV4 template and maps every answer. lrp itself reads no
 * environment here.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import type * as Sdk from "npm:@aws-sdk/client-lambda@3.1164.0";
import type { Http1Response } from "../http/client.ts";
import { invokeStreaming } from "./aws_stream.ts";
import { abortable } from "./local.ts";
import { amzStamp, SigningTemplate } from "./sigv4.ts";
import { AwsServiceError, errorName, toAwsLrpError } from "./aws_errors.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "./types.ts";
import { payloadBytes } from "../wire/payload.ts";
import type { InvokeCall, InvokeContext, LambdaClients } from "./aws_clients.ts";

export { DEFAULT_REGION, LambdaClients, sdkRequested } from "./aws_clients.ts";
export type { InvokeContext, LambdaClientsOptions } from "./aws_clients.ts";

/** Different functions called per set of credentials before the call cache starts again. */
const MAX_CALLS = 1024;

function invokeCall(context: InvokeContext, functionName: string, qualifier: string | undefined): InvokeCall {
  const key = qualifier ? `${functionName}:${qualifier}` : functionName;
  let call = context.calls.get(key);
  if (call === undefined) {
    const path = `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
    const signer = new SigningTemplate({
      method: "POST",
      host: context.pool.hostHeader,
      path,
      query: qualifier ? { Qualifier: qualifier } : {},
      headers: { "content-type": CONTENT_TYPE },
      region: context.region,
      service: "lambda",
    }, context.creds);
    // These go into the request head as they are: a line break would start another header line.
    const token = signer.sessionToken;
    if (/[\r\n]/.test(context.creds.accessKeyId + (token ?? ""))) {
      throw new LrpError("upstream_auth", "Cannot invoke: the AWS credentials hold a line break");
    }
    call = {
      target: qualifier ? `${path}?Qualifier=${encodeURIComponent(qualifier)}` : path,
      signer,
      fixed: `content-type: ${CONTENT_TYPE}\r\n`,
      token: token === undefined ? "" : `x-amz-security-token: ${token}\r\n`,
    };
    if (context.calls.size >= MAX_CALLS) context.calls.clear();
    context.calls.set(key, call);
  }
  return call;
}

const CONTENT_TYPE = "application/octet-stream";

/** The region inside a full ARN (`arn:aws:lambda:eu-west-1:…`), if any. */
export function arnRegion(functionName: string): string | undefined {
  return /^arn:[^:]*:lambda:([a-z0-9-]+):/.exec(functionName)?.[1];
}

/** Options of an {@linkcode AwsInvoker}. */
export interface AwsInvokerOptions {
  clients: LambdaClients;
  /** Function of the rule, used when the request does not choose one. */
  functionName?: string | undefined;
  qualifier?: string | undefined;
  /** Shown in logs and messages, e.g. `aws my-fn:live`. */
  describe: string;
  /** Extra attempts after `TooManyRequestsException`; default 2. */
  throttleRetries?: number;
  /** Waits before each retry, ms; tests shorten them. Default 50, 200 (plus up to 50% jitter). */
  retryDelaysMs?: readonly number[];
  /** `RESPONSE_STREAM` calls `InvokeWithResponseStream` and streams the body; default `BUFFERED`. */
  invokeMode?: "BUFFERED" | "RESPONSE_STREAM" | undefined;
}

/**
 * Invokes functions through the Lambda Invoke API (`RequestResponse`).
 *
 * - `X-Amz-Function-Error` → `functionError` (the handler answers 502).
 * - `ResourceNotFoundException` → 502 `function_not_found` naming the function.
 * - `TooManyRequestsException` is retried (Lambda throttles before the
 *   function runs, so a retry cannot run it twice), then → 429 `throttled`
 *   with `Retry-After` from Lambda's answer (else 1). Nothing else is retried.
 * - `RequestTooLargeException` → 413 `payload_too_large`.
 * - Missing credentials or region, rejected credentials, missing permission
 *   → 502 `upstream_auth` saying what is missing.
 * - An abort (client gone, upstream timeout) rejects with the signal's reason.
 * - With `invokeMode: RESPONSE_STREAM`, `InvokeWithResponseStream` instead
 *   (see `aws_stream.ts`): the result's body is a stream.
 */
export class AwsInvoker implements Invoker {
  readonly describe: string;
  #options: AwsInvokerOptions;

  /** Creates an invoker over a shared client pool. */
  constructor(options: AwsInvokerOptions) {
    this.#options = options;
    this.describe = options.describe;
    // Response streaming decodes event streams with the SDK: load it now, not on the first request.
    if (options.invokeMode === "RESPONSE_STREAM") options.clients.sdk().catch(() => {});
  }

  /** Invokes the function chosen by the request, or the rule's own. */
  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const functionName = request.functionName ?? this.#options.functionName;
    const qualifier = request.functionName !== undefined ? request.qualifier : this.#options.qualifier;
    if (functionName === undefined) {
      throw new LrpError("internal", "Cannot answer: an internal error in lrp (logged as a bug)", {
        detail: "aws rule without a function",
      });
    }
    const target = qualifier ? `${functionName}:${qualifier}` : functionName;
    const { clients } = this.#options;
    const region = arnRegion(functionName) ?? clients.options.region;
    const streaming = this.#options.invokeMode === "RESPONSE_STREAM";
    const delays = this.#options.retryDelaysMs ?? [50, 200];
    const retries = this.#options.throttleRetries ?? 2;
    for (let attempt = 0;; attempt++) {
      try {
        if (streaming) {
          const [sdk, client] = await abortable(
            Promise.all([clients.sdk(), clients.client(region)]),
            request.signal,
          );
          // Event-stream framing is the SDK's to decode; buffered calls take the direct path.
          const input: Sdk.InvokeWithResponseStreamCommandInput = {
            FunctionName: functionName,
            InvocationType: "RequestResponse",
            Payload: payloadBytes(request.payload),
          };
          if (qualifier) input.Qualifier = qualifier;
          const command = new sdk.InvokeWithResponseStreamCommand(input);
          if (request.traceId) addTraceHeader(command, request.traceId);
          return await invokeStreaming(client, command, request.signal, target);
        }
        let context = clients.context(region);
        if (context instanceof Promise) context = await abortable(context, request.signal);
        return invokeAnswer(await sendInvoke(context, functionName, qualifier, request));
      } catch (err) {
        if (request.signal.aborted) throw request.signal.reason;
        if (err instanceof LrpError) throw err;
        const name = errorName(err);
        if (name === "TooManyRequestsException" && attempt < retries) {
          const base = delays[Math.min(attempt, delays.length - 1)] ?? 100;
          await sleep(base * (1 + Math.random() / 2), request.signal);
          continue;
        }
        throw toAwsLrpError(err, target, region, clients.options.endpointUrl);
      }
    }
  }

  /** Nothing to release per rule; the shared pool is closed by its owner. */
  close(): void {}
}

/** Sends `X-Amzn-Trace-Id` with the Invoke call, as Lambda reads it for X-Ray (it is not signed). */
function addTraceHeader(
  command: Sdk.InvokeCommand | Sdk.InvokeWithResponseStreamCommand,
  traceId: string,
) {
  // Both stacks take the same build-step middleware; only their output types differ.
  (command.middlewareStack as Sdk.InvokeCommand["middlewareStack"]).add(
    (next) => (args) => {
      const req = args.request as { headers?: Record<string, string> };
      if (req.headers) req.headers["x-amzn-trace-id"] = traceId;
      return next(args);
    },
    { step: "build", name: "lrpTraceIdHeader" },
  );
}

const decoder = new TextDecoder();

/**
 * One Invoke call (docs/wire-format.md, "The Invoke API") without the SDK's per-call middleware:
 * the SDK still resolves credentials (its default chain, memoized and
 * refreshed) and the region, once per {@linkcode InvokeContext}; lrp signs with SigV4 and sends over its own
 * keep-alive pool. `X-Amzn-Trace-Id` goes along unsigned, as Lambda reads it
 * for X-Ray. Measured in bench/README.md against `client.send(InvokeCommand)`.
 */
function sendInvoke(
  context: InvokeContext,
  functionName: string,
  qualifier: string | undefined,
  request: InvokeRequest,
): Promise<Http1Response> {
  const { pool } = context;
  const call = invokeCall(context, functionName, qualifier);
  const stamp = amzStamp(Date.now());
  const trace = request.traceId;
  if (trace !== undefined && /[\r\n]/.test(trace)) {
    throw new TypeError("Cannot send x-amzn-trace-id: CR or LF");
  }
  // Header lines as they go on the wire (nothing in them can hold CR or LF: checked above and per call).
  const headers = `${call.fixed}x-amz-date: ${stamp}\r\n${call.token}authorization: ${
    call.signer.authorization(request.payload, stamp)
  }\r\n${trace ? `x-amzn-trace-id: ${trace}\r\n` : ""}`;
  return pool.request("POST", call.target, headers, request.payload, request.signal);
}

/**
 * What an Invoke call's answer says: the result of a 2xx, else the
 * service's error (thrown). Apart from {@linkcode sendInvoke}, so that the
 * invoker awaits the exchange itself (one promise and one turn fewer).
 */
function invokeAnswer(res: Http1Response): InvokeResult {
  const header = (name: string) => res.headers.find(([n]) => n === name)?.[1];
  if (res.status >= 200 && res.status < 300) {
    return {
      body: res.body,
      functionError: header("x-amz-function-error"),
      executedVersion: header("x-amz-executed-version"),
      // A synchronous invocation's request id is the function's awsRequestId.
      functionRequestId: header("x-amzn-requestid"),
    };
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(decoder.decode(res.body)) ?? {};
  } catch { /* not JSON: the status alone tells */ }
  const type = (header("x-amzn-errortype") ?? String(body.__type ?? body.code ?? "")).split(":")[0]!.split(
    "#",
  ).at(-1)!;
  const message = String(body.Message ?? body.message ?? `HTTP ${res.status}`);
  throw new AwsServiceError(type, message, res.status, header("retry-after"));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return abortable(new Promise((resolve) => setTimeout(resolve, ms)), signal);
}
