/**
 * How the Invoke API's failures become lrp's errors: the service errors of
 * lrp's direct Invoke path, shaped as the SDK shapes them, and the mapping of
 * every SDK or service failure to an {@linkcode LrpError} for the client.
 *
 * @module
 */

import { LrpError } from "../errors.ts";

/** A service error of the Invoke API, shaped as the SDK shapes them (name, `$metadata`, `retryAfterSeconds`). */
export class AwsServiceError extends Error {
  /** HTTP status, as the SDK reports it. */
  readonly $metadata: { httpStatusCode: number };
  /** `Retry-After` of a throttling answer. */
  readonly retryAfterSeconds: string | undefined;
  /** Creates the error. */
  constructor(name: string, message: string, status: number, retryAfter: string | undefined) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
    this.retryAfterSeconds = retryAfter;
  }
}

/** The name of a thrown error (`TooManyRequestsException`, …), or `""`. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : "";
}

const AUTH_REJECTED = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "MissingAuthenticationToken",
]);

/**
 * Maps an SDK failure to lrp's error for the client (docs/wire-format.md, "The Invoke API"). The
 * SDK's own message goes into the private detail.
 */
export function toAwsLrpError(err: unknown, target: string, region: string, endpointUrl: string): LrpError {
  const name = errorName(err);
  const message = err instanceof Error ? err.message : String(err);
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  const status = meta?.httpStatusCode;
  const detail = `${name}: ${message}`;
  const opts = { detail, cause: err };
  if (name === "ResourceNotFoundException") {
    return new LrpError(
      "function_not_found",
      `Cannot invoke "${target}": no such function${inRegion(region)}`,
      opts,
    );
  }
  if (name === "TooManyRequestsException") {
    const retryAfter = (err as { retryAfterSeconds?: string }).retryAfterSeconds;
    const seconds = retryAfter && /^\d+$/.test(retryAfter) ? retryAfter : "1";
    return new LrpError("throttled", `Cannot invoke "${target}": Lambda throttled the invocation`, {
      ...opts,
      headers: { "retry-after": seconds },
    });
  }
  if (name === "RequestTooLargeException") {
    return new LrpError(
      "payload_too_large",
      `Cannot invoke "${target}": the event is over Lambda's 6 MB payload limit`,
      opts,
    );
  }
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(message)) {
    return new LrpError(
      "upstream_auth",
      "Cannot sign the Invoke call: no AWS credentials (set AWS_PROFILE or aws_profile, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role)",
      opts,
    );
  }
  if (/region is missing/i.test(message)) {
    return new LrpError(
      "upstream_auth",
      `Cannot invoke "${target}": no AWS region (set region, --region, LRP_REGION or AWS_REGION, or use a full ARN)`,
      opts,
    );
  }
  if (AUTH_REJECTED.has(name)) {
    return new LrpError(
      "upstream_auth",
      `Cannot invoke "${target}": AWS rejected the credentials (${name}); check the access key, secret and session token`,
      opts,
    );
  }
  if (name === "AccessDeniedException" || name === "AccessDenied" || status === 403) {
    return new LrpError(
      "upstream_auth",
      `Cannot invoke "${target}": these credentials lack lambda:InvokeFunction on it`,
      opts,
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  // A connection cut after the status line (a stream's headers) still carries $metadata.
  if (status !== undefined && !(typeof code === "string" && RESET_CODES.has(code))) {
    return new LrpError(
      "upstream_error",
      `Cannot invoke "${target}": the Lambda API answered ${name || `HTTP ${status}`}`,
      opts,
    );
  }
  const where = endpointUrl || (region ? `lambda.${region}.amazonaws.com` : "the Lambda API");
  return new LrpError("upstream_unreachable", `Cannot reach ${where}: ${message}`, opts);
}

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ECONNABORTED"]);

function inRegion(region: string): string {
  return region ? ` in ${region}` : "";
}
