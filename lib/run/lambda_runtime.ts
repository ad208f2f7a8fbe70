/**
 * lrp inside AWS Lambda, behind a Function URL (or CloudFront in front of
 * one): a custom runtime that takes each payload 2.0 event from the Lambda
 * Runtime API, turns it back into a `Request` — the inverse of lrp's own
 * transform — runs it through lrp's handler, and answers with a payload 2.0
 * result. The fujiwara/lamux "run as a Lambda function" mode.
 *
 * Runtime API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 *
 * @module
 */

import type { EventV2, ResultV2 } from "../wire/event.ts";
import type { Logger } from "../obs/log.ts";
import type { Handler } from "../handle/handler.ts";
import { decodeBase64, encodeBase64 } from "../bytes.ts";
import { isTextContentType } from "../wire/request.ts";

/** The Runtime API version path. */
export const RUNTIME_PATH = "/2018-06-01/runtime";

/**
 * Rebuilds the HTTP request a Function URL received from its event: method
 * from `requestContext.http`, URL from `rawPath` and `rawQueryString`,
 * headers as given (Function URLs join repeated headers with `,`), the
 * `cookies` array back into one `Cookie` header, and the body
 * base64-decoded when `isBase64Encoded`.
 *
 * The `Host` is `X-Forwarded-Host` when present (CloudFront in front of a
 * Function URL sends the viewer's host there, since the origin request's
 * Host must be the Function URL's own), else the `host` header, else
 * `requestContext.domainName`: lrp routes on it as usual.
 *
 * The request's `url` is the raw string, as `Deno.serve` hands one over, so
 * `rawPath` reaches the function unchanged (`new Request()` alone would
 * resolve `.`/`..` segments and re-encode characters).
 */
export function eventToRequest(event: EventV2): Request {
  const http = event.requestContext?.http;
  const method = http?.method ?? "GET";
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (typeof value === "string") headers.set(name, value);
  }
  if (event.cookies && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "));
  const host = headers.get("x-forwarded-host")?.split(",")[0]?.trim() || headers.get("host") ||
    event.requestContext?.domainName || "localhost";
  headers.set("host", host);
  const path = event.rawPath || http?.path || "/";
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  let body: BodyInit | null = null;
  if (event.body !== undefined && event.body !== null && method !== "GET" && method !== "HEAD") {
    body = event.isBase64Encoded ? decodeBase64(event.body) as Uint8Array<ArrayBuffer> : event.body;
  }
  const proto = headers.get("x-forwarded-proto") ?? "https";
  const url = `${proto}://${host}${path.startsWith("/") ? "" : "/"}${path}${query}`;
  const request = new Request(url, { method, headers, body });
  Object.defineProperty(request, "url", { value: url });
  return request;
}

/**
 * Turns lrp's response into a payload 2.0 result: `Set-Cookie` headers go to
 * `cookies` (one element each, as Function URLs expect), other headers keep
 * their comma-joined values, and the body is text for the media types AWS
 * passes as text (when it is valid UTF-8), base64 otherwise.
 */
export async function responseToResult(response: Response): Promise<ResultV2> {
  const headers: Record<string, string> = {};
  for (const [name, value] of response.headers) if (name !== "set-cookie") headers[name] = value;
  const result: ResultV2 = { statusCode: response.status, headers };
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) result.cookies = cookies;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length === 0) {
    result.body = "";
    result.isBase64Encoded = false;
    return result;
  }
  if (isTextContentType(response.headers.get("content-type"))) {
    try {
      result.body = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
      result.isBase64Encoded = false;
      return result;
    } catch {
      // not UTF-8: base64 below
    }
  }
  result.body = encodeBase64(bytes);
  result.isBase64Encoded = true;
  return result;
}

/** Options of {@linkcode runLambdaRuntime}. */
export interface RuntimeOptions {
  /** `AWS_LAMBDA_RUNTIME_API`: `host:port` of the Runtime API. */
  api: string;
  handler: Handler;
  log: Logger;
  /** Stops the loop (tests); Lambda itself freezes or kills the process. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/**
 * The custom runtime loop: `GET …/invocation/next`, handle, then `POST
 * …/invocation/{id}/response` with the result, or `…/{id}/error` when the
 * event cannot be handled at all (lrp's own error responses, such as a 404
 * for an unknown host or a 502 for a failed target, are normal results).
 * Resolves when `signal` aborts.
 */
export async function runLambdaRuntime(options: RuntimeOptions): Promise<void> {
  const { api, handler, log, signal } = options;
  const fetchFn = options.fetch ?? fetch;
  const base = `http://${api}${RUNTIME_PATH}`;
  while (!signal?.aborted) {
    let next: Response;
    try {
      next = await fetchFn(`${base}/invocation/next`, signal ? { signal } : {});
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    const id = next.headers.get("lambda-runtime-aws-request-id");
    if (!next.ok || !id) {
      throw new Error(`Cannot get the next invocation: Runtime API answered ${next.status}`);
    }
    let event: EventV2;
    let answer: { path: string; body: unknown; headers: Record<string, string> };
    try {
      event = await next.json();
      const request = eventToRequest(event);
      const sourceIp = event.requestContext?.http?.sourceIp ?? "";
      const response = await handler(request, { remoteAddr: { hostname: sourceIp } });
      answer = { path: `invocation/${id}/response`, body: await responseToResult(response), headers: {} };
    } catch (err) {
      const errorMessage = err instanceof Error ? err.message : String(err);
      const errorType = err instanceof Error ? `lrp.${err.name}` : "lrp.Error";
      log.error("cannot handle the invocation", { awsRequestId: id, error: errorMessage });
      answer = {
        path: `invocation/${id}/error`,
        body: { errorMessage, errorType },
        headers: { "lambda-runtime-function-error-type": errorType },
      };
    }
    const posted = await fetchFn(`${base}/${answer.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...answer.headers },
      body: JSON.stringify(answer.body),
    });
    await posted.body?.cancel();
    if (posted.status >= 400) {
      log.error("the Runtime API refused the answer", { awsRequestId: id, status: posted.status });
    }
  }
}

/** Reports a failed start (e.g. an invalid configuration) to the Runtime API: `POST …/init/error`. */
export async function reportInitError(
  api: string,
  err: unknown,
  fetchFn: typeof fetch = fetch,
): Promise<void> {
  const errorMessage = err instanceof Error ? err.message : String(err);
  const response = await fetchFn(`http://${api}${RUNTIME_PATH}/init/error`, {
    method: "POST",
    headers: { "content-type": "application/json", "lambda-runtime-function-error-type": "lrp.InitError" },
    body: JSON.stringify({ errorMessage, errorType: "lrp.InitError" }),
  });
  await response.body?.cancel();
}
