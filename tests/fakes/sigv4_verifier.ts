// deno-lint-ignore-file no-import-prefix -- lrp pins npm deps inline (no import map)
/**
 * Verifies AWS Signature Version 4 on a request as the server received it.
 *
 * The signature is recomputed with Smithy's own `SignatureV4` (the signer the
 * AWS SDK uses) from the received method, wire path, query, the headers named
 * in `SignedHeaders` and the SHA-256 of the received body, then compared with
 * the one in `Authorization`. The client's `x-amz-content-sha256` is never
 * used as the payload hash, so a body changed after signing fails even when
 * that header was left alone. Rules: docs/wire-format.md, "SigV4".
 *
 * @module
 */

import { getCanonicalHeaders, SignatureV4 } from "npm:@smithy/signature-v4@5.7.5";
import { Sha256 } from "npm:@aws-crypto/sha256-js@5.2.0";

// Smithy's request shapes, taken from the signer's own signatures rather than a second pinned package.
type HttpRequest = Parameters<typeof getCanonicalHeaders>[0];
type HeaderBag = ReturnType<typeof getCanonicalHeaders>;
type QueryParameterBag = NonNullable<HttpRequest["query"]>;

/** Static AWS credentials the verifier accepts. */
export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry (and sign) exactly this `x-amz-security-token`. */
  sessionToken?: string | undefined;
}

/** A request exactly as received. */
export interface ReceivedRequest {
  method: string;
  /** Path as on the wire, still percent-encoded once (`/functions/my-fn%3Alive/invocations`). */
  path: string;
  /** Query string as on the wire, without `?` (`""` when none). */
  query: string;
  headers: Headers;
  body: Uint8Array;
}

/** Where the verifier expects requests to be scoped. */
export interface SigV4Scope {
  region: string;
  /** Signing name; `lambda` for Lambda. */
  service: string;
}

/** Why a request was refused, named as AWS names it in `x-amzn-ErrorType`. */
export type SigV4ErrorType = "InvalidSignatureException" | "UnrecognizedClientException";

/** Outcome of {@linkcode verifySigV4}. */
export type SigV4Verdict =
  | { valid: true; accessKeyId: string; canonicalRequest: string; stringToSign: string }
  | {
    valid: false;
    errorType: SigV4ErrorType;
    message: string;
    /** Present once the request got far enough to be recomputed. */
    canonicalRequest?: string;
    stringToSign?: string;
  };

const ALGORITHM = "AWS4-HMAC-SHA256";
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided. " +
  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/** Exposes the protected canonical-request steps of Smithy's signer, so verification reuses them verbatim. */
class VerifyingSigner extends SignatureV4 {
  canonicalRequest(request: HttpRequest, canonicalHeaders: HeaderBag, payloadHash: string): string {
    return this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
  }
  stringToSign(longDate: string, scope: string, canonicalRequest: string): Promise<string> {
    return this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM);
  }
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const hash = new Sha256();
  hash.update(data);
  return toHex(await hash.digest());
}

/** Decodes a wire query into the bag the signer expects; repeated keys become arrays. */
function parseQuery(query: string): QueryParameterBag {
  const bag: Record<string, string | string[]> = {};
  if (query === "") return bag;
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decodeURIComponent(pair.slice(eq + 1));
    const previous = bag[key];
    if (previous === undefined) bag[key] = value;
    else bag[key] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return bag;
}

function refuse(errorType: SigV4ErrorType, message: string): SigV4Verdict {
  return { valid: false, errorType, message };
}

/**
 * Checks the SigV4 `Authorization` header of `request` against the known
 * `credentials` and `scope`.
 *
 * - Missing or malformed `Authorization`, a scope for another date, region or
 *   service, a signed header the request lacks, an unsigned `host` or
 *   `x-amz-date`, or a different signature → `InvalidSignatureException`.
 * - An access key id no credential has, or a wrong or missing session token
 *   → `UnrecognizedClientException`.
 *
 * No clock is read: `x-amz-date` is taken as the signing time, so recorded
 * test vectors verify forever.
 */
export async function verifySigV4(
  request: ReceivedRequest,
  credentials: readonly SigV4Credentials[],
  scope: SigV4Scope,
): Promise<SigV4Verdict> {
  const authorization = request.headers.get("authorization");
  if (authorization === null) return refuse("InvalidSignatureException", "Missing Authentication Token");
  const match = AUTHORIZATION.exec(authorization.trim());
  if (match === null) {
    return refuse("InvalidSignatureException", `Authorization header is not ${ALGORITHM} or is malformed`);
  }
  const [, credential = "", signedHeaderList = "", signature = ""] = match;
  const [accessKeyId = "", shortDate = "", region, service, terminator, ...extra] = credential.split("/");
  const known = credentials.find((c) => c.accessKeyId === accessKeyId);
  if (known === undefined) {
    return refuse("UnrecognizedClientException", "The security token included in the request is invalid.");
  }
  if ((request.headers.get("x-amz-security-token") ?? undefined) !== known.sessionToken) {
    return refuse("UnrecognizedClientException", "The security token included in the request is invalid.");
  }
  const longDate = request.headers.get("x-amz-date") ?? "";
  const date = AMZ_DATE.exec(longDate);
  if (date === null) return refuse("InvalidSignatureException", "Missing or malformed x-amz-date header");
  if (shortDate !== longDate.slice(0, 8)) {
    return refuse(
      "InvalidSignatureException",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${
        longDate.slice(0, 8)
      }'`,
    );
  }
  if (region !== scope.region) {
    return refuse(
      "InvalidSignatureException",
      `Credential should be scoped to a valid region. Expected '${scope.region}'`,
    );
  }
  if (service !== scope.service || terminator !== "aws4_request" || extra.length > 0) {
    return refuse(
      "InvalidSignatureException",
      `Credential should be scoped to correct service: '${scope.service}'`,
    );
  }

  const signedNames = signedHeaderList.split(";");
  for (const required of ["host", "x-amz-date"]) {
    if (!signedNames.includes(required)) {
      return refuse(
        "InvalidSignatureException",
        `'${required}' must be a 'SignedHeader' in the AWS Authorization.`,
      );
    }
  }
  if (signedNames.join(";") !== [...new Set(signedNames)].sort().join(";")) {
    return refuse("InvalidSignatureException", "SignedHeaders must be lower-case, sorted and unique");
  }
  const headers: HeaderBag = {};
  for (const name of signedNames) {
    const value = request.headers.get(name);
    if (value === null) return refuse("InvalidSignatureException", `Signed header '${name}' is missing`);
    headers[name] = value;
  }

  const signer = new VerifyingSigner({
    credentials: { accessKeyId: known.accessKeyId, secretAccessKey: known.secretAccessKey },
    region: scope.region,
    service: scope.service,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  const httpRequest: HttpRequest = {
    method: request.method,
    protocol: "http:",
    hostname: request.headers.get("host") ?? "",
    path: request.path,
    query: parseQuery(request.query),
    headers,
    body: request.body,
  };
  // signableHeaders = what the client signed, so normally-unsignable names it chose to sign still count.
  const canonicalHeaders = getCanonicalHeaders(httpRequest, undefined, new Set(signedNames));
  const payloadHash = await sha256Hex(request.body);
  const canonicalRequest = signer.canonicalRequest(httpRequest, canonicalHeaders, payloadHash);
  const credentialScope = `${shortDate}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = await signer.stringToSign(longDate, credentialScope, canonicalRequest);
  const [, y, mo, d, h, mi, s] = date;
  const signingDate = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  const expected = await signer.sign(stringToSign, { signingDate, signingRegion: scope.region });
  if (expected !== signature) {
    return {
      valid: false,
      errorType: "InvalidSignatureException",
      message: SIGNATURE_MISMATCH,
      canonicalRequest,
      stringToSign,
    };
  }
  return { valid: true, accessKeyId, canonicalRequest, stringToSign };
}
