/**
 * The AWS invoker: calls the Lambda Invoke API (docs/wire-format.md, "The Invoke API") with
 * `@aws-sdk/client-lambda`, and turns every answer into what lrp's
 * {@linkcode Invoker} seam promises.
 *
 * The SDK is loaded with a dynamic `import()` the first time an
 * {@linkcode LambdaClients} pool is created — only configurations with
 * `aws:` rules pay for it. The specifier is a static string, so
 * `deno compile` still bundles it.
 *
 * Credentials, region fallbacks and the endpoint come from the SDK's own
 * default chains (docs/aws.md, "Credentials", "Region", "Endpoint") unless the configuration overrides them;
 * lrp itself reads no environment here.
 *
 * @module
 */

import type * as Sdk from "npm:@aws-sdk/client-lambda@3.1164.0";
import { LrpError } from "../errors.ts";
import { Http1Pool, type Http1Response } from "./http1.ts";
import { invokeStreaming } from "./aws_stream.ts";
import { abortable } from "./local.ts";
import { amzStamp, type Credentials, loadSigner, SigningTemplate } from "./sigv4.ts";
import { AwsServiceError, errorName, toAwsLrpError } from "./aws_errors.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "./types.ts";
import { payloadBytes } from "../wire/payload.ts";
import { AWS_SDK } from "../lazy_packages.ts";

type SdkModule = typeof Sdk;

/** lambda-reverse-proxy's region, used when nothing else names one. */
export const DEFAULT_REGION = "eu-central-1";

/** Loads the SDK (and the signer, used once a client exists); one shared promise so concurrent first calls load it once. */
let sdkPromise: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  // Named, not a literal: a process without aws rules downloads no SDK (lib/lazy_packages.ts).
  return sdkPromise ??= Promise.all([import(AWS_SDK) as Promise<SdkModule>, loadSigner()])
    .then(([sdk]) => sdk);
}

/** Whether anything has asked for the SDK in this process (for tests and start-up checks). */
export function sdkRequested(): boolean {
  return sdkPromise !== undefined;
}

/** Options of a {@linkcode LambdaClients} pool. */
export interface LambdaClientsOptions {
  /** Region for function names without an ARN region; `""` leaves it to the SDK (profile). */
  region: string;
  /** Endpoint override; `""` leaves it to the SDK (`AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL`). */
  endpointUrl: string;
  /** Shared-config profile; `""` leaves it to the SDK (`AWS_PROFILE`). */
  profile: string;
  /** Keep-alive connections per client at most. */
  maxSockets?: number;
  /** Static credentials instead of the SDK's default chain (tests, embedding). */
  credentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }
    | undefined;
}

/**
 * One `LambdaClient` per region, created on first use and reused (each keeps
 * its own keep-alive connection pool), shared by every aws rule.
 */
export class LambdaClients {
  readonly options: LambdaClientsOptions;
  #clients = new Map<string, Promise<Sdk.LambdaClient>>();
  #pools = new Map<string, Http1Pool>();
  #contexts = new Map<string, CachedContext>();
  #closed = false;

  /**
   * Creates the pool and starts loading what its calls need in the
   * background: the signer, and the SDK unless static credentials and a
   * region make it unnecessary for buffered calls ({@linkcode LambdaClients.context}).
   */
  constructor(options: LambdaClientsOptions) {
    this.options = options;
    // Errors, if any, surface on first use.
    if (options.credentials && options.region !== "") loadSigner().catch(() => {});
    else loadSdk().catch(() => {});
  }

  /** The SDK module, for commands. */
  sdk(): Promise<SdkModule> {
    return loadSdk();
  }

  /** The client for `region` (`""`: the SDK's default region chain). */
  client(region: string): Promise<Sdk.LambdaClient> {
    let c = this.#clients.get(region);
    if (!c) {
      c = loadSdk().then(async (sdk) => {
        const maxSockets = this.options.maxSockets ?? 64;
        const config: Sdk.LambdaClientConfig = {
          // lrp retries only what is safe itself (see AwsInvoker); the SDK's
          // retry would repeat timeouts and 5xx after the function may have run.
          maxAttempts: 1,
          requestHandler: {
            httpAgent: { keepAlive: true, maxSockets },
            httpsAgent: { keepAlive: true, maxSockets },
          },
        };
        if (region !== "") config.region = region;
        if (this.options.endpointUrl !== "") config.endpoint = this.options.endpointUrl;
        if (this.options.profile !== "") config.profile = this.options.profile;
        const creds = this.options.credentials;
        if (creds) {
          const { accessKeyId, secretAccessKey, sessionToken } = creds;
          config.credentials = sessionToken
            ? { accessKeyId, secretAccessKey, sessionToken }
            : { accessKeyId, secretAccessKey };
        }
        const client = new sdk.LambdaClient(config);
        if (region !== "") return client;
        // No region from lrp's configuration or the environment: the SDK's chain (the
        // profile's region) decides, and lambda-reverse-proxy's default comes last.
        try {
          await (client.config as unknown as { region: () => Promise<string> }).region();
          return client;
        } catch {
          client.destroy();
          return new sdk.LambdaClient({ ...config, region: DEFAULT_REGION });
        }
      });
      this.#clients.set(region, c);
    }
    return c;
  }

  /** The keep-alive connection pool to the Invoke API endpoint of `region`. */
  pool(region: string): Http1Pool {
    const url = this.options.endpointUrl || `https://lambda.${region}.amazonaws.com`;
    let pool = this.#pools.get(url);
    if (!pool) {
      pool = new Http1Pool(url, { maxIdle: this.options.maxSockets ?? 64 });
      this.#pools.set(url, pool);
    }
    return pool;
  }

  /**
   * What a buffered Invoke call needs for `region` (`""`: the SDK's chain):
   * the resolved region, its connection pool and the credentials. Resolved
   * through the SDK once and then handed out synchronously while the
   * credentials are fresh; from 6 minutes before they expire a refresh runs in
   * the background (the SDK's own providers refresh within 5 minutes of
   * expiry), and in their last minute callers wait for new ones. Failures are
   * not remembered: the next call asks the SDK again.
   */
  context(region: string): InvokeContext | Promise<InvokeContext> {
    const cached = this.#contexts.get(region);
    if (!cached && this.options.credentials && region !== "") {
      return this.#static(region, this.options.credentials);
    }
    if (cached) {
      const now = Date.now();
      if (now < cached.refreshAt) return cached.context;
      if (now < cached.expiresAt) {
        cached.refreshing ??= this.#resolve(region).catch(() => cached.refreshing = undefined);
        return cached.context;
      }
    }
    return this.#resolve(region);
  }

  /**
   * The context of static credentials (the environment's, or given) and a
   * known region: nothing for the SDK to resolve, so it is never loaded for
   * buffered calls. The credentials never expire.
   */
  async #static(region: string, creds: Credentials): Promise<InvokeContext> {
    await loadSigner();
    const context: InvokeContext = { region, pool: this.pool(region), creds, calls: new Map() };
    if (!this.#closed) {
      this.#contexts.set(region, {
        context,
        refreshAt: Infinity,
        expiresAt: Infinity,
        refreshing: undefined,
      });
    }
    return context;
  }

  async #resolve(region: string): Promise<InvokeContext> {
    const config = (await this.client(region)).config as unknown as {
      credentials: () => Promise<Credentials & { expiration?: Date }>;
      region: () => Promise<string>;
    };
    const [creds, resolved] = await Promise.all([config.credentials(), config.region()]);
    const context: InvokeContext = { region: resolved, pool: this.pool(resolved), creds, calls: new Map() };
    const expiry = creds.expiration?.getTime() ?? Infinity;
    if (!this.#closed) {
      this.#contexts.set(region, {
        context,
        refreshAt: expiry - 6 * 60_000,
        expiresAt: expiry - 60_000,
        refreshing: undefined,
      });
    }
    return context;
  }

  /** Destroys every client and its connections; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
    this.#contexts.clear();
    for (const c of this.#clients.values()) {
      try {
        (await c).destroy();
      } catch {
        // a client that failed to build holds nothing
      }
    }
    this.#clients.clear();
  }
}

/** What one buffered Invoke call needs: see {@linkcode LambdaClients.context}. */
export interface InvokeContext {
  /** The region the SDK resolved (the signing region). */
  region: string;
  pool: Http1Pool;
  creds: Credentials;
  /** Each function's (and qualifier's) Invoke call, made once for these credentials. */
  calls: Map<string, InvokeCall>;
}

/** An Invoke call of one function with one set of credentials: its target and its signing template. */
interface InvokeCall {
  /** The request target: path, and `?Qualifier=` when there is one. */
  target: string;
  signer: SigningTemplate;
  /** The header lines before `x-amz-date`. */
  fixed: string;
  /** The `x-amz-security-token` line of temporary credentials, else `""`. */
  token: string;
}

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

interface CachedContext {
  context: InvokeContext;
  /** From here a background refresh starts (epoch ms). */
  refreshAt: number;
  /** From here callers wait for new credentials (epoch ms). */
  expiresAt: number;
  refreshing: Promise<unknown> | undefined;
}

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
